package secrets

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// history scans the lines the repository's commits added: of all refs, or
// of the commits after base when base is set.
func (r *run) history(ctx context.Context, base string) error {
	r.withHistory = true
	git, err := exec.LookPath(r.s.opts.Git)
	if err != nil {
		r.addGap("git history", "git is not installed: "+err.Error())
		return nil
	}
	top := exec.CommandContext(ctx, git, "-C", r.root, "rev-parse", "--is-inside-work-tree")
	if out, err := top.Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		if ctx.Err() != nil {
			return fmt.Errorf("secrets scan: %w", context.Cause(ctx))
		}
		r.addGap("git history", r.root+" is not a git work tree")
		return nil
	}
	if strings.HasPrefix(base, "-") {
		return fmt.Errorf("secrets scan: base %q: not a revision", base)
	}
	args := []string{"-C", r.root,
		"-c", "core.quotePath=false", "-c", "diff.noprefix=false", "-c", "log.showSignature=false",
		"log", "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--full-history",
		"--src-prefix=a/", "--dst-prefix=b/", "--format=%x00%H"}
	if base != "" {
		args = append(args, base+"..HEAD")
	} else {
		args = append(args, "--all")
	}
	// Paths are relative to the root, which may be a subdirectory of the
	// repository: --relative keeps them so and leaves out the rest.
	args = append(args, "--relative", "--")
	cmd := exec.CommandContext(ctx, git, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("secrets scan: git log: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("secrets scan: git log: %w", err)
	}
	var commits int
	perr := r.pool(ctx, func(ctx context.Context, jobs chan<- *job) error {
		var err error
		commits, err = parseLog(stdout, r.s.opts.MaxFileSize, func(j *job) error {
			if r.s.skipPath(j.rel) || r.underSkippedDir(j.rel) || r.s.rules.textAllowed("", j.commit) {
				r.skipped.Add(1)
				return nil
			}
			select {
			case jobs <- j:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}, func(what, reason string) { r.addGap(what, reason) })
		return err
	})
	if perr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return perr
	}
	// Drain what git still writes after a parse that stopped early.
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("secrets scan: %w", context.Cause(ctx))
		}
		return fmt.Errorf("secrets scan: git log: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	r.commits = commits
	return nil
}

// underSkippedDir reports whether rel lies in a directory the walk of the
// working tree would not enter.
func (r *run) underSkippedDir(rel string) bool {
	dirs := strings.Split(rel, "/")
	for i, d := range dirs[:len(dirs)-1] {
		if d == ".git" || (d == "state" && i > 0 && dirs[i-1] == ".gantry") {
			return true
		}
		for _, s := range r.s.opts.SkipDirs {
			if d == s {
				return true
			}
		}
	}
	return false
}

// parseLog reads the output of git log -p -U0 --format=%x00%H and calls
// emit with, per commit and file, the lines the commit added to the file
// (the seq of a job is its commit's position in the log). A file whose
// added lines exceed maxSize is reported through gap instead. It returns
// the number of commits read.
func parseLog(r io.Reader, maxSize int64, emit func(*job) error, gap func(what, reason string)) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		commit   string
		commits  int
		cur      *job // the file being read
		inHunk   bool
		newLine  int // the file line of the next added line
		tooLarge bool
	)
	flush := func() error {
		j := cur
		cur = nil
		switch {
		case j == nil:
			return nil
		case tooLarge:
			gap("file: "+j.rel+" at "+shortCommit(j.commit), fmt.Sprintf("lines added larger than the %d-byte limit", maxSize))
			return nil
		case len(j.data) == 0:
			return nil
		}
		return emit(j)
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long line: read the rest of it.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return commits, flush()
			}
			return commits, fmt.Errorf("read git log: %w", err)
		}
		body := bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case len(body) > 0 && body[0] == 0:
			if ferr := flush(); ferr != nil {
				return commits, ferr
			}
			commit = string(body[1:])
			commits++
			inHunk = false
		case bytes.HasPrefix(body, []byte("diff --git ")):
			if ferr := flush(); ferr != nil {
				return commits, ferr
			}
			inHunk = false
		case !inHunk && bytes.HasPrefix(body, []byte("+++ ")):
			p, ok := diffPath(string(body[4:]))
			if !ok {
				continue // "+++ /dev/null": a deleted file adds nothing
			}
			cur = &job{rel: p, commit: commit, seq: commits}
			tooLarge = false
		case bytes.HasPrefix(body, []byte("@@ ")):
			inHunk = true
			newLine = hunkStart(body)
		case inHunk && len(body) > 0 && body[0] == '+':
			if cur == nil || tooLarge {
				continue
			}
			if int64(len(cur.data)+len(body)) > maxSize {
				tooLarge = true
				continue
			}
			cur.data = append(cur.data, body[1:]...)
			cur.data = append(cur.data, '\n')
			cur.lines = append(cur.lines, newLine)
			newLine++
		case inHunk && len(body) > 0 && body[0] == ' ':
			newLine++ // context, if any
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return commits, flush()
			}
			return commits, fmt.Errorf("read git log: %w", err)
		}
	}
}

// diffPath returns the path of a "+++ " header without its "b/" prefix,
// unquoting what git quoted.
func diffPath(s string) (string, bool) {
	// git ends a name holding a space with a tab.
	s = strings.TrimSuffix(strings.TrimSuffix(s, "\r"), "\t")
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return "", false
		}
		s = u
	}
	p, ok := strings.CutPrefix(s, "b/")
	if !ok || p == "" {
		return "", false
	}
	return p, true
}

// hunkStart returns the first new line of a hunk header
// "@@ -a,b +c,d @@".
func hunkStart(h []byte) int {
	i := bytes.Index(h, []byte(" +"))
	if i < 0 {
		return 1
	}
	rest := h[i+2:]
	end := 0
	for end < len(rest) && '0' <= rest[end] && rest[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(string(rest[:end]))
	if err != nil {
		return 1
	}
	if n == 0 {
		n = 1 // "+0,0": nothing added
	}
	return n
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
