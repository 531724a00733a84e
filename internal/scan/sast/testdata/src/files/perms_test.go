package files

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSafeSaveToken(t *testing.T) {
	dir := t.TempDir()
	if err := SafeSaveToken(dir, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The test leaves a world-readable copy behind: test code is scanned too.
	if err := os.WriteFile(filepath.Join(dir, "copy"), []byte("x"), 0o644); err != nil { // want: G306
		t.Fatal(err)
	}
}
