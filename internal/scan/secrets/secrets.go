package secrets

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Name is the scanner's kind.
const Name = "secrets"

// DefaultMaxFileSize is the size above which a file is not scanned but
// reported as a gap.
const DefaultMaxFileSize = 10 << 20

// Options configure a Scanner. The zero value is ready to use.
type Options struct {
	// MaxFileSize is the largest file scanned, in bytes; larger files are
	// reported as gaps. 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// Allowlist is the project's own allowlist.
	Allowlist Allowlist
	// SkipDirs are names of directories not walked, such as "vendor" or
	// "testdata". None by default: test data is where fixtures with real
	// credentials get committed by mistake, so it is scanned unless a
	// project says otherwise.
	SkipDirs []string
	// MinEntropy is the entropy threshold of the generic-high-entropy-secret
	// rule; 0 means DefaultMinEntropy.
	MinEntropy float64
	// DisableRules are IDs of rules not to run.
	DisableRules []string
	// IgnoreInlineAllow makes the scanner report lines marked
	// "gitleaks:allow" or "gantry:allow" too.
	IgnoreInlineAllow bool
	// Workers is the number of files scanned at once; 0 means GOMAXPROCS.
	Workers int
	// Git is the git command used to read history; "" means "git" from
	// PATH.
	Git string
}

// Scanner finds secrets committed to a repository: in the working tree
// and, when asked, in its git history.
type Scanner struct {
	opts  Options
	rules *ruleSet
	allow *projectAllowlist
}

var _ scan.Scanner = (*Scanner)(nil)

// New compiles the rules and the allowlist.
func New(opts Options) (*Scanner, error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.MinEntropy <= 0 {
		opts.MinEntropy = DefaultMinEntropy
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Git == "" {
		opts.Git = "git"
	}
	rs, err := buildRules(opts.MinEntropy, opts.DisableRules)
	if err != nil {
		return nil, fmt.Errorf("secrets rules: %w", err)
	}
	allow, err := compileAllowlist(opts.Allowlist)
	if err != nil {
		return nil, fmt.Errorf("secrets allowlist: %w", err)
	}
	return &Scanner{opts: opts, rules: rs, allow: allow}, nil
}

// Name returns "secrets".
func (s *Scanner) Name() string { return Name }

// Scan looks for secrets under req.Root and, with req.History, in the
// lines the repository's commits added.
func (s *Scanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	if req == nil || req.Root == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "secrets scan: no root to scan")
	}
	root, err := filepath.Abs(req.Root)
	if err != nil {
		return nil, fmt.Errorf("secrets scan: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("secrets scan: %w", err)
	} else if !fi.IsDir() {
		return nil, gantry.Errorf(gantry.EInvalid, "secrets scan: %s is not a directory", req.Root)
	}
	logger := req.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	run := &run{s: s, root: root, progress: &progress{w: req.Progress, what: "files"}}
	if err := run.tree(ctx); err != nil {
		return nil, err
	}
	if req.History {
		run.progress = &progress{w: req.Progress, what: "file changes in history"}
		if err := run.history(ctx, req.Base); err != nil {
			return nil, err
		}
	}
	res := run.result()
	logger.Debug("secrets scan done", "root", root, "findings", len(res.Findings),
		"files", res.Scanned["files"], "gaps", len(res.Gaps))
	return res, nil
}

// run is one scan's state.
type run struct {
	s        *Scanner
	root     string
	progress *progress

	mu          sync.Mutex
	findings    []found
	gaps        []scan.Gap
	files       atomic.Int64
	bytes       atomic.Int64
	skipped     atomic.Int64
	commits     int
	withHistory bool
}

// found is a finding with what orders and dedupes it.
type found struct {
	gantry.Finding
	seq int // history: position in git log order (larger is older)
}

// job is one text to scan: a file to read or lines a commit added.
type job struct {
	rel    string // slash-separated, relative to the root
	abs    string // the file, for the working tree
	size   int64
	data   []byte // the added lines, for history
	lines  []int  // history: file line of each line of data
	commit string
	seq    int
}

// progress writes a line per 1000 files.
type progress struct {
	w    io.Writer
	what string // "files", "file changes"
	mu   sync.Mutex
	n    atomic.Int64
}

func (p *progress) add() {
	n := p.n.Add(1)
	if p.w == nil || n%1000 != 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "secrets: %d %s scanned\n", n, p.what)
}

func (r *run) addGap(what, reason string) {
	r.mu.Lock()
	r.gaps = append(r.gaps, scan.Gap{What: what, Reason: reason})
	r.mu.Unlock()
}

// tree scans the working tree.
func (r *run) tree(ctx context.Context) error {
	return r.pool(ctx, func(ctx context.Context, jobs chan<- *job) error {
		return r.walk(ctx, jobs)
	})
}

// pool runs produce, which sends jobs, and workers that scan them. It
// returns the error of produce, or the context's.
func (r *run) pool(ctx context.Context, produce func(context.Context, chan<- *job) error) error {
	jobs := make(chan *job, 4*r.s.opts.Workers)
	var wg sync.WaitGroup
	for range r.s.opts.Workers {
		wg.Go(func() { r.work(ctx, jobs) })
	}
	err := produce(ctx, jobs)
	close(jobs)
	wg.Wait()
	if err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("secrets scan: %w", err)
	}
	return nil
}

// walk sends the files under the root that are to be scanned.
func (r *run) walk(ctx context.Context, jobs chan<- *job) error {
	s := r.s
	return filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		rel, relErr := filepath.Rel(r.root, p)
		if relErr != nil {
			return relErr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if p == r.root {
				return err
			}
			r.addGap("path: "+rel, "not readable: "+errText(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p == r.root {
				return nil
			}
			if d.Name() == ".git" || isGantryState(rel) || slices.Contains(s.opts.SkipDirs, d.Name()) ||
				s.allow.pathAllowed(rel) || s.rules.textAllowed(rel, "") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks are not followed; devices and pipes are not files
		}
		if s.skipPath(rel) {
			r.skipped.Add(1)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			r.addGap("file: "+rel, "not readable: "+errText(err))
			return nil
		}
		if info.Size() > s.opts.MaxFileSize {
			// A large binary (a build output) is skipped like a small one;
			// large text is a gap.
			if sniffBinary(p) {
				r.skipped.Add(1)
			} else {
				r.addGap("file: "+rel, fmt.Sprintf("%d bytes, larger than the %d-byte limit", info.Size(), s.opts.MaxFileSize))
			}
			return nil
		}
		if info.Size() == 0 {
			return nil
		}
		select {
		case jobs <- &job{rel: rel, abs: p, size: info.Size()}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		return nil
	})
}

// isGantryState reports whether the directory at rel holds a Gantry run's
// state (.gantry/state, of the root or of a project within it).
func isGantryState(rel string) bool {
	return rel == ".gantry/state" || strings.HasSuffix(rel, "/.gantry/state")
}

// sniffBinary reports whether the file at p starts like a binary file; an
// unreadable file does not.
func sniffBinary(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, binarySniff)
	n, _ := io.ReadFull(f, buf)
	return isBinary(buf[:n])
}

// skipPath reports whether a file or directory is not scanned: a lock
// file, or exempt by the project's or gitleaks' global allowlist.
func (s *Scanner) skipPath(rel string) bool {
	return isLockFile(rel) || s.allow.pathAllowed(rel) || s.rules.textAllowed(rel, "")
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// work scans jobs until there are none left; once ctx is done it only
// drains them.
func (r *run) work(ctx context.Context, jobs <-chan *job) {
	d := newDetector(r.s.rules, r.s.allow, r.s.opts.IgnoreInlineAllow)
	var buf []byte
	var local []found
	defer func() {
		r.mu.Lock()
		r.findings = append(r.findings, local...)
		r.mu.Unlock()
	}()
	for j := range jobs {
		if ctx.Err() != nil {
			continue // drain, so the producer is not blocked
		}
		data := j.data
		if j.abs != "" {
			var err error
			buf, data, err = readFile(j.abs, j.size, buf)
			if err != nil {
				r.addGap("file: "+j.rel, "not readable: "+errText(err))
				continue
			}
			// Rules on paths alone (a PKCS#12 key store) apply to binary
			// files too.
			t := &text{path: j.rel, data: data}
			if hits := d.pathHits(t); len(hits) > 0 {
				local = append(local, r.s.findings(t, j, hits)...)
			}
			if isBinary(data) {
				r.skipped.Add(1)
				continue
			}
			r.files.Add(1)
			r.bytes.Add(int64(len(data)))
		}
		r.progress.add()
		t := &text{path: j.rel, commit: j.commit, data: data}
		hits := d.detect(t)
		if len(hits) == 0 {
			continue
		}
		local = append(local, r.s.findings(t, j, hits)...)
	}
}

// readFile reads the file at p, of about size bytes, into buf (grown as
// needed) and returns the buffer and the content.
func readFile(p string, size int64, buf []byte) ([]byte, []byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return buf, nil, err
	}
	defer f.Close()
	if int64(cap(buf)) < size+1 {
		buf = make([]byte, 0, max(size+1, 64<<10))
	}
	buf = buf[:size+1]
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return buf, nil, err
	}
	// A file that grew since it was listed is scanned as far as it was.
	return buf, buf[:min(n, int(size))], nil
}

// help says what to do about a committed secret.
const help = "Revoke or rotate this credential: once committed it must be treated as known. " +
	"Then remove it from the code, and from the history if it was pushed, and load it at run " +
	"time from a secret store or the environment. If it is not a secret, add it to the secrets " +
	"allowlist or end the line with a gantry:allow comment."

// findings turns the hits in one text into findings, dropping a generic
// hit where a specific rule found the same secret on the same line.
func (s *Scanner) findings(t *text, j *job, hits []hit) []found {
	type located struct {
		hit
		line, col, endLine, endCol int
	}
	ls := make([]located, 0, len(hits))
	// Hits come by rule then offset: count lines from the start for each,
	// cheap next to the scan itself as hits are rare.
	for _, h := range hits {
		if s.rules.rules[h.rule].mode == modePath {
			ls = append(ls, located{hit: h}) // the whole file: no line
			continue
		}
		line, col := position(t.data, h.secretStart)
		endLine, endCol := position(t.data, max(h.secretStart, h.secretEnd-1))
		if j.lines != nil {
			line, endLine = mapLine(j.lines, line), mapLine(j.lines, endLine)
		}
		ls = append(ls, located{h, line, col, endLine, endCol})
	}
	out := make([]found, 0, len(ls))
	for _, a := range ls {
		ra := s.rules.rules[a.rule]
		secret := t.data[a.secretStart:a.secretEnd]
		if ra.generic && slices.ContainsFunc(ls, func(b located) bool {
			if b.line != a.line || b.rule == a.rule {
				return false
			}
			if !s.rules.rules[b.rule].generic {
				// gitleaks' rule: a specific rule that found the same
				// secret, or more, wins.
				return bytes.Contains(t.data[b.secretStart:b.secretEnd], secret)
			}
			// Between generic rules, the first wins where they overlap.
			return b.rule < a.rule && b.secretStart < a.secretEnd && a.secretStart < b.secretEnd
		}) {
			continue
		}
		sum := sha256.Sum256(secret)
		hash := hex.EncodeToString(sum[:])
		sev, conf := kindRating(ra.kind)
		out = append(out, found{
			Finding: gantry.Finding{
				Tool:       Name,
				RuleID:     ra.id,
				Severity:   sev,
				Confidence: conf,
				Location: gantry.Location{
					Path: t.path, Line: a.line, Column: a.col,
					EndLine: a.endLine, EndColumn: a.endCol, Commit: t.commit,
				},
				Message:     message(ra, secret, hash),
				CWE:         []string{"CWE-798"},
				Fingerprint: scan.Fingerprint(Name, ra.id, t.path, hash),
				Help:        help,
			},
			seq: j.seq,
		})
	}
	return out
}

// message names the secret without giving it away: the rule's title, at
// most four leading characters of the value where they are a well-known
// prefix rather than part of a password, and 32 bits of its hash.
func message(r *rule, secret []byte, hash string) string {
	n := 0
	switch r.kind {
	case KindProvider, KindPrivateKey, KindIdentifier:
		if r.mode != modePath { // a file's first bytes say nothing
			n = min(4, len(secret)/4)
		}
	}
	var prefix []byte
	for i := 0; i < n && len(secret) > 0; i++ {
		c, size := utf8.DecodeRune(secret)
		if c == utf8.RuneError || c < ' ' || c == '"' || c == '\\' {
			break
		}
		prefix = append(prefix, secret[:size]...)
		secret = secret[size:]
	}
	if len(prefix) == 0 {
		return fmt.Sprintf("%s (sha256:%s)", r.title, hash[:8])
	}
	return fmt.Sprintf("%s \"%s…\" (sha256:%s)", r.title, prefix, hash[:8])
}

// position returns the 1-based line and column of offset off in data.
func position(data []byte, off int) (line, col int) {
	before := data[:off]
	line = 1 + countNewlines(before)
	return line, off - lineStart(data, off) + 1
}

func countNewlines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// mapLine maps a line of a history text to the line of the file.
func mapLine(lines []int, line int) int {
	if line >= 1 && line <= len(lines) {
		return lines[line-1]
	}
	return 0
}

// result assembles the findings: history findings of a secret still in
// the tree give way to the tree's, and of the rest each secret is reported
// once per path, at the commit that added it.
func (r *run) result() *scan.Result {
	res := &scan.Result{Tool: Name, Findings: []gantry.Finding{}, Gaps: r.gaps, Scanned: map[string]int{
		"files":   int(r.files.Load()),
		"bytes":   int(r.bytes.Load()),
		"skipped": int(r.skipped.Load()),
	}}
	if r.withHistory {
		res.Scanned["commits"] = r.commits
	}
	inTree := map[string]bool{}
	oldest := map[string]found{}
	for _, f := range r.findings {
		if f.Location.Commit == "" {
			inTree[f.Fingerprint] = true
			res.Findings = append(res.Findings, f.Finding)
		}
	}
	for _, f := range r.findings {
		if f.Location.Commit == "" || inTree[f.Fingerprint] {
			continue
		}
		if o, ok := oldest[f.Fingerprint]; !ok || f.seq > o.seq || (f.seq == o.seq && f.Location.Line < o.Location.Line) {
			oldest[f.Fingerprint] = f
		}
	}
	for _, f := range oldest {
		res.Findings = append(res.Findings, f.Finding)
	}
	slices.SortFunc(res.Findings, func(a, b gantry.Finding) int {
		return cmp.Or(
			cmp.Compare(a.Location.Path, b.Location.Path),
			cmp.Compare(a.Location.Commit, b.Location.Commit),
			cmp.Compare(a.Location.Line, b.Location.Line),
			cmp.Compare(a.Location.Column, b.Location.Column),
			cmp.Compare(a.RuleID, b.RuleID),
		)
	})
	slices.SortFunc(res.Gaps, func(a, b scan.Gap) int { return cmp.Compare(a.What, b.What) })
	return res
}
