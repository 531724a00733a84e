package secrets

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"gantry.dev/gantry"
)

// KeyringEnv is the environment variable LoadKeyring reads when no key file
// is given: entries ID:base64key separated by commas, spaces or newlines,
// the first being the current key.
const KeyringEnv = "GANTRY_SECRETS_KEYRING"

// KeySize is the size in bytes of a key-encryption key: AES-256.
const KeySize = 32

// maxKeyFileSize bounds a key file: it holds a few lines.
const maxKeyFileSize = 64 << 10

// maxKeyIDLen bounds a key ID, which is stored in every sealed value.
const maxKeyIDLen = 64

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Keyring holds the key-encryption keys (KEKs) that seal secrets. The first
// key is the current one: everything new is sealed under it. The others
// are kept so that what they sealed still opens until Service.Rotate has
// re-sealed it. A Keyring is safe for concurrent use.
type Keyring struct {
	ids  []string // in file order; ids[0] is current
	aead map[string]cipher.AEAD
}

// NewKeyring returns a keyring of the given keys, the first current. It is
// for tests and for callers that hold keys elsewhere; operators use a key
// file or KeyringEnv.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "keyring: no keys")
	}
	r := &Keyring{aead: map[string]cipher.AEAD{}}
	seen := map[[KeySize]byte]string{}
	for _, k := range keys {
		if err := r.add(k, seen); err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "keyring: %v", err)
		}
	}
	return r, nil
}

// Key is one key-encryption key and its ID.
type Key struct {
	ID  string
	Key [KeySize]byte
}

// NewKey returns a random key with the given ID, reading rnd
// (crypto/rand.Reader when nil).
func NewKey(id string, rnd io.Reader) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, gantry.Errorf(gantry.EInvalid, "new key: %v", err)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	k := Key{ID: id}
	if _, err := io.ReadFull(rnd, k.Key[:]); err != nil {
		return Key{}, fmt.Errorf("new key %s: read randomness: %w", id, err)
	}
	return k, nil
}

// Encode returns k as a key file line, ID:base64key. It is the key
// itself: never log it.
func (k Key) Encode() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Key[:])
}

// String returns the key's ID and Redacted in place of the key, so that a
// key printed by mistake shows nothing.
func (k Key) String() string { return k.ID + ":" + Redacted }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// add checks k and appends it; seen maps key material to the ID that has
// it, to catch one key given twice under two names.
func (r *Keyring) add(k Key, seen map[[KeySize]byte]string) error {
	if err := checkKeyID(k.ID); err != nil {
		return err
	}
	if _, dup := r.aead[k.ID]; dup {
		return fmt.Errorf("key ID %s is given twice", k.ID)
	}
	if other, dup := seen[k.Key]; dup {
		return fmt.Errorf("key %s is the same key as %s", k.ID, other)
	}
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(k.Key[:], zero[:]) == 1 {
		return fmt.Errorf("key %s is all zero bytes", k.ID)
	}
	block, err := aes.NewCipher(k.Key[:])
	if err != nil {
		return fmt.Errorf("key %s: %w", k.ID, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("key %s: %w", k.ID, err)
	}
	seen[k.Key] = k.ID
	r.ids = append(r.ids, k.ID)
	r.aead[k.ID] = aead
	return nil
}

func checkKeyID(id string) error {
	if len(id) > maxKeyIDLen || !keyIDRE.MatchString(id) {
		return fmt.Errorf("key ID %q must be 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", id, maxKeyIDLen)
	}
	return nil
}

// Current returns the ID of the current key, the one new values are sealed
// under.
func (r *Keyring) Current() string { return r.ids[0] }

// IDs returns the IDs of every key, the current first.
func (r *Keyring) IDs() []string { return slices.Clone(r.ids) }

// Has reports whether the keyring holds the key id.
func (r *Keyring) Has(id string) bool {
	_, ok := r.aead[id]
	return ok
}

// kek returns the AEAD of key id, or an error that says the key is gone.
func (r *Keyring) kek(id string) (cipher.AEAD, error) {
	a, ok := r.aead[id]
	if !ok {
		return nil, gantry.Errorf(gantry.EUnavailable, "key-encryption key %q is not in the keyring (it has %s): restore it to open what it sealed", id, strings.Join(r.ids, ", "))
	}
	return a, nil
}

// LoadKeyring loads the key-encryption keys from the key file at path, or,
// when path is empty, from the environment variable KeyringEnv as read by
// getenv (os.Getenv in main). Neither is an EInvalid error that says how
// to make a key.
func LoadKeyring(path string, getenv func(string) string) (*Keyring, error) {
	if path != "" {
		return ReadKeyFile(path)
	}
	v := ""
	if getenv != nil {
		v = getenv(KeyringEnv)
	}
	if strings.TrimSpace(v) == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "no key-encryption key: give a key file or set %s (a key file is made by secrets.GenerateKeyFile)", KeyringEnv)
	}
	entries := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	r := &Keyring{aead: map[string]cipher.AEAD{}}
	seen := map[[KeySize]byte]string{}
	for i, e := range entries {
		k, err := parseKeyEntry(e)
		if err == nil {
			err = r.add(k, seen)
		}
		if err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "%s entry %d: %v", KeyringEnv, i+1, err)
		}
	}
	if len(r.ids) == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "%s has no keys: entries ID:base64key separated by commas", KeyringEnv)
	}
	return r, nil
}

// ReadKeyFile reads a key file. The file must be a regular file that
// neither group nor others may read or write (mode 0600 or stricter):
// whoever reads it can open every secret.
func ReadKeyFile(path string) (*Keyring, error) {
	r, _, err := readKeyFile(path)
	return r, err
}

// readKeyFile reads, checks and parses a key file, and returns its text too.
func readKeyFile(path string) (*Keyring, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, gantry.Errorf(gantry.EInvalid, "read key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so that what is checked is what is read.
	st, err := f.Stat()
	if err != nil {
		return nil, nil, gantry.Errorf(gantry.EInvalid, "read key file: %w", err)
	}
	if err := checkKeyFileMode(path, st); err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, nil, gantry.Errorf(gantry.EInvalid, "read key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, nil, gantry.Errorf(gantry.EInvalid, "key file %s is larger than %d KiB", path, maxKeyFileSize>>10)
	}
	r, err := ParseKeyring(path, data)
	if err != nil {
		return nil, nil, err
	}
	return r, data, nil
}

func checkKeyFileMode(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return gantry.Errorf(gantry.EInvalid, "key file %s is not a regular file", path)
	}
	// Windows has no such mode bits; its ACLs are the operator's to set.
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return gantry.Errorf(gantry.EInvalid, "key file %s has mode %04o: group and others must not read or write it (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	return nil
}

// ParseKeyring parses the contents of a key file named source: one
// ID:base64key a line, the first the current key; blank lines and lines
// starting with # are ignored. Errors name the line but never show a key.
func ParseKeyring(source string, data []byte) (*Keyring, error) {
	r := &Keyring{aead: map[string]cipher.AEAD{}}
	seen := map[[KeySize]byte]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxKeyFileSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKeyEntry(line)
		if err == nil {
			err = r.add(k, seen)
		}
		if err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "%s:%d: %v", source, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read key file %s: %v", source, err)
	}
	if len(r.ids) == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "key file %s has no keys: one ID:base64key a line", source)
	}
	return r, nil
}

// parseKeyEntry parses ID:base64key. Its errors never hold the key text.
func parseKeyEntry(s string) (Key, error) {
	id, b64, ok := strings.Cut(s, ":")
	if !ok {
		return Key{}, errors.New("expected ID:base64key")
	}
	id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// Keys written by other tools may come unpadded.
		raw, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return Key{}, fmt.Errorf("the key of %s is not valid standard base64", id)
	}
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("the key of %s is %d bytes; a key is %d random bytes (256 bits)", id, len(raw), KeySize)
	}
	k := Key{ID: id}
	copy(k.Key[:], raw)
	return k, nil
}

// GenerateKeyFile writes a new key file at path holding one random key
// with the given ID, with mode 0600. It refuses to replace a file that
// exists: that would lose the key of every secret sealed so far (AddKey
// adds a key to an existing file).
func GenerateKeyFile(path, id string, rnd io.Reader) error {
	k, err := NewKey(id, rnd)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return gantry.Errorf(gantry.EConflict, "generate key file: %s exists; add a key to it instead of replacing it", path)
	}
	if err != nil {
		return gantry.Errorf(gantry.EInvalid, "generate key file: %w", err)
	}
	_, err = fmt.Fprintf(f, "# Gantry key-encryption keys: ID:base64key, the first is current.\n%s\n", k.Encode())
	if err == nil {
		// Secrets sealed under a key that a crash then lost would be lost too.
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("generate key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("generate key file %s: %w", path, err)
	}
	return nil
}

// AddKey puts a new random key with the given ID at the top of the
// existing key file at path, making it the current key and keeping the
// others, so that secrets sealed under them still open until rotated. The
// file is replaced atomically and keeps mode 0600.
func AddKey(path, id string, rnd io.Reader) error {
	old, data, err := readKeyFile(path)
	if err != nil {
		return err
	}
	if old.Has(id) {
		return gantry.Errorf(gantry.EConflict, "add key: key file %s already has a key %s", path, id)
	}
	k, err := NewKey(id, rnd)
	if err != nil {
		return err
	}
	// Keep the leading comments at the top, and the new key above the old ones.
	var head, rest []string
	lines := strings.SplitAfter(string(data), "\n")
	i := 0
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "#") {
			break
		}
		head = append(head, lines[i])
	}
	rest = lines[i:]
	if n := len(head); n > 0 && !strings.HasSuffix(head[n-1], "\n") {
		head[n-1] += "\n"
	}
	out := strings.Join(head, "") + k.Encode() + "\n" + strings.Join(rest, "")
	if _, err := ParseKeyring(path, []byte(out)); err != nil {
		return err
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return fmt.Errorf("add key to %s: %w", path, err)
	}
	// CreateTemp makes the file 0600. After a successful rename there is
	// nothing left to remove.
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(out); err != nil {
		tmp.Close()
		return fmt.Errorf("add key to %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("add key to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("add key to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("add key to %s: %w", path, err)
	}
	return nil
}
