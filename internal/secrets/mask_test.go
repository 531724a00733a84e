package secrets

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

func TestMaskerForms(t *testing.T) {
	secret := "s3cr3t/p@ss+word?"
	m := NewMasker(secret)
	forms := map[string]string{
		"plain":         secret,
		"base64":        base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url":     base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64 raw":    base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"query escaped": url.QueryEscape(secret),
		"path escaped":  url.PathEscape(secret),
		"hex":           hex.EncodeToString([]byte(secret)),
		"HEX":           strings.ToUpper(hex.EncodeToString([]byte(secret))),
		"basic auth":    base64.StdEncoding.EncodeToString([]byte("user:" + secret)),
		"offset 2":      base64.StdEncoding.EncodeToString([]byte("ab" + secret + "tail")),
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			line := "before " + form + " after"
			got := m.Mask(line)
			if !strings.Contains(got, Redacted) {
				t.Fatalf("Mask(%q) = %q: nothing masked", line, got)
			}
			if leaks(got, secret) {
				t.Fatalf("Mask(%q) = %q still carries the secret", line, got)
			}
		})
	}
}

// leaks reports whether s still decodes to something carrying the secret:
// the plain value, or a base64/hex run that decodes to it.
func leaks(s, secret string) bool {
	if strings.Contains(s, secret) {
		return true
	}
	for _, field := range strings.Fields(s) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(field); err == nil && strings.Contains(string(b), secret) {
				return true
			}
		}
		if b, err := hex.DecodeString(field); err == nil && strings.Contains(string(b), secret) {
			return true
		}
		if u, err := url.QueryUnescape(field); err == nil && strings.Contains(u, secret) {
			return true
		}
	}
	return false
}

func TestMaskerMultiLineAndEmpty(t *testing.T) {
	m := NewMasker("", "line-one\nline-two")
	if got := m.Mask("x line-two y"); got != "x *** y" {
		t.Errorf("multi-line secret line not masked: %q", got)
	}
	var zero *Masker
	if got := zero.Mask("keep"); got != "keep" {
		t.Errorf("nil masker changed text: %q", got)
	}
	if !NewMasker("").Empty() {
		t.Error("masker of an empty value should be empty")
	}
}

func TestMaskerLongestWins(t *testing.T) {
	m := NewMasker("abc", "abcdef")
	if got := m.Mask("xabcdefx"); got != "x***x" {
		t.Errorf("Mask = %q, want the longer secret masked whole", got)
	}
}

func BenchmarkMask(b *testing.B) {
	m := NewMasker("hunter2-password", "another-secret-value", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")
	line := "2026-11-22T10:00:00Z INFO request handled path=/api/items status=200 duration=1.2ms remote=127.0.0.1"
	b.ReportAllocs()
	for b.Loop() {
		m.Mask(line)
	}
}
