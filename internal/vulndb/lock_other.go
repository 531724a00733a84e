//go:build !unix

package vulndb

import (
	"fmt"
	"os"
)

// lockFile takes the lock by creating path exclusively; a killed update
// leaves it behind, to be removed by hand.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("another update holds %s (remove it if none runs): %w", path, err)
	}
	f.Close()
	return func() { os.Remove(path) }, nil
}
