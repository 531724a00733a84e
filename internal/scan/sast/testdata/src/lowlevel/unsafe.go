// Package lowlevel converts without copying.
package lowlevel

import (
	"unsafe"
)

// String views a byte slice as a string without copying.
func String(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b)) // want: G103
}

// Copy converts with a copy.
func Copy(b []byte) string {
	return string(b)
}
