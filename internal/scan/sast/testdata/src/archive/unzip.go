// Package archive extracts archives.
package archive

import (
	"archive/zip"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Extract writes each entry where its name says: zip slip.
func Extract(zr *zip.Reader, dest string) error {
	for _, f := range zr.File {
		target := filepath.Join(dest, f.Name) // want: G305
		if err := write(f, target); err != nil {
			return err
		}
	}
	return nil
}

// SafeExtract rejects entries that would land outside dest.
func SafeExtract(zr *zip.Reader, dest string) error {
	base := filepath.Clean(dest) + string(os.PathSeparator)
	for _, f := range zr.File {
		name := filepath.Clean(filepath.FromSlash(f.Name))
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			return errors.New("entry outside destination")
		}
		target := filepath.Join(base, name)
		if !strings.HasPrefix(target, base) {
			return errors.New("entry outside destination")
		}
		if err := write(f, target); err != nil {
			return err
		}
	}
	return nil
}

func write(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.CopyN(out, rc, 1<<30)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// Gunzip decompresses without a size limit: decompression bomb.
func Gunzip(dst io.Writer, src io.Reader) error {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, zr) // want: G110
	return err
}

// SafeGunzip stops at a maximum size.
func SafeGunzip(dst io.Writer, src io.Reader) error {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, io.LimitReader(zr, 64<<20))
	return err
}
