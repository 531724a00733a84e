package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	h := Hasher{Iterations: 1000}
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "pbkdf2-sha256$1000$") {
		t.Errorf("Hash = %q, want pbkdf2-sha256$1000$ prefix", enc)
	}
	again, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if again == enc {
		t.Error("two hashes of one password are equal: salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"", false},
	} {
		got, err := Verify(enc, tc.password)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v, nil", tc.password, got, err, tc.want)
		}
	}
}

func TestHashDefaultIterations(t *testing.T) {
	enc, err := Hasher{}.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "pbkdf2-sha256$600000$") {
		t.Errorf("Hash = %q, want the default 600000 iterations", enc)
	}
	if _, err := (Hasher{Iterations: -1}).Hash("pw"); err == nil {
		t.Error("Hash with -1 iterations: no error")
	}
}

func TestVerifyMalformed(t *testing.T) {
	salt := "AAAAAAAAAAAAAAAAAAAAAA"                     // 16 bytes
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 32 bytes
	for _, enc := range []string{
		"",
		"bcrypt$10$" + salt + "$" + key,
		"pbkdf2-sha256$x$" + salt + "$" + key,
		"pbkdf2-sha256$0$" + salt + "$" + key,
		"pbkdf2-sha256$99999999$" + salt + "$" + key,
		"pbkdf2-sha256$1000$AAAA$" + key,
		"pbkdf2-sha256$1000$" + salt + "$AAAA",
		"pbkdf2-sha256$1000$!!$" + key,
		"pbkdf2-sha256$1000$" + salt,
	} {
		if ok, err := Verify(enc, "pw"); ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", enc, ok, err)
		}
	}
}

func TestToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) < 26 || len(a) > MaxTokenLen {
		t.Errorf("NewToken() = %q, %q; want two distinct tokens of 26 to %d characters", a, b, MaxTokenLen)
	}
	if ha, again := HashToken(a), HashToken(a); ha != again || ha == HashToken(b) || len(ha) != 64 {
		t.Error("HashToken is not a deterministic hex SHA-256")
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(6, 3, 100, c.now) // one token every 10s
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused within burst", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("Allow after burst = %v, %v; want false, 10s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key is limited too")
	}
	c.advance(4 * time.Second)
	if ok, wait := l.Allow("a"); ok || wait != 6*time.Second {
		t.Errorf("Allow after 4s = %v, %v; want false, 6s", ok, wait)
	}
	c.advance(6 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("refused after refill")
	}
}

func TestLimiterAllKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(60, 1, 100, c.now)
	if ok, _ := l.Allow("ip", "user"); !ok {
		t.Fatal("first attempt refused")
	}
	if ok, _ := l.Allow("ip", "other"); ok {
		t.Fatal("allowed with one key empty")
	}
	// The refusal must not have used up "other"'s token.
	c.advance(time.Second)
	if ok, _ := l.Allow("other"); !ok {
		t.Error("refused attempt consumed a token of another key")
	}
}

func TestLimiterMaxKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(60, 2, 2, c.now)
	l.Allow("a")
	l.Allow("b")
	if ok, _ := l.Allow("c"); ok {
		t.Fatal("new key allowed while the limiter is full of live buckets")
	}
	c.advance(time.Second) // "a" and "b" are full again and can be forgotten
	if ok, _ := l.Allow("c"); !ok {
		t.Fatal("new key refused after old buckets refilled")
	}
	if n := len(l.buckets); n != 1 {
		t.Errorf("limiter holds %d buckets, want 1", n)
	}
}
