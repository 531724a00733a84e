package gantry

import "testing"

func TestDigest(t *testing.T) {
	d := DigestBytes([]byte("abc"))
	if d != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || !d.Valid() || d.Short() != "ba7816bf8f01" {
		t.Errorf("DigestBytes(abc) = %s", d)
	}
	for _, bad := range []Digest{"", "sha256:", "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256:../../etc/passwd"} {
		if bad.Valid() {
			t.Errorf("%q is valid", bad)
		}
	}
}
