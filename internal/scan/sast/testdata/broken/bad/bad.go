// Package bad does not type-check.
package bad

import "math/rand"

// Count is declared with the wrong type.
var Count int = "three"

// Token is predictable.
func Token() int { return rand.Int() }
