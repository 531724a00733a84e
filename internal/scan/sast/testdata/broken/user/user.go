// Package user imports a package that does not type-check.
package user

import "example.com/broken/bad"

// Twice doubles the count.
func Twice() int { return bad.Count * 2 }
