package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeOP is a small OpenID provider: discovery, JWKS, an authorization
// endpoint that signs in whoever it is told to and redirects with a code,
// and a token endpoint that checks the client, the redirect URI and the
// PKCE verifier and issues an ES256 ID token.
type fakeOP struct {
	t            *testing.T
	srv          *httptest.Server
	key          *ecdsa.PrivateKey
	clientID     string
	clientSecret string
	now          func() time.Time

	mu    sync.Mutex
	codes map[string]authRequest
	// claims are the user's claims put in the next ID tokens.
	claims map[string]any
	// tamper, when set, changes the claims of an ID token before signing.
	tamper func(claims map[string]any)
	// signKey, when set, signs ID tokens instead of key (a bad signature).
	signKey *ecdsa.PrivateKey
}

type authRequest struct {
	clientID, redirectURI, nonce, challenge string
}

const fakeKeyID = "k1"

func newFakeOP(t *testing.T, now func() time.Time) *fakeOP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{t: t, key: key, clientID: "gantry", clientSecret: "s3cret", now: now, codes: map[string]authRequest{},
		claims: map[string]any{"sub": "248289761001", "email": "Dana@Example.com", "email_verified": true, "preferred_username": "dana"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) discovery(w http.ResponseWriter, r *http.Request) {
	u := op.srv.URL
	writeJSON(w, map[string]any{
		"issuer":                                u,
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + "/token",
		"jwks_uri":                              u + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (op *fakeOP) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: fakeKeyID, Algorithm: "ES256", Use: "sig"}}})
}

func (op *fakeOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != op.clientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := randomHex(16)
	op.mu.Lock()
	op.codes[code] = authRequest{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	op.mu.Unlock()
	v := redirect.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != op.clientID || secret != op.clientSecret {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	op.mu.Lock()
	req, found := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code")) // codes are single-use
	op.mu.Unlock()
	if r.PostForm.Get("grant_type") != "authorization_code" || !found || req.redirectURI != r.PostForm.Get("redirect_uri") || req.clientID != id {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != req.challenge {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	now := op.now()
	op.mu.Lock()
	claims := map[string]any{"iss": op.srv.URL, "aud": op.clientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": req.nonce}
	for k, v := range op.claims {
		claims[k] = v
	}
	if op.tamper != nil {
		op.tamper(claims)
	}
	key := op.key
	if op.signKey != nil {
		key = op.signKey
	}
	op.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", fakeKeyID))
	if err != nil {
		op.t.Error(err)
		return
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		op.t.Error(err)
		return
	}
	idToken, _ := jws.CompactSerialize()
	writeJSON(w, map[string]any{"access_token": randomHex(16), "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
