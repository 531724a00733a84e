package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"gantry.dev/gantry"
)

// PasswordParams are the argon2id cost parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams is 64 MiB, 3 passes, 2 lanes: RFC 9106's second
// recommendation with the lanes cut to the 2 cores a small server has. It
// takes about 80 ms on a 2-core machine (measured with argon2.IDKey), slow
// enough to make guessing expensive and fast enough for an interactive
// login; Service bounds how many run at once, so memory stays bounded too.
var DefaultPasswordParams = PasswordParams{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

// Password policy bounds.
const (
	MinPasswordLength = 12   // characters
	MaxPasswordBytes  = 1024 // longer input is refused rather than hashed
)

// Bounds on parameters read from a stored hash, so that a tampered or
// corrupted record cannot make a verification allocate without limit.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	maxKeyLen    = 256
	maxSaltLen   = 256
)

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=65536,t=3,p=2$salt$hash. A nil r means
// crypto/rand.
func HashPassword(password string, p PasswordParams, r io.Reader) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	if len(password) > MaxPasswordBytes {
		return "", gantry.Errorf(gantry.EInvalid, "password is longer than %d bytes", MaxPasswordBytes)
	}
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func (p PasswordParams) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB is out of range", p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d is out of range", p.Time)
	case p.Threads < 1:
		return fmt.Errorf("argon2id threads must be at least 1")
	case p.SaltLen < 8 || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d is out of range", p.SaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d is out of range", p.KeyLen)
	}
	return nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params PasswordParams
	salt   []byte
	key    []byte
}

// parsePHC parses an argon2id PHC string. It accepts only what
// HashPassword writes, with parameters in bounds.
func parsePHC(s string) (*phc, error) {
	if len(s) > 1024 {
		return nil, fmt.Errorf("password hash is too long")
	}
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return nil, fmt.Errorf("password hash is not a PHC string")
	}
	if parts[1] != "argon2id" {
		return nil, fmt.Errorf("password hash algorithm %q is not argon2id", parts[1])
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || parts[2] != fmt.Sprintf("v=%d", version) {
		return nil, fmt.Errorf("password hash version %q is malformed", parts[2])
	}
	if version != argon2.Version {
		return nil, fmt.Errorf("password hash version %d is not %d", version, argon2.Version)
	}
	var m, t uint32
	var th uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, th) {
		return nil, fmt.Errorf("password hash parameters %q are malformed", parts[3])
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil {
		return nil, fmt.Errorf("password hash salt: %w", err)
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil {
		return nil, fmt.Errorf("password hash key: %w", err)
	}
	h := &phc{
		params: PasswordParams{Memory: m, Time: t, Threads: th, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
		salt:   salt,
		key:    key,
	}
	if err := h.params.validate(); err != nil {
		return nil, fmt.Errorf("password hash: %w", err)
	}
	return h, nil
}

// VerifyPassword reports whether password matches the PHC string encoded.
// The comparison takes constant time. An encoded value that is not a
// well-formed argon2id hash is an error (and never a match).
func VerifyPassword(password, encoded string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, nil
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// PasswordNeedsRehash reports whether encoded was made with parameters
// other than p (or cannot be read), so that it should be hashed again the
// next time the password is known.
func PasswordNeedsRehash(encoded string, p PasswordParams) bool {
	h, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return h.params != p
}

// CheckPasswordPolicy returns an EInvalid error saying what is wrong when
// password may not be used by user: shorter than MinPasswordLength
// characters, longer than MaxPasswordBytes, not valid UTF-8, or the user
// name itself.
func CheckPasswordPolicy(user, password string) error {
	switch {
	case !utf8.ValidString(password):
		return gantry.Errorf(gantry.EInvalid, "password is not valid UTF-8")
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return gantry.Errorf(gantry.EInvalid, "password must be at least %d characters long", MinPasswordLength)
	case len(password) > MaxPasswordBytes:
		return gantry.Errorf(gantry.EInvalid, "password must be at most %d bytes long", MaxPasswordBytes)
	case strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(user)):
		return gantry.Errorf(gantry.EInvalid, "password must not be the user name")
	}
	return nil
}
