package store

import (
	"strings"
	"testing"
)

func TestValidChangeID(t *testing.T) {
	for id, want := range map[string]bool{
		"pr-12":                 true,
		"3f2a9c1d0b7e":          true,
		"0":                     true,
		"v1.2_rc-3":             true,
		strings.Repeat("a", 64): true,
		"":                      false,
		strings.Repeat("a", 65): false,
		"-pr":                   false,
		".pr":                   false,
		"_pr":                   false,
		"PR-12":                 false,
		"pr/12":                 false,
		"pr 12":                 false,
		"pr:12":                 false,
		"prü":                   false,
		"pr\x00":                false,
	} {
		if got := ValidChangeID(id); got != want {
			t.Errorf("ValidChangeID(%q) = %v, want %v", id, got, want)
		}
	}
}
