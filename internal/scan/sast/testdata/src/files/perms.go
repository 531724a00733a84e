// Package files writes state to disk, sometimes with loose permissions.
package files

import (
	"os"
	"path/filepath"
)

// WorldWritableDir creates a directory anyone can write to.
func WorldWritableDir(dir string) error {
	return os.MkdirAll(dir, 0o777) // want: G301
}

// SharedLog opens a log file anyone can write to.
func SharedLog(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "app.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666) // want: G302
}

// OpenUp makes a file world-writable.
func OpenUp(dir string) error {
	return os.Chmod(filepath.Join(dir, "state.json"), 0o777) // want: G302
}

// SaveToken writes a secret readable by everyone.
func SaveToken(dir string, token []byte) error {
	return os.WriteFile(filepath.Join(dir, "token"), token, 0o644) // want: G306
}

// PrivateDir creates a directory only its owner and group can use.
func PrivateDir(dir string) error {
	return os.MkdirAll(dir, 0o750)
}

// SafeSaveToken writes a secret readable only by its owner.
func SafeSaveToken(dir string, token []byte) error {
	return os.WriteFile(filepath.Join(dir, "token"), token, 0o600)
}

// SafeLog opens a log file only its owner can write.
func SafeLog(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "app.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}
