package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestTrust(t *testing.T) {
	l, st, _ := newLog(t)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "trust")
	trust := NewTrust(dir)
	v := testKey.verifier

	if c, err := trust.Trusted(v); c != nil || err != nil {
		t.Fatalf("Trusted before anything = %v, %v", c, err)
	}
	mustAppend(t, l, leaves(0, 5)...)
	c5 := mustCheckpoint(t, l)
	// Trusted on first use.
	if _, err := trust.Update(v, c5.Note, nil); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, leaves(5, 12)...)
	c17 := mustCheckpoint(t, l)
	cs, err := ProveConsistency(ctx, st, 5, 17)
	if err != nil {
		t.Fatal(err)
	}
	// Without the proof, the newer one is refused; with it, trusted.
	if _, err := trust.Update(v, c17.Note, nil); !errors.Is(err, ErrFork) {
		t.Errorf("Update to 17 without a proof: %v, want ErrFork", err)
	}
	if _, err := trust.Update(v, c17.Note, cs.Proof); err != nil {
		t.Fatal(err)
	}
	got, err := trust.Trusted(v)
	if err != nil || got.Checkpoint != c17.Checkpoint {
		t.Fatalf("Trusted = %v, %v; want %v", got, err, c17.Checkpoint)
	}
	// The same again is fine; an older one is not.
	if _, err := trust.Update(v, c17.Note, nil); err != nil {
		t.Errorf("Update to the trusted checkpoint again: %v", err)
	}
	if _, err := trust.Update(v, c5.Note, nil); !errors.Is(err, ErrStale) {
		t.Errorf("Update to an older checkpoint: %v, want ErrStale", err)
	}
	// One file per origin, with a name that is safe.
	files, _ := os.ReadDir(dir)
	if len(files) != 1 || files[0].Name() != "gantry.test%2Fledger.checkpoint" {
		t.Errorf("trust files: %v", files)
	}
	if p := trust.path("../../etc/passwd"); filepath.Dir(p) != dir {
		t.Errorf("path of a hostile origin is %s, outside %s", p, dir)
	}
	// A checkpoint signed by another key is refused before anything.
	other := newKey(testOrigin)
	forged, _ := SignCheckpoint(c17.Checkpoint, other.signer)
	if _, err := trust.Update(v, forged, nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Update to a checkpoint of another key: %v, want ErrUnknownKey", err)
	}
	// A trusted file altered on disk is noticed.
	b, _ := os.ReadFile(trust.path(testOrigin))
	os.WriteFile(trust.path(testOrigin), []byte(strings.Replace(string(b), "\n17\n", "\n18\n", 1)), 0o644)
	if _, err := trust.Trusted(v); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Trusted of an altered file: %v, want ErrBadSignature", err)
	}
}

func TestCheckConsistencyEmpty(t *testing.T) {
	empty := Checkpoint{Origin: testOrigin, Hash: emptyHash}
	c := testCheckpoint(3)
	if err := CheckConsistency(empty, c, nil); err != nil {
		t.Errorf("the empty tree is not in every tree: %v", err)
	}
	bad := empty
	bad.Hash = tlog.RecordHash(nil)
	if err := CheckConsistency(bad, c, nil); !errors.Is(err, ErrInconsistent) {
		t.Errorf("an empty tree with another hash: %v, want ErrInconsistent", err)
	}
	if err := CheckConsistency(c, empty, nil); !errors.Is(err, ErrInconsistent) {
		t.Errorf("a tree in the empty one: %v, want ErrInconsistent", err)
	}
}
