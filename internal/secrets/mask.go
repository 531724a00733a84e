// Package secrets holds what Gantry knows about secret values: where they
// come from in local mode, and how they are kept out of every log line; on
// a server, how they are kept write-only and encrypted at rest (Keyring,
// Sealer, Service), or in HashiCorp Vault (Vault, NewVaultService).
package secrets

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// Redacted replaces a secret value, or any encoding of it, in output.
const Redacted = "***"

// minEncoded is the shortest encoded form worth masking: shorter fragments of
// base64 or hex would match ordinary text all over a log.
const minEncoded = 4

// Masker replaces secret values, and their base64, URL-encoded and hex
// forms, with Redacted. The zero Masker masks nothing. A Masker is safe for
// concurrent use once built.
type Masker struct {
	r      *strings.Replacer
	values []string
}

// NewMasker returns a Masker for the given secret values. Empty values are
// ignored; a multi-line value is also masked line by line, since logs are
// masked one line at a time.
func NewMasker(values ...string) *Masker {
	set := map[string]bool{}
	add := func(s string) {
		if s != "" {
			set[s] = true
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		forms := []string{v}
		if strings.ContainsAny(v, "\r\n") {
			forms = append(forms, strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' })...)
		}
		for _, f := range forms {
			add(f)
			for _, e := range encodings(f) {
				if len(e) >= minEncoded {
					add(e)
				}
			}
		}
	}
	m := &Masker{}
	for s := range set {
		m.values = append(m.values, s)
	}
	if len(m.values) == 0 {
		return m
	}
	// Longest first, so that at one position the longest form wins.
	sort.Slice(m.values, func(i, j int) bool {
		if len(m.values[i]) != len(m.values[j]) {
			return len(m.values[i]) > len(m.values[j])
		}
		return m.values[i] < m.values[j]
	})
	pairs := make([]string, 0, 2*len(m.values))
	for _, s := range m.values {
		pairs = append(pairs, s, Redacted)
	}
	m.r = strings.NewReplacer(pairs...)
	return m
}

// encodings returns the forms of v an output may carry: URL-encoded, hex,
// and base64 in its standard and URL alphabets at each of the three byte
// alignments it can have inside a longer encoded text.
func encodings(v string) []string {
	out := []string{
		url.QueryEscape(v),
		url.PathEscape(v),
		hex.EncodeToString([]byte(v)),
		strings.ToUpper(hex.EncodeToString([]byte(v))),
	}
	for shift := 0; shift < 3; shift++ {
		buf := make([]byte, shift+len(v))
		copy(buf[shift:], v)
		// Only the characters whose six bits all come from v are stable,
		// whatever surrounds v.
		start := (8*shift + 5) / 6
		end := 8 * (shift + len(v)) / 6
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(buf)
			if end > start && end <= len(s) {
				out = append(out, s[start:end])
			}
		}
	}
	return out
}

// Mask returns s with every secret form replaced.
func (m *Masker) Mask(s string) string {
	if m == nil || m.r == nil {
		return s
	}
	return m.r.Replace(s)
}

// Empty reports whether m masks nothing.
func (m *Masker) Empty() bool { return m == nil || m.r == nil }
