package forge

import (
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// checkReviews checks what every review parser promises, whatever it
// was given: one review per reviewer (without case), a login fit to
// store, one of the three states, and a time a store keeps.
func checkReviews(t *testing.T, rs []gantry.Review) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range rs {
		key := strings.ToLower(r.Reviewer)
		if seen[key] {
			t.Fatalf("reviewer %q twice in %v", r.Reviewer, rs)
		}
		seen[key] = true
		if !validLogin(r.Reviewer) {
			t.Fatalf("reviewer %q is not a login", r.Reviewer)
		}
		switch r.State {
		case gantry.ReviewApproved, gantry.ReviewChangesRequested, gantry.ReviewCommented:
		default:
			t.Fatalf("state %q", r.State)
		}
		if !r.At.IsZero() && (r.At.Year() < 2000 || r.At.Year() > 2200 || r.At.Location() != time.UTC) {
			t.Fatalf("time %v", r.At)
		}
	}
}

func FuzzGitHubReviews(f *testing.F) {
	f.Add([]byte(`[{"user":{"login":"bob"},"state":"APPROVED","submitted_at":"2025-03-02T09:00:00+02:00"},{"user":{"login":"bob"},"state":"COMMENTED","submitted_at":"2025-03-02T10:00:00Z"},{"user":null,"state":"APPROVED"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := parseGitHubReviews(body)
		if err != nil {
			return
		}
		checkReviews(t, latestReviews(rs))
	})
}

func FuzzGiteaReviews(f *testing.F) {
	f.Add([]byte(`[{"user":{"username":"alice"},"state":"REQUEST_CHANGES","submitted_at":"2025-03-01T10:00:00Z"},{"user":{"login":"bob"},"state":"APPROVED","dismissed":true}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, n, err := parseGiteaReviews(body)
		if err != nil {
			return
		}
		if len(rs) != n {
			t.Fatalf("%d reviews of a page of %d", len(rs), n)
		}
		checkReviews(t, latestReviews(rs))
	})
}

func FuzzGitLabApprovals(f *testing.F) {
	f.Add([]byte(`{"approved":true,"approved_by":[{"user":{"username":"bob"}},{"user":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := parseGitLabApprovals(body)
		if err != nil {
			return
		}
		got := latestReviews(rs)
		checkReviews(t, got)
		for _, r := range got {
			if r.State != gantry.ReviewApproved || !r.At.IsZero() {
				t.Fatalf("a gitlab approval became %+v", r)
			}
		}
	})
}

// FuzzNextPage checks that a next page is never anywhere but on the API
// the client was given.
func FuzzNextPage(f *testing.F) {
	f.Add(`<https://ghe.example/api/v3/repositories/1/pulls/2/reviews?page=2>; rel="next", <https://ghe.example/api/v3/x?page=9>; rel="last"`)
	f.Add(`<https://ghe.example.evil/api/v3/x>; rel="next"`)
	c, err := NewGitHub(Config{BaseURL: "https://ghe.example/api/v3", Token: testToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, link string) {
		next, err := c.api.nextPage([]string{link})
		if err != nil || next == "" {
			return
		}
		if !strings.HasPrefix(next, "https://ghe.example/api/v3/") && !strings.HasPrefix(strings.ToLower(next), "https://ghe.example/api/v3/") {
			t.Fatalf("next page %q is off the API", next)
		}
		if strings.Contains(next, "/../") || strings.HasSuffix(next, "/..") {
			t.Fatalf("next page %q climbs", next)
		}
	})
}
