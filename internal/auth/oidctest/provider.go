// Package oidctest is a small OpenID Connect provider for tests: discovery,
// a key set, an authorization endpoint that signs in one user without
// asking, and a token endpoint that checks the client, the redirect URI and
// the PKCE verifier before it issues an ES256 ID token. Tests set the
// user's claims and tamper with the tokens to see a relying party refuse
// them.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The client the provider knows, and the user it signs in unless told
// otherwise.
const (
	ClientID     = "gantry"
	ClientSecret = "s3cret"
	Subject      = "248289761001"
	keyID        = "k1"
)

// DefaultClaims are the user's claims in a new Provider's ID tokens: a
// verified email address in mixed case and a preferred user name.
func DefaultClaims() map[string]any {
	return map[string]any{"sub": Subject, "email": "Dana@Example.com", "email_verified": true, "preferred_username": "dana"}
}

// Provider is a running fake OpenID provider. Make one with NewProvider;
// it stops when the test ends.
type Provider struct {
	// URL is the issuer: discovery is at URL/.well-known/openid-configuration.
	URL          string
	ClientID     string
	ClientSecret string

	t   testing.TB
	srv *httptest.Server
	key *ecdsa.PrivateKey
	now func() time.Time

	mu      sync.Mutex
	codes   map[string]authRequest
	claims  map[string]any
	tamper  func(claims map[string]any)
	signKey *ecdsa.PrivateKey
}

// authRequest is what an authorization code stands for.
type authRequest struct {
	clientID, redirectURI, nonce, challenge string
}

// NewProvider starts a provider whose tokens are issued at now(), for the
// client ClientID with ClientSecret, signing in a user with
// DefaultClaims.
func NewProvider(t testing.TB, now func() time.Time) *Provider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: ClientID, ClientSecret: ClientSecret, t: t, key: key, now: now,
		codes: map[string]authRequest{}, claims: DefaultClaims()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Now is the provider's clock.
func (p *Provider) Now() time.Time { return p.now() }

// SetClaim sets a claim of the user in the next ID tokens.
func (p *Provider) SetClaim(name string, value any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims[name] = value
}

// DeleteClaim leaves a claim of the user out of the next ID tokens.
func (p *Provider) DeleteClaim(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.claims, name)
}

// SetClaims replaces the user's claims in the next ID tokens.
func (p *Provider) SetClaims(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims = maps.Clone(claims)
}

// Tamper makes f change every ID token's claims (iss, aud, iat, exp,
// nonce and the user's) just before they are signed; nil stops it.
func (p *Provider) Tamper(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = f
}

// SignWith makes the provider sign ID tokens with key, still naming its
// own key's ID, so that their signatures do not verify; nil restores its
// own key.
func (p *Provider) SignWith(key *ecdsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signKey = key
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"jwks_uri":                              p.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: keyID, Algorithm: "ES256", Use: "sig"}}})
}

// authorize signs the user in at once and sends the browser back to the
// redirect URI with a code and the state.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != p.ClientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := randomHex(16)
	p.mu.Lock()
	p.codes[code] = authRequest{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	p.mu.Unlock()
	v := redirect.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token redeems a code, once, for an ID token.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	req, found := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	if r.PostForm.Get("grant_type") != "authorization_code" || !found || req.redirectURI != r.PostForm.Get("redirect_uri") || req.clientID != id {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != req.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	now := p.now()
	p.mu.Lock()
	claims := map[string]any{"iss": p.URL, "aud": p.ClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": req.nonce}
	maps.Copy(claims, p.claims)
	tamper, key := p.tamper, p.key
	if p.signKey != nil {
		key = p.signKey
	}
	p.mu.Unlock()
	if tamper != nil {
		tamper(claims)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", keyID))
	if err != nil {
		p.t.Errorf("oidctest: make signer: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		p.t.Errorf("oidctest: encode claims: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		p.t.Errorf("oidctest: sign: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	idToken, _ := jws.CompactSerialize()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": randomHex(16), "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
