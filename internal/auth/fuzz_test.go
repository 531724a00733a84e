package auth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

func FuzzParseToken(f *testing.F) {
	good, _ := newTokenSecret(strings.NewReader(strings.Repeat("k", 32)))
	for _, s := range []string{good, "", "gty_", good[:len(good)-1], strings.ToUpper(good), "gty_" + strings.Repeat("a", 58), "Bearer " + good} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hash, err := ParseToken(s)
		if err != nil {
			return
		}
		if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
			t.Fatalf("accepted %q of the wrong shape", s)
		}
		if hash != TokenHash(s) {
			t.Fatalf("hash of %q is not its sha256", s)
		}
	})
}

func fuzzSessions(t testing.TB) *Sessions {
	m, err := NewSessions(SessionConfig{Keys: [][]byte{bytes.Repeat([]byte{1}, 32)}, Now: newTestClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fuzzSession(m *Sessions) *Session {
	now := m.cfg.Now()
	return &Session{ID: "0123456789abcdef0123456789abcdef", User: "dev", Stamp: "00112233", IssuedAt: now, Expires: now.Add(time.Hour)}
}

// FuzzSessionCookie feeds whole cookie values to Parse. Anything it
// accepts must be a session it would encode the same way.
func FuzzSessionCookie(f *testing.F) {
	m := fuzzSessions(f)
	good := m.Encode(fuzzSession(m))
	for _, s := range []string{good, "", ".", good + "x", strings.Replace(good, ".", "..", 1), "e30." + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		s, err := m.Parse(value)
		if err != nil {
			return
		}
		again, err := m.Parse(m.Encode(s))
		if err != nil || *again != *s {
			t.Fatalf("accepted %q as %+v, which does not round-trip (%+v, %v)", value, s, again, err)
		}
	})
}

// FuzzSessionPayload signs arbitrary payloads, so that the JSON behind a
// valid MAC is fuzzed too: whatever it holds, Parse must not panic, and
// what it accepts must be a whole, unexpired session.
func FuzzSessionPayload(f *testing.F) {
	m := fuzzSessions(f)
	now := m.cfg.Now().Unix()
	f.Add([]byte(fmt.Sprintf(`{"v":1,"sid":"a","u":"dev","st":"x","iat":%d,"exp":%d}`, now, now+60)))
	f.Add([]byte(fmt.Sprintf(`{"v":1,"sid":"a","u":"dev","iat":%d,"exp":%d}`, now-1<<40, now+1<<40)))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"v":1,"sid":"a","u":"dev","exp":1e999}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := base64.RawURLEncoding.EncodeToString(payload)
		value := p + "." + base64.RawURLEncoding.EncodeToString(mac(m.keys[0].mac, p))
		s, err := m.Parse(value)
		if err != nil {
			return
		}
		if s.ID == "" || s.User == "" || !m.cfg.Now().Before(s.Expires) || s.Expires.Sub(s.IssuedAt) > m.cfg.TTL {
			t.Fatalf("accepted %s as %+v", payload, s)
		}
	})
}

func FuzzParseFlow(f *testing.F) {
	m := fuzzSessions(f)
	good := m.FlowCookie(&OIDCFlow{State: "s", Nonce: "n", Verifier: "v", Expires: m.cfg.Now().Add(time.Minute)}).Value
	for _, s := range []string{good, "", ".", good + "x", "e30." + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		fl, err := m.ParseFlow(value)
		if err != nil {
			return
		}
		if fl.State == "" || fl.Nonce == "" || fl.Verifier == "" {
			t.Fatalf("accepted %q as %+v", value, fl)
		}
		if again, err := m.ParseFlow(m.FlowCookie(fl).Value); err != nil || *again != *fl {
			t.Fatalf("flow %+v does not round-trip: %+v, %v", fl, again, err)
		}
	})
}

// FuzzParsePHC: a stored hash is outside input when a database is
// restored or tampered with. What parsePHC accepts is exactly what
// HashPassword would write, with bounded parameters.
func FuzzParsePHC(f *testing.F) {
	f.Add(referenceHash)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$$")
	f.Add("$argon2i$v=19$m=65536,t=3,p=2$Z2FudHJ5$Dn+yd2qt")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		if err := h.params.validate(); err != nil {
			t.Fatalf("accepted %q with %v", s, err)
		}
		again := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
		if again != s {
			t.Fatalf("accepted %q, which is not canonical (%q)", s, again)
		}
	})
}

func FuzzRemoteKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1:443", "[2001:db8::1]:443", "fe80::1%eth0", "", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k := remoteKey(s); len(k) > maxAuditNameInTarget+len("…") {
			t.Fatalf("key of %q is %d bytes", s, len(k))
		}
	})
}
