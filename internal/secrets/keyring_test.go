package secrets

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry"
	"github.com/google/go-cmp/cmp"
)

// testRand returns a deterministic random source, so tests make the same
// keys and nonces every time.
func testRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func mustKey(t testing.TB, id string, seed byte) Key {
	t.Helper()
	k, err := NewKey(id, testRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t testing.TB, keys ...Key) *Keyring {
	t.Helper()
	r, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func b64(n int, fill byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(fill)), n)))
}

func TestParseKeyring(t *testing.T) {
	k1, k2 := mustKey(t, "k2026", 1), mustKey(t, "old.key-1", 2)
	data := "# keys\n\n" + k1.Encode() + "\n  " + k2.Encode() + "  \n# retired: none\n"
	r, err := ParseKeyring("keys", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if r.Current() != "k2026" {
		t.Errorf("Current = %q, want k2026", r.Current())
	}
	if diff := cmp.Diff([]string{"k2026", "old.key-1"}, r.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	if !r.Has("old.key-1") || r.Has("k3") {
		t.Errorf("Has is wrong")
	}
	// Unpadded base64 from other tools is taken too.
	unpadded := "u:" + strings.TrimRight(b64(32, 7), "=")
	if _, err := ParseKeyring("keys", []byte(unpadded)); err != nil {
		t.Errorf("unpadded key: %v", err)
	}
}

func TestParseKeyringErrors(t *testing.T) {
	good := mustKey(t, "a", 1).Encode()
	secretText := b64(31, 9) // a key that must never show in an error
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "keys has no keys"},
		{"only comments", "# nothing\n\n", "keys has no keys"},
		{"no colon", "abc", "keys:1: expected ID:base64key"},
		{"empty id", ":" + b64(32, 1), `keys:1: key ID "" must be`},
		{"bad id", "a b:" + b64(32, 1), `keys:1: key ID "a b" must be`},
		{"id too long", strings.Repeat("x", 65) + ":" + b64(32, 1), "must be 1 to 64"},
		{"bad base64", "k:" + secretText[:10] + "!!", "keys:1: the key of k is not valid standard base64"},
		{"short key", good + "\nk:" + secretText, "keys:2: the key of k is 31 bytes; a key is 32 random bytes"},
		{"long key", "k:" + b64(64, 1), "the key of k is 64 bytes"},
		{"duplicate id", good + "\n" + "a:" + b64(32, 5), "keys:2: key ID a is given twice"},
		{"same key twice", good + "\nb" + strings.TrimPrefix(good, "a"), "keys:2: key b is the same key as a"},
		{"zero key", "z:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "keys:1: key z is all zero bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring("keys", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Errorf("kind = %s, want invalid", gantry.ErrorKind(err))
			}
			if strings.Contains(err.Error(), secretText[:10]) {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func TestReadKeyFilePermissions(t *testing.T) {
	dir := t.TempDir()
	line := mustKey(t, "k1", 1).Encode() + "\n"
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o604, false},
		{0o620, false},
		{0o644, false},
	} {
		path := filepath.Join(dir, "keys-"+tc.mode.String())
		writeFile(t, path, line, tc.mode)
		r, err := ReadKeyFile(path)
		if tc.ok {
			if err != nil || r.Current() != "k1" {
				t.Errorf("mode %04o: %v", tc.mode, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "group and others must not read or write it (chmod 600") {
			t.Errorf("mode %04o: error = %v, want a refusal", tc.mode, err)
		}
	}
	if _, err := ReadKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: error = %v", err)
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "none")); err == nil || gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("missing file: error = %v", err)
	}
	big := filepath.Join(dir, "big")
	writeFile(t, big, strings.Repeat("#\n", 40<<10), 0o600)
	if _, err := ReadKeyFile(big); err == nil || !strings.Contains(err.Error(), "larger than 64 KiB") {
		t.Errorf("big file: error = %v", err)
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := mustKey(t, "k1", 1), mustKey(t, "k2", 2)
	path := filepath.Join(dir, "keys")
	writeFile(t, path, k1.Encode()+"\n", 0o600)
	env := map[string]string{KeyringEnv: k2.Encode() + ", " + k1.Encode()}
	getenv := func(k string) string { return env[k] }

	r, err := LoadKeyring(path, getenv)
	if err != nil || r.Current() != "k1" || len(r.IDs()) != 1 {
		t.Errorf("file: %v, %v", r, err)
	}
	r, err = LoadKeyring("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"k2", "k1"}, r.IDs()); diff != "" {
		t.Errorf("env IDs (-want +got):\n%s", diff)
	}
	env[KeyringEnv] = k2.Encode() + "\n" + k1.Encode() + "\n"
	if r, err := LoadKeyring("", getenv); err != nil || r.Current() != "k2" {
		t.Errorf("env with newlines: %v", err)
	}

	for _, v := range []string{"", " , "} {
		env[KeyringEnv] = v
		if _, err := LoadKeyring("", getenv); err == nil || !strings.Contains(err.Error(), KeyringEnv) {
			t.Errorf("env %q: error = %v", v, err)
		}
	}
	if _, err := LoadKeyring("", nil); err == nil || !strings.Contains(err.Error(), "no key-encryption key") {
		t.Errorf("nothing: error = %v", err)
	}
	env[KeyringEnv] = k1.Encode() + ",k2:no!pe"
	if _, err := LoadKeyring("", getenv); err == nil || !strings.Contains(err.Error(), KeyringEnv+" entry 2: the key of k2 is not valid") {
		t.Errorf("bad entry: error = %v", err)
	}
}

func TestGenerateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := GenerateKeyFile(path, "k1", testRand(1)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o, want 0600", st.Mode().Perm())
	}
	r, err := ReadKeyFile(path)
	if err != nil || r.Current() != "k1" {
		t.Fatalf("read back: %v", err)
	}
	if err := GenerateKeyFile(path, "k2", nil); gantry.ErrorKind(err) != gantry.EConflict {
		t.Errorf("over an existing file: error = %v, want a conflict", err)
	}
	if err := GenerateKeyFile(filepath.Join(dir, "other"), "bad id", nil); err == nil {
		t.Errorf("bad ID: no error")
	}
	// Two files from the real random source hold different keys.
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := GenerateKeyFile(a, "k", nil); err != nil {
		t.Fatal(err)
	}
	if err := GenerateKeyFile(b, "k", nil); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if string(da) == string(db) {
		t.Errorf("two generated key files are the same")
	}
}

func TestAddKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := GenerateKeyFile(path, "k1", testRand(1)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := AddKey(path, "k2", testRand(2)); err != nil {
		t.Fatal(err)
	}
	r, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"k2", "k1"}, r.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	after, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(after), "# Gantry key-encryption keys") {
		t.Errorf("the comment is no longer first:\n%s", after)
	}
	oldLine := strings.Split(strings.TrimSpace(string(before)), "\n")[1]
	if !strings.HasSuffix(string(after), oldLine+"\n") {
		t.Errorf("the old key is not kept last:\n%s", after)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o, want 0600", st.Mode().Perm())
	}
	if err := AddKey(path, "k1", nil); gantry.ErrorKind(err) != gantry.EConflict {
		t.Errorf("existing ID: error = %v", err)
	}
	os.Chmod(path, 0o644)
	if err := AddKey(path, "k3", nil); err == nil {
		t.Errorf("group-readable file: no error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestNewKeyring(t *testing.T) {
	if _, err := NewKeyring(); err == nil {
		t.Errorf("no keys: no error")
	}
	k := mustKey(t, "a", 1)
	if _, err := NewKeyring(k, k); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("twice: error = %v", err)
	}
	_, err := NewKey("a", strings.NewReader("short"))
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short randomness: error = %v", err)
	}
}

// FuzzParseKeyring checks that a key file of any content is parsed or
// refused without a panic, that what is accepted holds only well-formed
// IDs, and that no error shows a line's key text.
func FuzzParseKeyring(f *testing.F) {
	f.Add([]byte("# c\nk1:" + b64(32, 1) + "\nk0:" + b64(32, 2) + "\n"))
	f.Add([]byte("k1:" + b64(31, 1)))
	f.Add([]byte("k1" + b64(32, 1)))
	f.Add([]byte(":\n:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseKeyring("f", data)
		if err != nil {
			if r != nil {
				t.Fatal("a keyring and an error")
			}
			return
		}
		if len(r.IDs()) == 0 || r.Current() != r.IDs()[0] {
			t.Fatalf("accepted a keyring with IDs %v", r.IDs())
		}
		for _, id := range r.IDs() {
			if checkKeyID(id) != nil {
				t.Fatalf("accepted bad ID %q", id)
			}
		}
	})
}

func TestKeyPrintsNoKey(t *testing.T) {
	k := mustKey(t, "k1", 1)
	enc := strings.TrimPrefix(k.Encode(), "k1:")
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %s %+v %#v", k, k, k, k)} {
		if strings.Contains(s, enc) || !strings.Contains(s, "k1:***") {
			t.Errorf("printed key: %s", s)
		}
	}
}
