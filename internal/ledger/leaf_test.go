package ledger

import (
	"errors"
	"strings"
	"testing"

	"gantry.dev/gantry"
)

func TestLeafRoundTrip(t *testing.T) {
	d := gantry.DigestBytes([]byte("envelope"))
	for _, l := range []Leaf{
		{KindAttestation, d},
		{KindAudit, d},
		{"x", d},
		{"future-kind-2", d},
		{strings.Repeat("k", maxKind), d},
	} {
		b, err := l.Encode()
		if err != nil {
			t.Fatalf("Encode(%v): %v", l, err)
		}
		if want := "gantry-leaf/v1 " + l.Kind + " " + string(d) + "\n"; string(b) != want {
			t.Errorf("Encode(%v) = %q, want %q", l, b, want)
		}
		got, err := ParseLeaf(b)
		if err != nil {
			t.Fatalf("ParseLeaf(%q): %v", b, err)
		}
		if got != l {
			t.Errorf("ParseLeaf(Encode(%v)) = %v", l, got)
		}
	}
}

func TestLeafMalformed(t *testing.T) {
	d := string(gantry.DigestBytes([]byte("envelope")))
	for name, s := range map[string]string{
		"empty":               "",
		"no newline":          "gantry-leaf/v1 attestation " + d,
		"two newlines":        "gantry-leaf/v1 attestation " + d + "\n\n",
		"CRLF":                "gantry-leaf/v1 attestation " + d + "\r\n",
		"other version":       "gantry-leaf/v2 attestation " + d + "\n",
		"no version":          "attestation " + d + "\n",
		"no digest":           "gantry-leaf/v1 attestation\n",
		"empty kind":          "gantry-leaf/v1  " + d + "\n",
		"uppercase kind":      "gantry-leaf/v1 Attestation " + d + "\n",
		"kind with digit 1st": "gantry-leaf/v1 1x " + d + "\n",
		"kind with space":     "gantry-leaf/v1 at test " + d + "\n",
		"kind too long":       "gantry-leaf/v1 " + strings.Repeat("k", maxKind+1) + " " + d + "\n",
		"uppercase hex":       "gantry-leaf/v1 attestation sha256:" + strings.ToUpper(d[7:]) + "\n",
		"short digest":        "gantry-leaf/v1 attestation " + d[:70] + "\n",
		"other algorithm":     "gantry-leaf/v1 attestation sha512:" + d[7:] + "\n",
		"trailing field":      "gantry-leaf/v1 attestation " + d + " x\n",
		"leading space":       " gantry-leaf/v1 attestation " + d + "\n",
		"double space":        "gantry-leaf/v1 attestation  " + d + "\n",
	} {
		if l, err := ParseLeaf([]byte(s)); !errors.Is(err, ErrMalformedLeaf) {
			t.Errorf("ParseLeaf(%s) = %v, %v; want ErrMalformedLeaf", name, l, err)
		}
	}
	for _, l := range []Leaf{{"", gantry.Digest(d)}, {"Audit", gantry.Digest(d)}, {KindAudit, "sha256:00"}, {KindAudit, ""}} {
		if _, err := l.Encode(); !errors.Is(err, ErrMalformedLeaf) {
			t.Errorf("Encode(%v) = %v, want ErrMalformedLeaf", l, err)
		}
	}
}

// FuzzParseLeaf checks that ParseLeaf does not panic, and that what it
// accepts is exactly the encoding of what it returns: one leaf, one
// encoding.
func FuzzParseLeaf(f *testing.F) {
	d := string(gantry.DigestBytes([]byte("envelope")))
	f.Add([]byte("gantry-leaf/v1 attestation " + d + "\n"))
	f.Add([]byte("gantry-leaf/v1 audit " + d + "\n"))
	f.Add([]byte("gantry-leaf/v1 a-1 " + d + "\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLeaf(data)
		if err != nil {
			return
		}
		b, err := l.Encode()
		if err != nil {
			t.Fatalf("ParseLeaf(%q) = %v, which does not encode: %v", data, l, err)
		}
		if string(b) != string(data) {
			t.Fatalf("ParseLeaf(%q) = %v, which encodes as %q", data, l, b)
		}
	})
}
