package store

import (
	"strings"
	"testing"

	"gantry.dev/gantry"
)

func TestValidDigest(t *testing.T) {
	good := gantry.DigestBytes([]byte("x"))
	for d, want := range map[gantry.Digest]bool{
		good:                         true,
		"":                           false,
		good[:70]:                    false,
		good + "0":                   false,
		"sha256:" + good[7:70] + "g": false,
		"sha256:" + gantry.Digest(strings.ToUpper(good.Hex())): false,
		"SHA256:" + good[7:]:            false,
		"sha256:../../../../etc/passwd": false,
	} {
		if got := ValidDigest(d); got != want {
			t.Errorf("ValidDigest(%q) = %v, want %v", d, got, want)
		}
	}
}
