package testsbad

import "testing"

func TestRun(t *testing.T) {
	var n int = "one"
	_ = n
}
