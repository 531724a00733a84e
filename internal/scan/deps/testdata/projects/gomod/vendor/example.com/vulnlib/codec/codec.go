// Package codec is a fixture package whose Decode is vulnerable
// (GO-2099-0002) and whose Encode is not.
package codec

// Encode is not vulnerable.
func Encode(s string) string { return s }

// Decode is vulnerable.
func Decode(s string) string { return s }
