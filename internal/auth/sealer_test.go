package auth

import (
	"bytes"
	"testing"
)

func TestAESGCM(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := NewAESGCM(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("JBSWY3DPEHPK3PXP"), []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("sealed value holds the plaintext")
	}
	got, err := s.Open(sealed, []byte("alice"))
	if err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := s.Seal([]byte("JBSWY3DPEHPK3PXP"), []byte("alice"))
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if _, err := s.Open(sealed, []byte("bob")); err == nil {
		t.Error("Open with other associated data succeeded")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(tampered, []byte("alice")); err == nil {
		t.Error("Open of a tampered value succeeded")
	}
	if _, err := s.Open(sealed[:20], []byte("alice")); err == nil {
		t.Error("Open of a short value succeeded")
	}
	other, _ := NewAESGCM(bytes.Repeat([]byte{8}, 32), nil)
	if _, err := other.Open(sealed, []byte("alice")); err == nil {
		t.Error("Open under another key succeeded")
	}
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewAESGCM(make([]byte, n), nil); err == nil {
			t.Errorf("NewAESGCM accepted a %d-byte key", n)
		}
	}
}
