package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// SessionConfig configures Sessions. Zero fields take the defaults named.
type SessionConfig struct {
	// Keys sign session cookies, each at least 32 bytes: the first signs,
	// all verify, so that a key can be rotated without signing everyone
	// out. Servers that share the keys share sessions.
	Keys       [][]byte
	TTL        time.Duration    // a session's life; default 12 hours
	CookieName string           // default "gantry_session"
	Insecure   bool             // leave out the Secure attribute: plain-HTTP development only
	Now        func() time.Time // nil: time.Now
	Rand       io.Reader        // nil: crypto/rand
}

// Session is a signed-in user of the web UI, as carried by a cookie.
type Session struct {
	ID       string    `json:"sid"`
	User     string    `json:"u"`
	Stamp    string    `json:"st"` // UserStamp of the user when signed in
	IssuedAt time.Time `json:"-"`
	Expires  time.Time `json:"-"`
}

// Sessions issues and checks stateless session cookies signed with
// HMAC-SHA256, and the CSRF tokens bound to them.
type Sessions struct {
	cfg  SessionConfig
	keys []sessionKeys
}

type sessionKeys struct{ mac, csrf []byte }

// CSRF token carriers, checked in this order.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// maxCookieLen bounds what Parse reads: browsers keep at most 4096 bytes.
const maxCookieLen = 4096

// NewSessions returns Sessions under cfg.
func NewSessions(cfg SessionConfig) (*Sessions, error) {
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("sessions: a key is required")
	}
	m := &Sessions{}
	for i, k := range cfg.Keys {
		if len(k) < 32 {
			return nil, fmt.Errorf("sessions: key %d is %d bytes: at least 32 are required", i, len(k))
		}
		// Separate keys for separate uses, so that no MAC of one kind
		// is ever valid as the other.
		m.keys = append(m.keys, sessionKeys{mac: derive(k, "gantry session cookie v1"), csrf: derive(k, "gantry csrf token v1")})
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 12 * time.Hour
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "gantry_session"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	m.cfg = cfg
	return m, nil
}

func derive(key []byte, label string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(label))
	return h.Sum(nil)
}

func mac(key []byte, parts ...string) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// UserStamp is a digest of what, when it changes, ends a user's sessions:
// their password hash (a new password signs out every other browser).
func UserStamp(u *gantry.User) string {
	sum := sha256.Sum256([]byte("gantry session stamp\x00" + u.PasswordHash))
	return hex.EncodeToString(sum[:8])
}

// New starts a session for a principal who has just signed in (from
// Service.Login or OIDC.Finish). Token principals get no session.
func (m *Sessions) New(p *Principal) (*Session, error) {
	if p == nil || p.Token != nil || p.Stamp == "" || p.IsAgent() {
		return nil, fmt.Errorf("new session: only a user who signed in may have a session")
	}
	id := make([]byte, 16)
	if _, err := io.ReadFull(m.cfg.Rand, id); err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	now := m.cfg.Now().Truncate(time.Second)
	return &Session{ID: hex.EncodeToString(id), User: p.Name, Stamp: p.Stamp, IssuedAt: now, Expires: now.Add(m.cfg.TTL)}, nil
}

// sessionJSON is the signed payload.
type sessionJSON struct {
	V int `json:"v"`
	Session
	IAT int64 `json:"iat"`
	Exp int64 `json:"exp"`
}

// Encode returns the signed cookie value of s.
func (m *Sessions) Encode(s *Session) string {
	payload, _ := json.Marshal(sessionJSON{V: 1, Session: *s, IAT: s.IssuedAt.Unix(), Exp: s.Expires.Unix()})
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(m.keys[0].mac, p))
}

// Cookie returns the cookie that carries s: HttpOnly, Secure, SameSite=Lax,
// for the whole site, expiring with the session.
func (m *Sessions) Cookie(s *Session) *http.Cookie {
	return &http.Cookie{
		Name: m.cfg.CookieName, Value: m.Encode(s), Path: "/",
		Expires: s.Expires, MaxAge: int(s.Expires.Sub(m.cfg.Now()).Seconds()),
		HttpOnly: true, Secure: !m.cfg.Insecure, SameSite: http.SameSiteLaxMode,
	}
}

// ClearCookie returns the cookie that signs a browser out.
func (m *Sessions) ClearCookie() *http.Cookie {
	return &http.Cookie{Name: m.cfg.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !m.cfg.Insecure, SameSite: http.SameSiteLaxMode}
}

// ErrNoSession means a request carries no session cookie.
var ErrNoSession = &gantry.Error{Kind: gantry.EUnauthorized, Message: "sign in first"}

var errBadSession = &gantry.Error{Kind: gantry.EUnauthorized, Message: "the session is invalid or expired: sign in again"}

// Parse checks a cookie value's signature (under any of the keys) and
// expiry and returns its session. Anything else is EUnauthorized.
func (m *Sessions) Parse(value string) (*Session, error) {
	if len(value) > maxCookieLen {
		return nil, errBadSession
	}
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, errBadSession
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return nil, errBadSession
	}
	valid := 0
	for _, k := range m.keys {
		valid |= subtle.ConstantTimeCompare(got, mac(k.mac, p))
	}
	if valid != 1 {
		return nil, errBadSession
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, errBadSession
	}
	var sj sessionJSON
	if err := json.Unmarshal(payload, &sj); err != nil || sj.V != 1 || sj.ID == "" || sj.User == "" {
		return nil, errBadSession
	}
	s := sj.Session
	s.IssuedAt, s.Expires = time.Unix(sj.IAT, 0), time.Unix(sj.Exp, 0)
	if !m.cfg.Now().Before(s.Expires) || s.Expires.Sub(s.IssuedAt) > m.cfg.TTL {
		return nil, errBadSession
	}
	return &s, nil
}

// FromRequest returns the session of r's cookie: ErrNoSession when there
// is none, EUnauthorized when it is not valid.
func (m *Sessions) FromRequest(r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.cfg.CookieName)
	if err != nil {
		return nil, ErrNoSession
	}
	return m.Parse(c.Value)
}

// CSRFToken returns the CSRF token of s, for forms (field CSRFField) and
// scripts (header CSRFHeader).
func (m *Sessions) CSRFToken(s *Session) string {
	return base64.RawURLEncoding.EncodeToString(mac(m.keys[0].csrf, s.ID))
}

// ErrCSRF means an unsafe request authenticated by a session cookie
// lacks the session's CSRF token.
var ErrCSRF = &gantry.Error{Kind: gantry.EForbidden, Message: "the request lacks a valid CSRF token: reload the page and try again"}

// CheckCSRF checks r's CSRF token (from the CSRFHeader header, else the
// CSRFField form field) against s, in constant time.
func (m *Sessions) CheckCSRF(r *http.Request, s *Session) error {
	tok := r.Header.Get(CSRFHeader)
	if tok == "" && isForm(r) {
		tok = r.PostFormValue(CSRFField)
	}
	got, err := base64.RawURLEncoding.DecodeString(tok)
	if tok == "" || err != nil || len(got) != sha256.Size {
		return ErrCSRF
	}
	valid := 0
	for _, k := range m.keys {
		valid |= subtle.ConstantTimeCompare(got, mac(k.csrf, s.ID))
	}
	if valid != 1 {
		return ErrCSRF
	}
	return nil
}

func isForm(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data"
}

// safeMethod reports whether a method changes nothing (RFC 9110 9.2.1).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// RequireCSRF wraps next so that an unsafe request (not GET, HEAD,
// OPTIONS, TRACE) that will be authenticated by its session cookie must
// carry the session's CSRF token. A request with an Authorization header
// is authenticated by its token instead (the server must then ignore the
// cookie), and one without a valid cookie is not authenticated by it, so
// neither needs one. onError writes the refusal; nil writes 403 text.
func (m *Sessions) RequireCSRF(next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if onError == nil {
		onError = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, gantry.ErrorMessage(err), http.StatusForbidden)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) && r.Header.Get("Authorization") == "" {
			if s, err := m.FromRequest(r); err == nil {
				if err := m.CheckCSRF(r, s); err != nil {
					onError(w, r, err)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// SessionPrincipal returns the principal of a session: the user must
// still exist, be enabled, and have the password they had when the
// session began.
func (s *Service) SessionPrincipal(ctx context.Context, sess *Session) (*Principal, error) {
	u, err := s.cfg.Identity.User(ctx, sess.User)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, errBadSession
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "load user %s: %w", sess.User, err)
	}
	if u.Disabled || subtle.ConstantTimeCompare([]byte(UserStamp(u)), []byte(sess.Stamp)) != 1 {
		return nil, errBadSession
	}
	return s.principalOf(ctx, u, nil)
}
