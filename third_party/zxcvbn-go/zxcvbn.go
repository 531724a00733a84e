// Package zxcvbn stands in for github.com/ccojocar/zxcvbn-go in Gantry's
// build. gosec's hard-coded credentials rule (G101) asks it one question,
// how much entropy a candidate string has; the original answers with word
// lists that it decodes when the package initialises, which cost every
// start of the gantry binary some 50 ms. This module answers with an
// estimate that needs no data: characters count their Shannon entropy,
// except that a run of letters that reads like a word counts as one guess
// from a dictionary. That keeps a passphrase made of words from looking
// like a random token, which is the distinction gosec needs.
package zxcvbn

import (
	"math"
	"strings"
	"unicode"
)

// wordBits is what one dictionary word costs to guess: a rank among the
// thousand or so most common words.
const wordBits = 10

// Strength is what PasswordStrength says about a string.
type Strength struct {
	Password string
	// Entropy estimates the bits an attacker must guess.
	Entropy float64
}

// PasswordStrength estimates the entropy of password. userInputs (words
// the password should not be built from) are not used.
func PasswordStrength(password string, userInputs []string) Strength {
	rs := []rune(password)
	if len(rs) == 0 {
		return Strength{}
	}
	perChar := shannon(rs)
	bits := 0.0
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && unicode.IsLetter(rs[j]) {
			j++
		}
		if j-i >= 3 && wordLike(string(rs[i:j])) {
			bits += wordBits
			i = j
			continue
		}
		if j == i {
			j++
		}
		bits += float64(j-i) * perChar
		i = j
	}
	return Strength{Password: password, Entropy: bits}
}

// shannon is the entropy per character of rs, in bits.
func shannon(rs []rune) float64 {
	counts := map[rune]int{}
	for _, r := range rs {
		counts[r]++
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(len(rs))
		h -= p * math.Log2(p)
	}
	return h
}

// wordLike reports whether a run of letters reads like a word: one case
// (or a capital first), vowels in a word's share, no long consonant runs.
func wordLike(w string) bool {
	lower := strings.ToLower(w)
	if lower != w && strings.ToLower(w[1:]) != w[1:] {
		return false // mixed case inside: random
	}
	vowels, run, maxRun := 0, 0, 0
	for _, r := range lower {
		if strings.ContainsRune("aeiouy", r) {
			vowels++
			run = 0
			continue
		}
		run++
		maxRun = max(maxRun, run)
	}
	share := float64(vowels) / float64(len(lower))
	return share >= 0.25 && share <= 0.65 && maxRun <= 3
}
