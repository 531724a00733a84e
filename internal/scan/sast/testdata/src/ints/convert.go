// Package ints converts between integer sizes.
package ints

import (
	"errors"
	"math"
	"strconv"
)

// Port narrows a parsed int64 without checking its range.
func Port(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return int32(n), nil // want: G115
}

// Count narrows the result of Atoi.
func Count(s string) (int16, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	return int16(n), nil // want: G109 G115
}

// SafePort checks the range before narrowing.
func SafePort(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, errors.New("out of range")
	}
	return int32(n), nil
}

// SafeSize parses straight into the size it needs.
func SafeSize(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return int32(n), nil
}
