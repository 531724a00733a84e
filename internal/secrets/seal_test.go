package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"gantry.dev/gantry"
)

func TestSealRoundTrip(t *testing.T) {
	s := NewSealer(mustRing(t, mustKey(t, "k1", 1), mustKey(t, "k0", 2)), testRand(3))
	ad := []byte("user:alice")
	for _, plain := range [][]byte{nil, []byte("x"), []byte("hunter2"), bytes.Repeat([]byte{0xff}, 70000)} {
		ct, err := s.Seal(plain, ad)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != len(plain)+Overhead+len("k1") {
			t.Errorf("sealed %d bytes into %d, want %d", len(plain), len(ct), len(plain)+Overhead+2)
		}
		if len(plain) > 3 && bytes.Contains(ct, plain) {
			t.Errorf("the sealed value holds the plaintext")
		}
		if id, err := SealedKeyID(ct); err != nil || id != "k1" {
			t.Errorf("SealedKeyID = %q, %v; want k1", id, err)
		}
		got, err := s.Open(ct, ad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, want %q", got, plain)
		}
	}
	// Fresh data keys and nonces: the same value seals differently.
	a, _ := s.Seal([]byte("same"), ad)
	b, _ := s.Seal([]byte("same"), ad)
	if bytes.Equal(a, b) {
		t.Errorf("two seals of one value are equal")
	}
}

func TestSealRandomSourceInjected(t *testing.T) {
	ring := mustRing(t, mustKey(t, "k1", 1))
	a, err := NewSealer(ring, testRand(9)).Seal([]byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSealer(ring, testRand(9)).Seal([]byte("v"), nil)
	if !bytes.Equal(a, b) {
		t.Errorf("the same random source gave two sealed values")
	}
	if _, err := NewSealer(ring, strings.NewReader("short")).Seal([]byte("v"), nil); err == nil {
		t.Errorf("a failing random source: no error")
	}
}

func TestOpenTampered(t *testing.T) {
	s := NewSealer(mustRing(t, mustKey(t, "k1", 1), mustKey(t, "k2", 2)), testRand(3))
	ad := []byte("p/prod/DB")
	ct, err := s.Seal([]byte("correct horse"), ad)
	if err != nil {
		t.Fatal(err)
	}
	// Every bit of a sealed value is checked: the header by the wrapped
	// key's tag, the rest by one of the two tags.
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= bit
			if got, err := s.Open(bad, ad); err == nil {
				t.Fatalf("byte %d bit %#x flipped: opened to %q", i, bit, got)
			}
		}
	}
	for _, n := range []int{0, 1, 2, len(ct) - 1} {
		if _, err := s.Open(ct[:n], ad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut to %d bytes: error = %v, want ErrCorrupt", n, err)
		}
	}
	if _, err := s.Open(append(bytes.Clone(ct), 0), ad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a byte appended: error = %v, want ErrCorrupt", err)
	}
}

func TestOpenWrongAD(t *testing.T) {
	s := NewSealer(mustRing(t, mustKey(t, "k1", 1)), nil)
	ct, err := s.Seal([]byte("v"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range [][]byte{nil, []byte("b"), []byte("a\x00"), []byte("A")} {
		if _, err := s.Open(ct, ad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ad %q: error = %v, want ErrCorrupt", ad, err)
		}
	}
}

func TestOpenKeyGone(t *testing.T) {
	old := NewSealer(mustRing(t, mustKey(t, "k0", 1)), nil)
	ct, err := old.Seal([]byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := NewSealer(mustRing(t, mustKey(t, "k1", 2)), nil)
	_, err = now.Open(ct, nil)
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(err.Error(), `key-encryption key "k0" is not in the keyring (it has k1)`) {
		t.Errorf("error = %v", err)
	}
	// A key of the same ID but other material does not open it.
	other := NewSealer(mustRing(t, mustKey(t, "k0", 3)), nil)
	if _, err := other.Open(ct, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("other key material: error = %v, want ErrCorrupt", err)
	}
}

func TestReseal(t *testing.T) {
	k1, k2 := mustKey(t, "k1", 1), mustKey(t, "k2", 2)
	ad := []byte("ad")
	ct, err := NewSealer(mustRing(t, k1), testRand(4)).Seal([]byte("value"), ad)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSealer(mustRing(t, k2, k1), testRand(5))
	re, err := s.Reseal(ct, ad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := SealedKeyID(re); id != "k2" {
		t.Errorf("resealed under %q, want k2", id)
	}
	// The value's own nonce and ciphertext are kept: only the DEK moved.
	if tail := len("value") + tagSize + nonceSize; !bytes.Equal(re[len(re)-tail:], ct[len(ct)-tail:]) {
		t.Errorf("the value's ciphertext changed")
	}
	got, err := NewSealer(mustRing(t, k2), nil).Open(re, ad)
	if err != nil || string(got) != "value" {
		t.Errorf("open with the new key alone = %q, %v", got, err)
	}
	again, err := s.Reseal(re, ad)
	if err != nil || !bytes.Equal(again, re) {
		t.Errorf("reseal under the current key changed it: %v", err)
	}
	if _, err := s.Reseal(ct, []byte("other")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("reseal with the wrong ad: error = %v", err)
	}
	if _, err := NewSealer(mustRing(t, k2), nil).Reseal(ct, ad); gantry.ErrorKind(err) != gantry.EUnavailable {
		t.Errorf("reseal without the old key: error = %v", err)
	}
}

// FuzzOpen checks that Open of any bytes, as read back from a database,
// fails cleanly or opens only what was sealed.
func FuzzOpen(f *testing.F) {
	s := NewSealer(mustRing(f, mustKey(f, "k1", 1)), testRand(2))
	good, err := s.Seal([]byte("v"), []byte("ad"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, []byte("ad"))
	f.Add([]byte{1, 2, 'k', '1'}, []byte(nil))
	f.Add([]byte{2}, []byte("ad"))
	f.Fuzz(func(t *testing.T, data, ad []byte) {
		got, err := s.Open(data, ad)
		if err != nil {
			return
		}
		if !bytes.Equal(data, good) || string(ad) != "ad" || string(got) != "v" {
			t.Fatalf("opened %x with ad %q to %q", data, ad, got)
		}
		if _, err := SealedKeyID(data); err != nil {
			t.Fatalf("opened, yet SealedKeyID fails: %v", err)
		}
	})
}
