package web_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/store/sqlite"
	"gantry.dev/gantry/internal/web"
)

// TestLoginOffersSSOOnlyWhenConfigured: the login page links to the
// server's single sign-on only when the server has a provider.
func TestLoginOffersSSOOnlyWhenConfigured(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, sso := range []bool{false, true} {
		h, err := web.New(web.Options{Store: st, Sessions: newTestSessions(st), SSO: sso})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
		body, _ := io.ReadAll(rec.Body)
		link := strings.Contains(string(body), `<a href="/login/oidc">Sign in with single sign-on</a>`)
		if rec.Code != 200 || link != sso {
			t.Errorf("SSO %v: login page %d, has the single sign-on link: %v", sso, rec.Code, link)
		}
	}
}
