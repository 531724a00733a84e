package evidence

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The encrypted private key format; the package documentation describes
// it.
const (
	encryptedBlockType = "GANTRY ENCRYPTED PRIVATE KEY"
	contentPKCS8       = "pkcs8"
	contentNote        = "note"
)

// The argon2id parameters of new keys: the second recommended option of
// RFC 9106 (64 MiB), which takes a fraction of a second.
const (
	kdfTime    = 3
	kdfMemory  = 64 * 1024 // KiB
	kdfThreads = 4
)

// Limits on the parameters a key file may ask for, so that a crafted file
// cannot make loading it take all memory or forever.
const (
	maxKDFTime    = 64
	maxKDFMemory  = 1 << 20 // KiB: 1 GiB
	maxKDFThreads = 64
)

// headerOrder is the order of the headers in the additional data.
var headerOrder = []string{"Content", "KDF", "KDF-Params", "Salt", "Cipher", "Nonce"}

// encryptKey encrypts a private key's plaintext under a passphrase into a
// PEM file.
func encryptKey(random io.Reader, passphrase []byte, content string, plain []byte) ([]byte, error) {
	salt := make([]byte, 16)
	nonce := make([]byte, 12)
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, fmt.Errorf("encrypt key: salt: %w", err)
	}
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, fmt.Errorf("encrypt key: nonce: %w", err)
	}
	block := &pem.Block{Type: encryptedBlockType, Headers: map[string]string{
		"Content":    content,
		"KDF":        "argon2id",
		"KDF-Params": fmt.Sprintf("t=%d,m=%d,p=%d", kdfTime, kdfMemory, kdfThreads),
		"Salt":       base64.StdEncoding.EncodeToString(salt),
		"Cipher":     "aes-256-gcm",
		"Nonce":      base64.StdEncoding.EncodeToString(nonce),
	}}
	aead, err := newAEAD(passphrase, salt, kdfTime, kdfMemory, kdfThreads)
	if err != nil {
		return nil, err
	}
	block.Bytes = aead.Seal(nil, nonce, plain, additionalData(block))
	return pem.EncodeToMemory(block), nil
}

// decryptKey returns the plaintext of an encrypted key block whose content
// must be want.
func decryptKey(block *pem.Block, want string, passphrase []byte) ([]byte, error) {
	h := block.Headers
	for name := range h {
		if !isHeader(name) {
			return nil, fmt.Errorf("encrypted key: unknown header %q", name)
		}
	}
	if h["Content"] != want {
		return nil, fmt.Errorf("encrypted key holds %q, want %q", h["Content"], want)
	}
	if h["KDF"] != "argon2id" || h["Cipher"] != "aes-256-gcm" {
		return nil, fmt.Errorf("encrypted key: unsupported KDF %q or cipher %q (want argon2id and aes-256-gcm)", h["KDF"], h["Cipher"])
	}
	t, m, p, err := parseKDFParams(h["KDF-Params"])
	if err != nil {
		return nil, err
	}
	salt, err := base64.StdEncoding.DecodeString(h["Salt"])
	if err != nil || len(salt) < 16 {
		return nil, errors.New("encrypted key: the salt is not base64 of at least 16 bytes")
	}
	nonce, err := base64.StdEncoding.DecodeString(h["Nonce"])
	if err != nil || len(nonce) != 12 {
		return nil, errors.New("encrypted key: the nonce is not base64 of 12 bytes")
	}
	if len(passphrase) == 0 {
		return nil, ErrPassphraseRequired
	}
	aead, err := newAEAD(passphrase, salt, t, m, p)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nonce, block.Bytes, additionalData(block))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

func newAEAD(passphrase, salt []byte, t, m uint32, p uint8) (cipher.AEAD, error) {
	key := argon2.IDKey(passphrase, salt, t, m, p, 32)
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encrypted key: %w", err)
	}
	aead, err := cipher.NewGCM(c)
	if err != nil {
		return nil, fmt.Errorf("encrypted key: %w", err)
	}
	return aead, nil
}

// additionalData binds the block type and every header to the
// ciphertext.
func additionalData(block *pem.Block) []byte {
	var b strings.Builder
	b.WriteString(block.Type)
	b.WriteByte('\n')
	for _, name := range headerOrder {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(block.Headers[name])
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func isHeader(name string) bool {
	for _, h := range headerOrder {
		if h == name {
			return true
		}
	}
	return false
}

// parseKDFParams reads "t=3,m=65536,p=4" within the limits.
func parseKDFParams(s string) (t, m uint32, p uint8, err error) {
	bad := func(why string) (uint32, uint32, uint8, error) {
		return 0, 0, 0, fmt.Errorf("encrypted key: KDF-Params %q: %s (want t=N,m=KiB,p=N)", s, why)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return bad("not three parameters")
	}
	var v [3]uint64
	for i, name := range []string{"t", "m", "p"} {
		num, ok := strings.CutPrefix(parts[i], name+"=")
		if !ok {
			return bad("parameter " + strconv.Itoa(i+1) + " is not " + name)
		}
		if v[i], err = strconv.ParseUint(num, 10, 32); err != nil {
			return bad("parameter " + name + " is not a number")
		}
	}
	if v[0] < 1 || v[0] > maxKDFTime || v[2] < 1 || v[2] > maxKDFThreads || v[1] < 8*v[2] || v[1] > maxKDFMemory {
		return bad("out of range")
	}
	return uint32(v[0]), uint32(v[1]), uint8(v[2]), nil
}
