// Package webapp is a small inventory service: users log in and keep a list
// of items in SQLite behind a JSON API. Gantry uses it as its demo and as the
// subject of its end-to-end tests, so it is written as a real service would be.
//
// This package holds the vocabulary and the input rules. Package sqlite
// stores it, package server serves it over HTTP, package auth holds the
// credential primitives, and cmd/webapp wires them together.
package webapp

import (
	"errors"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what clients may send.
const (
	MaxItemNameLen = 100       // runes
	MaxQuantity    = 1_000_000 // inclusive
	MinUsernameLen = 3
	MaxUsernameLen = 32
	MinPasswordLen = 12  // bytes
	MaxPasswordLen = 256 // bytes; bounds the work one login can cause
)

// ErrNotFound is returned by stores when a record does not exist, or exists
// but belongs to someone else.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by stores when a record already exists.
var ErrConflict = errors.New("already exists")

// User is an account that can log in.
type User struct {
	ID           int64
	Username     string
	PasswordHash string // see auth.Hasher for the format
	CreatedAt    time.Time
}

// Session is a logged-in user's bearer token. Only the token's hash is kept.
type Session struct {
	TokenHash string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Item is one stock entry, owned by the user who created it.
type Item struct {
	ID        int64     `json:"id"`
	OwnerID   int64     `json:"-"`
	Name      string    `json:"name"`
	Quantity  int64     `json:"quantity"`
	CreatedAt time.Time `json:"created_at"`
}

// ValidationError reports input that a client must fix. Its message is safe
// to show to the client.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Validate checks an item's fields against the input rules.
func (it Item) Validate() error {
	n := utf8.RuneCountInString(it.Name)
	switch {
	case !utf8.ValidString(it.Name):
		return &ValidationError{"name", "must be valid UTF-8"}
	case n == 0:
		return &ValidationError{"name", "is required"}
	case n > MaxItemNameLen:
		return &ValidationError{"name", "must be at most 100 characters"}
	case hasControl(it.Name):
		return &ValidationError{"name", "must not contain control characters"}
	case it.Quantity < 0 || it.Quantity > MaxQuantity:
		return &ValidationError{"quantity", "must be between 0 and 1000000"}
	}
	return nil
}

// ValidateUsername checks a new username: 3 to 32 characters of a-z, 0-9,
// '.', '_' and '-', starting with a letter or digit.
func ValidateUsername(name string) error {
	if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
		return &ValidationError{"username", "must be 3 to 32 characters"}
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '.' && r != '_' && r != '-') {
			return &ValidationError{"username", "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"}
		}
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(password string) error {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return &ValidationError{"password", "must be 12 to 256 bytes"}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
