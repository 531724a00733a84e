package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// upstream is a local stand-in for OSV's bucket and vuln.go.dev, serving
// the database in testdata: the OSV entries zipped per ecosystem under
// /osv/<Ecosystem>/all.zip, the Go database gzipped under /go/.
type upstream struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	files    map[string][]byte // URL path → body
	gets     map[string]int    // 200 responses by path
	notMod   map[string]int    // 304 responses by path
	modified time.Time
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{t: t, files: map[string][]byte{}, gets: map[string]int{}, notMod: map[string]int{},
		modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, eco := range []string{"npm", "PyPI"} {
		u.files["/osv/"+eco+"/all.zip"] = zipDir(t, filepath.Join("testdata", "osv", eco), nil)
	}
	err := filepath.WalkDir(filepath.Join("testdata", "go"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("testdata", p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == filepath.Join("go", "index", "modules.json") {
			// As a server that decompressed it on the way would.
			u.files["/"+filepath.ToSlash(rel)+".gz"] = b
		} else {
			u.files["/"+filepath.ToSlash(rel)+".gz"] = gz(t, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	body, ok := u.files[r.URL.Path]
	mod := u.modified
	u.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	rec := &statusWriter{ResponseWriter: w}
	http.ServeContent(rec, r, path.Base(r.URL.Path), mod, bytes.NewReader(body))
	u.mu.Lock()
	defer u.mu.Unlock()
	switch rec.status {
	case http.StatusOK:
		u.gets[r.URL.Path]++
	case http.StatusNotModified:
		u.notMod[r.URL.Path]++
	}
}

func (u *upstream) set(p string, body []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.files[p] = body
	u.modified = u.modified.Add(time.Hour)
}

func (u *upstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.gets, u.notMod = map[string]int{}, map[string]int{}
}

func (u *upstream) options() UpdateOptions {
	return UpdateOptions{
		OSVBaseURL: u.srv.URL + "/osv",
		GoBaseURL:  u.srv.URL + "/go/",
		Ecosystems: []string{"npm", "PyPI"},
		Client:     u.srv.Client(),
		Now:        func() time.Time { return time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC) },
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// zipDir zips the .json files of dir, plus extra files, as OSV's export
// does: one <ID>.json per entry at the top.
func zipDir(t *testing.T, dir string, extra map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, d := range des {
		b, err := os.ReadFile(filepath.Join(dir, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[d.Name()] = b
	}
	for name, b := range extra {
		files[name] = b
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot records every file of a database and its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// leftovers lists what an update left beside the database other than the
// database and its lock file.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		if d.Name() != filepath.Base(dir) && d.Name() != "."+filepath.Base(dir)+".lock" {
			out = append(out, d.Name())
		}
	}
	return out
}

func TestUpdate(t *testing.T) {
	up := newUpstream(t)
	dir := filepath.Join(t.TempDir(), "vulndb")
	var progress bytes.Buffer
	opts := up.options()
	opts.Progress = &progress

	st, err := Update(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		Dir:        dir,
		Updated:    time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC),
		Entries:    map[string]int{"npm": 2, "PyPI": 1},
		GoEntries:  2,
		Downloaded: 6, // two zips, db.json, modules.json, two entries
	}
	if diff := cmp.Diff(want, st, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Bytes" }, cmp.Ignore())); diff != "" {
		t.Errorf("Update stats (-want +got):\n%s", diff)
	}
	if st.Bytes == 0 {
		t.Error("Update stats: no bytes counted")
	}
	for _, line := range []string{"vulndb: osv npm: downloaded", "vulndb: osv PyPI: downloaded", "vulndb: go: 2 entries (2 downloaded, 0 unchanged)", "vulndb: updated "} {
		if !strings.Contains(progress.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, progress.String())
		}
	}

	desc, err := Describe(dir)
	if err != nil {
		t.Fatal(err)
	}
	want.Downloaded = 0
	if diff := cmp.Diff(want, desc); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	if got := desc.Age(want.Updated.Add(36 * time.Hour)); got != 36*time.Hour {
		t.Errorf("Age = %s, want 36h", got)
	}

	// The Go database is stored as govulncheck reads it from a file URL:
	// uncompressed, in the v1 layout.
	for _, p := range []string{"go/index/db.json", "go/index/modules.json", "go/ID/GO-2099-0101.json", "go/ID/GO-2099-0102.json"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not JSON", p)
		}
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Match(context.Background(), []Query{{Ecosystem: "npm", Name: "acme-left-pad", Version: "1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matches) != 1 || res.Matches[0].Entry.ID != "GANTRY-TEST-0101" {
		t.Errorf("Match on the zipped database = %+v, want GANTRY-TEST-0101", res.Matches)
	}
	if !db.HasGo() || db.GoDir() != filepath.Join(dir, "go") {
		t.Errorf("HasGo = %v, GoDir = %s", db.HasGo(), db.GoDir())
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("left beside the database: %v", l)
	}

	// Nothing changed upstream: every file is answered 304 or reused.
	up.reset()
	before := snapshot(t, dir)
	st, err = Update(context.Background(), dir, up.options())
	if err != nil {
		t.Fatal(err)
	}
	if st.Downloaded != 0 || st.NotModified != 3 || st.Bytes != 0 {
		t.Errorf("unchanged update: downloaded %d, not modified %d, %d bytes; want 0, 3, 0", st.Downloaded, st.NotModified, st.Bytes)
	}
	if len(up.gets) != 0 {
		t.Errorf("unchanged update fetched %v", up.gets)
	}
	after := snapshot(t, dir)
	delete(before, "manifest.json")
	delete(after, "manifest.json")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("unchanged update changed files (-before +after):\n%s", diff)
	}

	// One zip and one Go entry change: only they are fetched again.
	up.reset()
	up.set("/osv/npm/all.zip", zipDir(t, filepath.Join("testdata", "osv", "npm"), map[string][]byte{
		"GANTRY-TEST-0109.json": []byte(`{"id":"GANTRY-TEST-0109","modified":"2025-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"acme-new"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`),
	}))
	up.set("/go/index/db.json.gz", gz(t, []byte(`{"modified":"2025-02-01T00:00:00Z"}`)))
	up.set("/go/index/modules.json.gz", []byte(`[{"path":"example.com/alpha","vulns":[{"id":"GO-2099-0101","modified":"2025-02-01T00:00:00Z"}]},
		{"path":"example.com/beta","vulns":[{"id":"GO-2099-0102","modified":"2025-01-01T00:00:00Z"}]}]`))
	st, err = Update(context.Background(), dir, up.options())
	if err != nil {
		t.Fatal(err)
	}
	wantGets := map[string]int{"/osv/npm/all.zip": 1, "/go/index/db.json.gz": 1, "/go/index/modules.json.gz": 1, "/go/ID/GO-2099-0101.json.gz": 1}
	if diff := cmp.Diff(wantGets, up.gets); diff != "" {
		t.Errorf("changed update fetched (-want +got):\n%s", diff)
	}
	if st.Entries["npm"] != 3 || st.NotModified != 2 {
		t.Errorf("changed update: %d npm entries, %d not modified; want 3, 2", st.Entries["npm"], st.NotModified)
	}
}

func TestUpdateFailureKeepsPrevious(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, up *upstream, opts *UpdateOptions)
		want   string
	}{
		{"corrupt zip", func(t *testing.T, up *upstream, _ *UpdateOptions) {
			z := zipDir(t, filepath.Join("testdata", "osv", "npm"), nil)
			up.set("/osv/npm/all.zip", z[:len(z)/2])
		}, "not a valid zip"},
		{"entry that is not JSON", func(t *testing.T, up *upstream, _ *UpdateOptions) {
			up.set("/osv/PyPI/all.zip", zipDir(t, filepath.Join("testdata", "osv", "PyPI"), map[string][]byte{"BROKEN-1.json": []byte(`{"id": "BROKEN-1", "affected": [`)}))
		}, "BROKEN-1.json"},
		{"entry without an id", func(t *testing.T, up *upstream, _ *UpdateOptions) {
			up.set("/osv/PyPI/all.zip", zipDir(t, filepath.Join("testdata", "osv", "PyPI"), map[string][]byte{"X.json": []byte(`{"summary": "no id"}`)}))
		}, "has no id"},
		{"go entry under another id", func(t *testing.T, up *upstream, _ *UpdateOptions) {
			up.set("/go/index/db.json.gz", gz(t, []byte(`{"modified":"2025-03-01T00:00:00Z"}`)))
			b, _ := os.ReadFile(filepath.Join("testdata", "go", "ID", "GO-2099-0102.json"))
			up.set("/go/ID/GO-2099-0101.json.gz", gz(t, b))
			up.set("/go/index/modules.json.gz", []byte(`[{"path":"example.com/alpha","vulns":[{"id":"GO-2099-0101","modified":"2025-03-01T00:00:00Z"}]}]`))
		}, "holds GO-2099-0102"},
		{"go index with a path in an id", func(t *testing.T, up *upstream, _ *UpdateOptions) {
			up.set("/go/index/db.json.gz", gz(t, []byte(`{"modified":"2025-03-01T00:00:00Z"}`)))
			up.set("/go/index/modules.json.gz", []byte(`[{"path":"example.com/alpha","vulns":[{"id":"../../etc/passwd","modified":"2025-03-01T00:00:00Z"}]}]`))
		}, "not valid"},
		{"missing ecosystem", func(t *testing.T, up *upstream, opts *UpdateOptions) {
			opts.Ecosystems = append(opts.Ecosystems, "crates.io")
		}, "404"},
		{"file over the size limit", func(t *testing.T, up *upstream, opts *UpdateOptions) {
			up.set("/osv/npm/all.zip", zipDir(t, filepath.Join("testdata", "osv", "npm"), map[string][]byte{"NEW-1.json": []byte(`{"id":"NEW-1"}`)}))
			opts.MaxFileBytes = 300
		}, "limit"},
		{"entry over the size limit", func(t *testing.T, up *upstream, opts *UpdateOptions) {
			up.set("/osv/npm/all.zip", zipDir(t, filepath.Join("testdata", "osv", "npm"), map[string][]byte{"BIG-1.json": append([]byte(`{"id":"BIG-1","details":"`+strings.Repeat("x", 8192)), `"}`...)}))
			opts.MaxEntryBytes = 4096
		}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t)
			dir := filepath.Join(t.TempDir(), "vulndb")
			if _, err := Update(context.Background(), dir, up.options()); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			descBefore, err := Describe(dir)
			if err != nil {
				t.Fatal(err)
			}
			opts := up.options()
			tt.break_(t, up, &opts)
			_, err = Update(context.Background(), dir, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Update error = %v, want one mentioning %q", err, tt.want)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("failed update changed the database (-before +after):\n%s", diff)
			}
			descAfter, err := Describe(dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(descBefore, descAfter); diff != "" {
				t.Errorf("Describe after a failed update (-before +after):\n%s", diff)
			}
			if l := leftovers(t, dir); len(l) > 0 {
				t.Errorf("left beside the database: %v", l)
			}
		})
	}
}

func TestUpdateFirstFailureLeavesNothing(t *testing.T) {
	up := newUpstream(t)
	z := zipDir(t, filepath.Join("testdata", "osv", "npm"), nil)
	up.set("/osv/npm/all.zip", z[:10])
	dir := filepath.Join(t.TempDir(), "vulndb")
	if _, err := Update(context.Background(), dir, up.options()); err == nil {
		t.Fatal("Update of a corrupt zip succeeded")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a failed first update left %s: %v", dir, err)
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("left beside the database: %v", l)
	}
}

func TestUpdateCancelled(t *testing.T) {
	up := newUpstream(t)
	dir := filepath.Join(t.TempDir(), "vulndb")
	if _, err := Update(context.Background(), dir, up.options()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	up.set("/osv/npm/all.zip", zipDir(t, filepath.Join("testdata", "osv", "npm"), map[string][]byte{"NEW-1.json": []byte(`{"id":"NEW-1"}`)}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Update(ctx, dir, up.options()); err == nil {
		t.Fatal("cancelled Update succeeded")
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("cancelled update changed the database (-before +after):\n%s", diff)
	}
}

func TestUpdateLocked(t *testing.T) {
	up := newUpstream(t)
	dir := filepath.Join(t.TempDir(), "vulndb")
	unlock, err := lockFile(filepath.Join(filepath.Dir(dir), ".vulndb.lock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Update(context.Background(), dir, up.options())
	unlock()
	if err == nil || !strings.Contains(err.Error(), "another update") {
		t.Fatalf("Update while locked: error = %v, want another update", err)
	}
	if _, err := Update(context.Background(), dir, up.options()); err != nil {
		t.Fatalf("Update after the lock was released: %v", err)
	}
}

func TestUpdateOptionsInvalid(t *testing.T) {
	for _, opts := range []UpdateOptions{
		{OSVBaseURL: "file:///etc"},
		{GoBaseURL: "ftp://example.com"},
		{Ecosystems: []string{"../npm"}},
	} {
		_, err := Update(context.Background(), filepath.Join(t.TempDir(), "vulndb"), opts)
		if gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("Update(%+v) error = %v, want kind invalid", opts, err)
		}
	}
	if _, err := Update(context.Background(), "", UpdateOptions{}); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Update without a directory: error = %v, want kind invalid", err)
	}
}

func TestDescribe(t *testing.T) {
	st, err := Describe("testdata")
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Dir: "testdata", Entries: map[string]int{"npm": 2, "PyPI": 1}, GoEntries: 2}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	if st.Age(time.Now()) != 0 {
		t.Errorf("Age of a never-updated database = %s, want 0", st.Age(time.Now()))
	}
	if _, err := Describe(t.TempDir()); gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("Describe(empty dir) error = %v, want kind not-found", err)
	}
}

func TestPath(t *testing.T) {
	if got, want := Path("/var/lib/gantry"), filepath.Join("/var/lib/gantry", "vulndb"); got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
	if got, want := GoDir("/db"), filepath.Join("/db", "go"); got != want {
		t.Errorf("GoDir = %s, want %s", got, want)
	}
}
