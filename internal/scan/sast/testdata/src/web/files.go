package web

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Files serves documents from a directory.
type Files struct {
	BaseDir string
}

// Download reads a file named by the request: path traversal.
func (f *Files) Download(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(filepath.Join(f.BaseDir, r.URL.Query().Get("file"))) // want: G304 G703
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

// SafeDownload cleans the name and checks it stays under the base directory.
func (f *Files) SafeDownload(w http.ResponseWriter, r *http.Request) {
	base := filepath.Clean(f.BaseDir)
	p := filepath.Join(base, filepath.Clean("/"+r.URL.Query().Get("file")))
	if !strings.HasPrefix(p, base+string(os.PathSeparator)) {
		http.Error(w, "bad name", http.StatusBadRequest)
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

// SafeOpen opens the file through os.Root, which refuses names that leave
// the directory.
func (f *Files) SafeOpen(name string) (*os.File, error) {
	root, err := os.OpenRoot(f.BaseDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(name)
}

// SafeDoc reads a name checked with filepath.IsLocal, which refuses
// absolute names and any that climb with "..".
func (f *Files) SafeDoc(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("doc")
	if !filepath.IsLocal(name) {
		http.Error(w, "bad name", http.StatusBadRequest)
		return
	}
	data, err := os.ReadFile(filepath.Join(f.BaseDir, name))
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(data)
}

// PrefixOnly checks the prefix of a path it never cleaned, which "../"
// defeats: path traversal.
func (f *Files) PrefixOnly(w http.ResponseWriter, r *http.Request) {
	p := f.BaseDir + "/" + r.URL.Query().Get("file")
	if !strings.HasPrefix(p, f.BaseDir) {
		http.Error(w, "bad name", http.StatusBadRequest)
		return
	}
	data, err := os.ReadFile(p) // want: G304 G703
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}
