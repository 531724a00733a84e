// Package zxcvbn stands in for github.com/ccojocar/zxcvbn-go in Gantry's
// build. gosec's hard-coded credentials rule (G101) asks it one question,
// how much entropy a candidate string has; the original answers with word
// lists that it decodes when the package initialises, which cost every
// start of the gantry binary some 50 ms. This module answers with an
// estimate that needs no data: the string's length times its Shannon
// entropy per character, which is what marks a random-looking token out
// from words.
package zxcvbn

import "math"

// Strength is what PasswordStrength says about a string.
type Strength struct {
	Password string
	// Entropy estimates the bits an attacker must guess.
	Entropy float64
}

// PasswordStrength estimates the entropy of password. userInputs (words
// the password should not be built from) are not used.
func PasswordStrength(password string, userInputs []string) Strength {
	if password == "" {
		return Strength{}
	}
	counts := map[rune]int{}
	n := 0
	for _, r := range password {
		counts[r]++
		n++
	}
	perChar := 0.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		perChar -= p * math.Log2(p)
	}
	return Strength{Password: password, Entropy: perChar * float64(n)}
}
