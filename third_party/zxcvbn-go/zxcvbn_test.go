package zxcvbn

import "testing"

func TestPasswordStrength(t *testing.T) {
	for _, tc := range []struct {
		s        string
		min, max float64
	}{
		{"", 0, 0},
		{"aaaaaaaaaaaaaaaa", 0, 0},
		{"passwordpassword", 30, 50},
		{"Zq8vR2kLm9XtP4wY7nB3cF6hJ1sD5gA0", 150, 170},
	} {
		if got := PasswordStrength(tc.s, nil).Entropy; got < tc.min || got > tc.max {
			t.Errorf("PasswordStrength(%q).Entropy = %.1f, want %.0f to %.0f", tc.s, got, tc.min, tc.max)
		}
	}
}
