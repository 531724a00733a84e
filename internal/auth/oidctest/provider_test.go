package oidctest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestProviderIsStrict: the fake refuses what a real provider refuses,
// so that a relying party that passes against it does the protocol right.
func TestProviderIsStrict(t *testing.T) {
	p := NewProvider(t, time.Now)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const redirect = "https://rp.example/cb"
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	authorize := func(q url.Values) (int, url.Values) {
		t.Helper()
		resp, err := noFollow.Get(p.URL + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, loc.Query()
	}
	good := url.Values{"response_type": {"code"}, "client_id": {ClientID}, "redirect_uri": {redirect}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	for name, edit := range map[string]func(url.Values){
		"no PKCE":        func(q url.Values) { q.Del("code_challenge") },
		"plain PKCE":     func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"other client":   func(q url.Values) { q.Set("client_id", "other") },
		"relative back":  func(q url.Values) { q.Set("redirect_uri", "/cb") },
		"implicit grant": func(q url.Values) { q.Set("response_type", "id_token") },
	} {
		q := url.Values{}
		for k, v := range good {
			q[k] = v
		}
		edit(q)
		if status, _ := authorize(q); status != http.StatusBadRequest {
			t.Errorf("authorize with %s: %d, want 400", name, status)
		}
	}

	token := func(code string, edit func(url.Values)) (int, map[string]any) {
		t.Helper()
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier},
			"client_id": {ClientID}, "client_secret": {ClientSecret}}
		if edit != nil {
			edit(f)
		}
		resp, err := http.PostForm(p.URL+"/token", f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	for name, edit := range map[string]func(url.Values){
		"wrong secret":   func(f url.Values) { f.Set("client_secret", "guess") },
		"wrong verifier": func(f url.Values) { f.Set("code_verifier", strings.Repeat("w", 43)) },
		"other redirect": func(f url.Values) { f.Set("redirect_uri", "https://evil.example/cb") },
		"other grant":    func(f url.Values) { f.Set("grant_type", "refresh_token") },
	} {
		status, q := authorize(good)
		if status != http.StatusFound || q.Get("state") != "st" || q.Get("code") == "" {
			t.Fatalf("authorize: %d %v", status, q)
		}
		if status, v := token(q.Get("code"), edit); status < 400 || v["id_token"] != nil {
			t.Errorf("token with %s: %d %v", name, status, v)
		}
	}

	_, q := authorize(good)
	if status, v := token(q.Get("code"), nil); status != http.StatusOK || v["id_token"] == nil {
		t.Fatalf("token: %d %v", status, v)
	}
	if status, _ := token(q.Get("code"), nil); status != http.StatusBadRequest {
		t.Errorf("a code redeemed twice: %d, want 400", status)
	}
}
