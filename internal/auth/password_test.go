package auth

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// referenceHash was made by the reference implementation (the argon2
// command of Debian's argon2 package, libargon2 20171227):
//
//	echo -n "correct horse battery staple" | argon2 gantrysaltsalt16 -id -t 3 -m 16 -p 2 -l 32 -e
const referenceHash = "$argon2id$v=19$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k"

func TestHashPasswordMatchesReference(t *testing.T) {
	got, err := HashPassword("correct horse battery staple", DefaultPasswordParams, strings.NewReader("gantrysaltsalt16"))
	if err != nil {
		t.Fatal(err)
	}
	if got != referenceHash {
		t.Errorf("HashPassword = %s\nwant            %s", got, referenceHash)
	}
	ok, err := VerifyPassword("correct horse battery staple", referenceHash)
	if err != nil || !ok {
		t.Errorf("VerifyPassword(reference) = %v, %v; want true", ok, err)
	}
	if ok, _ := VerifyPassword("correct horse battery stapler", referenceHash); ok {
		t.Error("VerifyPassword accepted a wrong password")
	}
}

func TestHashPasswordFormat(t *testing.T) {
	h, err := HashPassword("a long enough password", cheapParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(h) {
		t.Errorf("hash %q is not a PHC string of the parameters", h)
	}
	h2, _ := HashPassword("a long enough password", cheapParams, nil)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, pw := range []string{"a long enough password", "a long enough passworD", "", strings.Repeat("x", MaxPasswordBytes+1)} {
		ok, err := VerifyPassword(pw, h)
		if err != nil {
			t.Fatal(err)
		}
		if want := pw == "a long enough password"; ok != want {
			t.Errorf("VerifyPassword(%.20q) = %v, want %v", pw, ok, want)
		}
	}
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordBytes+1), cheapParams, nil); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("hashing an over-long password: err = %v, want invalid", err)
	}
}

func TestPasswordNeedsRehash(t *testing.T) {
	h, err := HashPassword("a long enough password", cheapParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	if PasswordNeedsRehash(h, cheapParams) {
		t.Error("rehash wanted with unchanged parameters")
	}
	for _, p := range []PasswordParams{
		{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32},
		DefaultPasswordParams,
	} {
		if !PasswordNeedsRehash(h, p) {
			t.Errorf("no rehash wanted for %+v", p)
		}
	}
	if !PasswordNeedsRehash("$2a$10$bcrypt", cheapParams) {
		t.Error("no rehash wanted for a hash that is not argon2id")
	}
}

func TestParsePHCRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"$argon2i$v=19$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=16$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=3,p=2,x=1$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=065536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=99999999,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=1000,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=3,p=0$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=3,p=300$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=3,p=2$c2hvcnQ$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$c2hvcnQ",
		"$argon2id$v=19$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg==$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
		"$argon2id$v=19$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k$",
		"argon2id$v=19$m=65536,t=3,p=2$Z2FudHJ5c2FsdHNhbHQxNg$Dn+yd2qt2r+NQjyl7kEHsKBlLP1Lx2ZNwX8laHTqj/k",
	} {
		if _, err := parsePHC(s); err == nil {
			t.Errorf("parsePHC(%q) accepted it", s)
		}
		if ok, err := VerifyPassword("correct horse battery staple", s); ok || err == nil {
			t.Errorf("VerifyPassword with %q = %v, %v; want false and an error", s, ok, err)
		}
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		user, password string
		wantErr        string
	}{
		{"alice", "twelve chars", ""},
		{"alice", "ünïcödé pâss", ""},
		{"alice", "eleven char", "at least 12"},
		{"alice", "", "at least 12"},
		{"alice.example.com", "Alice.Example.Com", "not be the user name"},
		{"verylongusername", " verylongusername ", "not be the user name"},
		{"alice", strings.Repeat("x", MaxPasswordBytes+1), "at most"},
		{"alice", "abcdefghijk\xff", "UTF-8"},
	} {
		err := CheckPasswordPolicy(tc.user, tc.password)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("CheckPasswordPolicy(%q, %.20q) = %v", tc.user, tc.password, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("CheckPasswordPolicy(%q, %.20q) = %v, want an invalid error with %q", tc.user, tc.password, err, tc.wantErr)
		}
	}
}

// TestDefaultParamsInteractive keeps the default cost in the range for
// an interactive login on a small machine: slow enough to hurt guessing,
// fast enough for a person. Bounds are wide for loaded CI machines.
func TestDefaultParamsInteractive(t *testing.T) {
	if testing.Short() {
		t.Skip("measures argon2id")
	}
	HashPassword("warm up the allocator", DefaultPasswordParams, nil)
	start := time.Now()
	const n = 3
	for range n {
		if _, err := HashPassword("correct horse battery staple", DefaultPasswordParams, nil); err != nil {
			t.Fatal(err)
		}
	}
	per := time.Since(start) / n
	t.Logf("argon2id m=%d KiB t=%d p=%d: %v per hash", DefaultPasswordParams.Memory, DefaultPasswordParams.Time, DefaultPasswordParams.Threads, per)
	if per > 10*time.Second {
		t.Errorf("a default hash takes %v: too slow for an interactive login", per)
	}
}

func BenchmarkHashPasswordDefault(b *testing.B) {
	for b.Loop() {
		HashPassword("correct horse battery staple", DefaultPasswordParams, nil)
	}
}

func BenchmarkVerifyPasswordDefault(b *testing.B) {
	for b.Loop() {
		VerifyPassword("correct horse battery staple", referenceHash)
	}
}
