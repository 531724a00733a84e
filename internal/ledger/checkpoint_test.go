package ledger

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func testCheckpoint(size int64) Checkpoint {
	return Checkpoint{Origin: testOrigin, Size: size, Hash: tlog.RecordHash([]byte("root"))}
}

func TestCheckpointText(t *testing.T) {
	c := testCheckpoint(1234)
	text := c.Text()
	want := "gantry.test/ledger\n1234\n" + c.Hash.String() + "\n"
	if string(text) != want {
		t.Fatalf("Text() = %q, want %q", text, want)
	}
	got, err := ParseCheckpoint(text)
	if err != nil || got != c {
		t.Fatalf("ParseCheckpoint(Text()) = %v, %v; want %v", got, err, c)
	}
	// Extension lines are allowed.
	got, err = ParseCheckpoint([]byte(want + "ext one\next two\n"))
	if err != nil || got != c {
		t.Errorf("ParseCheckpoint with extension lines = %v, %v; want %v", got, err, c)
	}
}

func TestCheckpointMalformed(t *testing.T) {
	h := testCheckpoint(1).Hash.String()
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "does not end with a newline"},
		{"no final newline", "o\n1\n" + h, "does not end with a newline"},
		{"two lines", "o\n1\n", "2 lines"},
		{"empty origin", "\n1\n" + h + "\n", "origin"},
		{"spaced origin", " o\n1\n" + h + "\n", "origin"},
		{"negative size", "o\n-1\n" + h + "\n", "size \"-1\""},
		{"plus size", "o\n+1\n" + h + "\n", "size \"+1\""},
		{"leading zero", "o\n01\n" + h + "\n", "size \"01\""},
		{"hex size", "o\n0x1\n" + h + "\n", "size"},
		{"huge size", "o\n99999999999999999999\n" + h + "\n", "size"},
		{"short hash", "o\n1\n" + h[:40] + "\n", "root hash"},
		{"unpadded hash", "o\n1\n" + strings.TrimRight(h, "=") + "\n", "root hash"},
		{"url base64", "o\n1\n" + strings.NewReplacer("+", "-", "/", "_").Replace(tlog.Hash(bytes.Repeat([]byte{0xfb}, 32)).String()) + "\n", "root hash"},
		{"empty extension", "o\n1\n" + h + "\n\n", "extension line 1 is empty"},
	} {
		_, err := ParseCheckpoint([]byte(tc.text))
		if !errors.Is(err, ErrMalformedCheckpoint) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCheckpoint(%s) = %v, want ErrMalformedCheckpoint saying %q", tc.name, err, tc.want)
		}
	}
}

func TestOpenCheckpoint(t *testing.T) {
	c := testCheckpoint(42)
	msg, err := SignCheckpoint(c, testKey.signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(msg, testKey.verifier)
	if err != nil || got != c {
		t.Fatalf("OpenCheckpoint = %v, %v; want %v", got, err, c)
	}

	other := newKey(testOrigin) // same name, another key
	otherMsg, _ := SignCheckpoint(c, other.signer)
	elsewhere := newKey("elsewhere.test/log")
	elsewhereMsg, _ := SignCheckpoint(Checkpoint{Origin: elsewhere.signer.Name(), Size: 42, Hash: c.Hash}, elsewhere.signer)
	// Signed by the right key, but the text is not a checkpoint.
	badText, _ := note.Sign(&note.Note{Text: testOrigin + "\nforty-two\n" + c.Hash.String() + "\n"}, testKey.signer)
	// A note of another log, signed by a key with this log's name.
	wrongOrigin, _ := note.Sign(&note.Note{Text: string(Checkpoint{Origin: "other.test/log", Size: 42, Hash: c.Hash}.Text())}, testKey.signer)

	for _, tc := range []struct {
		name string
		msg  []byte
		err  error
		want string
	}{
		{"altered size", bytes.Replace(msg, []byte("\n42\n"), []byte("\n43\n"), 1), ErrBadSignature, "signature does not verify with key " + KeyID(testKey.verifier)},
		{"altered hash", bytes.Replace(msg, []byte(c.Hash.String()), []byte(tlog.RecordHash(nil).String()), 1), ErrBadSignature, "was altered"},
		{"another key", otherMsg, ErrUnknownKey, "signed by " + KeyID(other.verifier) + ", not by the trusted key " + KeyID(testKey.verifier)},
		{"another log's key", elsewhereMsg, ErrUnknownKey, "signed by elsewhere.test/log+"},
		{"not a checkpoint", badText, ErrMalformedCheckpoint, "size \"forty-two\""},
		{"wrong origin", wrongOrigin, ErrWrongOrigin, `of log "other.test/log", not of "gantry.test/ledger"`},
		{"no signature", c.Text(), ErrMalformedCheckpoint, "not a signed note"},
		{"empty", nil, ErrMalformedCheckpoint, "not a signed note"},
		{"huge", bytes.Repeat([]byte("x"), maxNote+1), ErrMalformedCheckpoint, "more than"},
	} {
		_, err := OpenCheckpoint(tc.msg, testKey.verifier)
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenCheckpoint(%s) = %v, want %v saying %q", tc.name, err, tc.err, tc.want)
		}
	}
	if _, err := SignCheckpoint(Checkpoint{Origin: "other", Size: 1}, testKey.signer); err == nil {
		t.Error("SignCheckpoint of another origin than the key's name: no error")
	}
}

// FuzzParseCheckpoint checks that ParseCheckpoint does not panic, and
// that what it accepts without extension lines is exactly the text of the
// checkpoint it returns.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add(testCheckpoint(0).Text())
	f.Add(testCheckpoint(1 << 40).Text())
	f.Add(append(testCheckpoint(7).Text(), "ext\n"...))
	f.Add([]byte("o\n01\nAAAA\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if c.Size < 0 || c.Origin == "" {
			t.Fatalf("ParseCheckpoint(%q) = %v", text, c)
		}
		if bytes.Count(text, []byte("\n")) == 3 && !bytes.Equal(c.Text(), text) {
			t.Fatalf("ParseCheckpoint(%q) = %v, whose text is %q", text, c, c.Text())
		}
	})
}

// FuzzOpenCheckpoint checks that OpenCheckpoint does not panic on any
// note, and accepts only notes that the test key signed.
func FuzzOpenCheckpoint(f *testing.F) {
	msg, _ := SignCheckpoint(testCheckpoint(5), testKey.signer)
	f.Add(msg)
	f.Add(append(msg, "— other abc\n"...))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := OpenCheckpoint(msg, testKey.verifier)
		if err != nil {
			return
		}
		if c.Origin != testOrigin {
			t.Fatalf("OpenCheckpoint(%q) = %v", msg, c)
		}
	})
}
