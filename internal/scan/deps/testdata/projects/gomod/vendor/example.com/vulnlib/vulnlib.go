// Package vulnlib is a fixture dependency with made-up vulnerabilities.
package vulnlib

// Parse is vulnerable (GO-2099-0001).
func Parse(s string) (string, error) { return s, nil }

// Sanitize is vulnerable (GO-2099-0006).
func Sanitize(s string) string { return s }

// Helper is vulnerable (GO-2099-0007, in the Go database only).
func Helper() string { return "help" }

// Safe is not vulnerable.
func Safe() {}
