package zxcvbn

import "testing"

func TestPasswordStrength(t *testing.T) {
	for _, tc := range []struct {
		s        string
		min, max float64
	}{
		{"", 0, 0},
		{"aaaaaaaaaaaaaaaa", 0, 10},
		{"passwordpassword", 0, 30},
		{"correct horse battery", 25, 50},
		{"wrong password!", 15, 40},
		{"a long test pass", 0, 47},
		{"Zq8vR2kLm9XtP4wY7nB3cF6hJ1sD5gA0", 150, 170},
		{"ghp_Xk29LmQv81RtZp04WnBy73CsDf56GhJk", 150, 200},
	} {
		if got := PasswordStrength(tc.s, nil).Entropy; got < tc.min || got > tc.max {
			t.Errorf("PasswordStrength(%q).Entropy = %.1f, want %.0f to %.0f", tc.s, got, tc.min, tc.max)
		}
	}
}
