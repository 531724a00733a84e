package vulndb

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
)

// The public sources Update reads by default.
const (
	DefaultOSVBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"
	DefaultGoBaseURL  = "https://vuln.go.dev"
)

// UpdateOptions configure Update. The zero value downloads the default
// ecosystems and the Go database from their public sources.
type UpdateOptions struct {
	// OSVBaseURL serves <OSVBaseURL>/<Ecosystem>/all.zip.
	OSVBaseURL string
	// GoBaseURL serves the Go vulnerability database (index/db.json.gz,
	// index/modules.json.gz, ID/<ID>.json.gz).
	GoBaseURL string
	// Ecosystems are the OSV ecosystems to fetch; nil means
	// DefaultEcosystems.
	Ecosystems []string
	// NoGo skips the Go vulnerability database (and with it govulncheck's
	// reachability analysis).
	NoGo bool
	// Client makes the requests; nil means a client with connection and
	// response-header timeouts.
	Client *http.Client
	// Timeout bounds the whole update (default 30 minutes).
	Timeout time.Duration
	// MaxFileBytes bounds every downloaded file, and every decompressed
	// index (default 2 GiB).
	MaxFileBytes int64
	// MaxEntryBytes bounds every decompressed OSV entry (default 16 MiB).
	MaxEntryBytes int64
	// Concurrency is how many Go database entries are fetched at once
	// (default 8).
	Concurrency int
	// Progress receives one human-readable line per step; may be nil.
	Progress io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o UpdateOptions) withDefaults() UpdateOptions {
	if o.OSVBaseURL == "" {
		o.OSVBaseURL = DefaultOSVBaseURL
	}
	if o.GoBaseURL == "" {
		o.GoBaseURL = DefaultGoBaseURL
	}
	o.OSVBaseURL = strings.TrimRight(o.OSVBaseURL, "/")
	o.GoBaseURL = strings.TrimRight(o.GoBaseURL, "/")
	if o.Ecosystems == nil {
		o.Ecosystems = DefaultEcosystems
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 2 << 30
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = maxEntryBytes
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   o.Concurrency,
		}}
	}
	return o
}

func (o UpdateOptions) validate() error {
	for _, u := range []string{o.OSVBaseURL, o.GoBaseURL} {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return gantry.Errorf(gantry.EInvalid, "vulnerability database source %q is not an http(s) URL", u)
		}
	}
	for _, eco := range o.Ecosystems {
		if !validName.MatchString(eco) {
			return gantry.Errorf(gantry.EInvalid, "ecosystem name %q is not valid", eco)
		}
	}
	return nil
}

// validName accepts ecosystem names and vulnerability IDs, which become
// file names: no separators, no leading dot.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// Update downloads the vulnerability database into dir. It builds the new
// database in a temporary directory beside dir, verifies that every zip
// and every JSON document in it parses, and only then swaps it for the old
// one; a failed or cancelled update leaves the previous database as it
// was. Files the server reports unchanged (ETag or Last-Modified) and Go
// entries whose modified time has not changed are taken from the previous
// database instead of downloaded again. Two updates of one directory do
// not run at once: the second fails.
func Update(ctx context.Context, dir string, opts UpdateOptions) (Stats, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return Stats{}, err
	}
	if dir == "" {
		return Stats{}, gantry.Errorf(gantry.EInvalid, "no vulnerability database directory given")
	}
	dir = filepath.Clean(dir)
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	start := opts.Now()

	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	unlock, err := lockFile(filepath.Join(parent, "."+base+".lock"))
	if err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database %s: %w", dir, err)
	}
	defer unlock()
	removeLeftovers(parent, "."+base+".new-")

	old, err := readManifest(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(opts.Progress, "vulndb: previous manifest unreadable, downloading everything: %v\n", err)
		}
		old = &manifest{}
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".new-")
	if err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()

	u := &updater{
		opts: opts,
		old:  old,
		dir:  dir,
		tmp:  tmp,
		next: &manifest{
			OSVBaseURL: opts.OSVBaseURL,
			Files:      map[string]fileState{},
			Entries:    map[string]int{},
		},
	}
	for _, eco := range opts.Ecosystems {
		if err := u.osv(ctx, eco); err != nil {
			return Stats{}, fmt.Errorf("update vulnerability database: osv %s: %w", eco, err)
		}
	}
	if !opts.NoGo {
		u.next.GoBaseURL = opts.GoBaseURL
		if err := u.goDB(ctx); err != nil {
			return Stats{}, fmt.Errorf("update vulnerability database: go: %w", err)
		}
	}
	u.next.Updated = opts.Now().UTC()
	b, err := json.MarshalIndent(u.next, "", "  ")
	if err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, manifestFile), append(b, '\n'), 0o644); err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	if err := swap(dir, tmp); err != nil {
		return Stats{}, fmt.Errorf("update vulnerability database: %w", err)
	}
	done = true
	st := Stats{
		Dir:         dir,
		Updated:     u.next.Updated,
		Entries:     u.next.Entries,
		GoEntries:   u.next.GoEntries,
		Downloaded:  u.downloaded,
		NotModified: u.notModified,
		Bytes:       u.bytes,
	}
	fmt.Fprintf(opts.Progress, "vulndb: updated %s in %s (%d files downloaded, %d unchanged, %s received)\n",
		dir, opts.Now().Sub(start).Round(time.Millisecond), st.Downloaded, st.NotModified, formatBytes(st.Bytes))
	return st, nil
}

// swap puts the directory tmp in the place of dir. Between the two renames
// dir does not exist, so a reader opening it then fails instead of reading
// half of either database; if the second rename fails the old one is put
// back.
func swap(dir, tmp string) error {
	old := ""
	if _, err := os.Lstat(dir); err == nil {
		old = tmp + "-old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("move previous database aside: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			if rerr := os.Rename(old, dir); rerr != nil {
				return fmt.Errorf("install new database: %w (and restoring the previous one from %s: %v)", err, old, rerr)
			}
		}
		return fmt.Errorf("install new database: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// removeLeftovers deletes temporary directories an update killed midway
// left behind; the caller holds the lock, so none is in use.
func removeLeftovers(parent, prefix string) {
	des, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, d := range des {
		if d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
			os.RemoveAll(filepath.Join(parent, d.Name()))
		}
	}
}

type updater struct {
	opts UpdateOptions
	old  *manifest
	next *manifest
	dir  string // the database being replaced
	tmp  string // the database being built

	mu          sync.Mutex
	downloaded  int
	notModified int
	bytes       int64
}

// osv fetches the all.zip of one ecosystem.
func (u *updater) osv(ctx context.Context, eco string) error {
	rel := path.Join(osvDir, eco, zipName)
	src := u.opts.OSVBaseURL + "/" + url.PathEscape(eco) + "/" + zipName
	dst := filepath.Join(u.tmp, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	st, fresh, err := u.fetch(ctx, src, rel, dst, u.opts.MaxFileBytes)
	if err != nil {
		return err
	}
	if !fresh {
		n, err := countOSV(filepath.Dir(dst))
		if err != nil {
			return err
		}
		u.next.Files[rel] = st
		u.next.Entries[eco] = n
		fmt.Fprintf(u.opts.Progress, "vulndb: osv %s: not modified (%d entries)\n", eco, n)
		return nil
	}
	zr, err := zip.OpenReader(dst)
	if err != nil {
		return fmt.Errorf("%s is not a valid zip: %w", src, err)
	}
	defer zr.Close()
	n := 0
	err = eachZipJSON(ctx, &zr.Reader, u.opts.MaxEntryBytes, func(name string, b []byte) error {
		if _, err := ParseEntry(b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify %s: %w", src, err)
	}
	u.next.Files[rel] = st
	u.next.Entries[eco] = n
	fmt.Fprintf(u.opts.Progress, "vulndb: osv %s: downloaded %s, %d entries\n", eco, formatBytes(st.Size), n)
	return nil
}

// goIndexEntry is one module of the Go database's index/modules.json.
type goIndexEntry struct {
	Path  string `json:"path"`
	Vulns []struct {
		ID       string `json:"id"`
		Modified string `json:"modified"`
	} `json:"vulns"`
}

// goDB fetches the Go vulnerability database.
func (u *updater) goDB(ctx context.Context) error {
	dbRel := path.Join(goDir, "index", "db.json")
	dbDst := filepath.Join(u.tmp, filepath.FromSlash(dbRel))
	if err := os.MkdirAll(filepath.Dir(dbDst), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(u.tmp, goDir, "ID"), 0o755); err != nil {
		return err
	}
	st, fresh, err := u.fetchGzip(ctx, u.opts.GoBaseURL+"/index/db.json.gz", dbRel, dbDst, u.opts.MaxFileBytes)
	if err != nil {
		return err
	}
	if !fresh && u.old.GoEntries > 0 {
		// The database has not changed: take the previous copy whole.
		if err := u.linkOldTree(goDir); err != nil {
			return err
		}
		u.next.Files[dbRel] = st
		for rel, fst := range u.old.Files {
			if strings.HasPrefix(rel, goDir+"/") && rel != dbRel {
				u.next.Files[rel] = fst
			}
		}
		u.next.GoEntries = u.old.GoEntries
		fmt.Fprintf(u.opts.Progress, "vulndb: go: not modified (%d entries)\n", u.next.GoEntries)
		return nil
	}
	b, err := os.ReadFile(dbDst)
	if err != nil {
		return err
	}
	var dbInfo struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.Unmarshal(b, &dbInfo); err != nil || dbInfo.Modified.IsZero() {
		return fmt.Errorf("index/db.json is not a Go vulnerability database index: %v", err)
	}
	u.next.Files[dbRel] = st

	modRel := path.Join(goDir, "index", "modules.json")
	modDst := filepath.Join(u.tmp, filepath.FromSlash(modRel))
	st, _, err = u.fetchGzip(ctx, u.opts.GoBaseURL+"/index/modules.json.gz", "", modDst, u.opts.MaxFileBytes)
	if err != nil {
		return err
	}
	u.next.Files[modRel] = st
	b, err = os.ReadFile(modDst)
	if err != nil {
		return err
	}
	var mods []goIndexEntry
	if err := json.Unmarshal(b, &mods); err != nil {
		return fmt.Errorf("index/modules.json: %w", err)
	}
	modified := map[string]string{}
	for _, m := range mods {
		for _, v := range m.Vulns {
			if !validName.MatchString(v.ID) {
				return fmt.Errorf("index/modules.json: vulnerability id %q is not valid", v.ID)
			}
			if v.Modified > modified[v.ID] {
				modified[v.ID] = v.Modified
			}
		}
	}
	ids := make([]string, 0, len(modified))
	for id := range modified {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	var (
		wg       sync.WaitGroup
		work     = make(chan string)
		errMu    sync.Mutex
		firstErr error
		fetched  int
		reused   int
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		errMu.Unlock()
	}
	for range u.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				rel := path.Join(goDir, "ID", id+".json")
				dst := filepath.Join(u.tmp, filepath.FromSlash(rel))
				if prev, ok := u.old.Files[rel]; ok && prev.Modified == modified[id] {
					if err := u.linkOld(rel, dst); err == nil {
						u.mu.Lock()
						u.next.Files[rel] = prev
						reused++
						u.notModified++
						u.mu.Unlock()
						continue
					}
				}
				st, _, err := u.fetchGzip(ctx, u.opts.GoBaseURL+"/ID/"+url.PathEscape(id)+".json.gz", "", dst, u.opts.MaxEntryBytes)
				if err != nil {
					fail(fmt.Errorf("entry %s: %w", id, err))
					continue
				}
				b, err := os.ReadFile(dst)
				if err == nil {
					var e *Entry
					if e, err = ParseEntry(b); err == nil && e.ID != id {
						err = fmt.Errorf("holds %s", e.ID)
					}
				}
				if err != nil {
					fail(fmt.Errorf("entry %s: %w", id, err))
					continue
				}
				st.Modified = modified[id]
				u.mu.Lock()
				u.next.Files[rel] = st
				fetched++
				u.mu.Unlock()
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	u.next.GoEntries = len(ids)
	fmt.Fprintf(u.opts.Progress, "vulndb: go: %d entries (%d downloaded, %d unchanged)\n", len(ids), fetched, reused)
	return nil
}

// fetch downloads src into dst, at most limit bytes. When rel names a file
// of the previous database that is intact, the request is conditional, and
// on 304 Not Modified the previous file is linked into place: fresh is
// then false.
func (u *updater) fetch(ctx context.Context, src, rel, dst string, limit int64) (st fileState, fresh bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return st, false, err
	}
	req.Header.Set("User-Agent", "gantry-vulndb")
	prev, havePrev := u.old.Files[rel]
	if havePrev && rel != "" && u.intact(rel, prev) {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	} else {
		havePrev = false
	}
	resp, err := u.opts.Client.Do(req)
	if err != nil {
		return st, false, fmt.Errorf("get %s: %w", src, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && havePrev:
		if err := u.linkOld(rel, dst); err != nil {
			return st, false, err
		}
		u.mu.Lock()
		u.notModified++
		u.mu.Unlock()
		return prev, false, nil
	case resp.StatusCode != http.StatusOK:
		return st, false, fmt.Errorf("get %s: %s", src, resp.Status)
	}
	if resp.ContentLength > limit {
		return st, false, fmt.Errorf("get %s: %d bytes, more than the limit of %d", src, resp.ContentLength, limit)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return st, false, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	u.mu.Lock()
	u.bytes += n
	u.mu.Unlock()
	if err != nil {
		return st, false, fmt.Errorf("get %s: %w", src, err)
	}
	if n > limit {
		return st, false, fmt.Errorf("get %s: more than the limit of %d bytes", src, limit)
	}
	u.mu.Lock()
	u.downloaded++
	u.mu.Unlock()
	return fileState{
		URL:          src,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		Size:         n,
		SHA256:       hex.EncodeToString(h.Sum(nil)),
	}, true, nil
}

// fetchGzip downloads a .json.gz file and stores it decompressed at dst,
// at most limit bytes either way. A body that is not gzip (a server that
// decompressed it on the way) is stored as it is.
func (u *updater) fetchGzip(ctx context.Context, src, rel, dst string, limit int64) (fileState, bool, error) {
	raw := dst + ".gz"
	st, fresh, err := u.fetch(ctx, src, rel, raw, limit)
	if err != nil || !fresh {
		if !fresh && err == nil {
			// The previous decompressed file was linked at raw's place.
			err = os.Rename(raw, dst)
		}
		return st, fresh, err
	}
	defer os.Remove(raw)
	in, err := os.Open(raw)
	if err != nil {
		return st, true, err
	}
	defer in.Close()
	br := bufio.NewReader(in)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, true, fmt.Errorf("%s: %w", src, err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return st, true, err
	}
	n, err := io.Copy(out, io.LimitReader(r, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, true, fmt.Errorf("decompress %s: %w", src, err)
	}
	if n > limit {
		return st, true, fmt.Errorf("decompress %s: more than the limit of %d bytes", src, limit)
	}
	return st, true, nil
}

// intact reports whether the previous database still holds the file rel
// as the manifest recorded it (what a conditional request relies on). For
// .json files stored decompressed only existence is checked: the hash
// recorded is that of the download.
func (u *updater) intact(rel string, prev fileState) bool {
	p := filepath.Join(u.dir, filepath.FromSlash(rel))
	if strings.HasSuffix(rel, ".json") {
		_, err := os.Stat(p)
		return err == nil
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return err == nil && n == prev.Size && hex.EncodeToString(h.Sum(nil)) == prev.SHA256
}

// linkOld puts the previous database's file rel at dst: a hard link, or a
// copy where links are not possible.
func (u *updater) linkOld(rel, dst string) error {
	src := filepath.Join(u.dir, filepath.FromSlash(rel))
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkOldTree links every file of the previous database under sub into
// the new one, except those already there.
func (u *updater) linkOldTree(sub string) error {
	root := filepath.Join(u.dir, sub)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(u.dir, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(u.tmp, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if _, err := os.Lstat(dst); err == nil {
			return nil
		}
		return u.linkOld(filepath.ToSlash(rel), dst)
	})
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
