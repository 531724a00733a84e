package change

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// ID names the change a run belongs to: "pr-N" for a pull request,
// otherwise the commit's first 12 hex digits, or "" when there is no
// commit.
func ID(t gantry.Trigger) string {
	if t.PullRequest > 0 {
		return "pr-" + strconv.Itoa(t.PullRequest)
	}
	c := strings.ToLower(strings.TrimSpace(t.Commit))
	return c[:min(12, len(c))]
}

// The trailers FromGit reads.
const (
	trailerReviewed = "reviewed-by"
	trailerApproved = "approved-by"
	trailerUrgent   = "urgent"
)

// FromGit reads the change checked out in the git work tree at dir: the
// commits from where the current branch left base up to HEAD. When base
// does not exist, or is the current branch, the change is the HEAD commit
// alone (against its first parent, or the empty tree for a root commit).
// Reviews come from Reviewed-by and Approved-by trailers and urgency from
// an Urgent trailer on any of its commits. now is when the change is
// seen, for a change that has no commits to date it.
func FromGit(ctx context.Context, dir, base string, now time.Time) (*gantry.Change, error) {
	return fromGit(ctx, dir, base, now, false)
}

// FromWorkTree is FromGit for a work tree with uncommitted changes, as a
// developer runs the pipeline before committing: the change's size and
// paths are measured to the files as they are, not to HEAD, so that what
// is about to be committed is classified. Untracked files do not count
// until they are added.
func FromWorkTree(ctx context.Context, dir, base string, now time.Time) (*gantry.Change, error) {
	c, err := fromGit(ctx, dir, base, now, true)
	if err != nil {
		return nil, err
	}
	c.Title += " (with uncommitted changes)"
	return c, nil
}

func fromGit(ctx context.Context, dir, base string, now time.Time, workTree bool) (*gantry.Change, error) {
	g := gitDir{dir: dir}
	head, err := g.run(ctx, "rev-parse", "--verify", "-q", "HEAD^{commit}")
	if err != nil {
		if _, ok := errors.AsType[*exec.ExitError](err); ok {
			return nil, gantry.Errorf(gantry.EInvalid, "read change: %s has no commit yet, or is not in a git work tree", dir)
		}
		return nil, fmt.Errorf("read change: %w", err)
	}
	branch, _ := g.run(ctx, "symbolic-ref", "--short", "-q", "HEAD") // "" when detached

	from, parent := "", ""
	if base != "" && base != branch {
		if ref := g.baseRef(ctx, base); ref != "" {
			mb, err := g.run(ctx, "merge-base", "HEAD", ref)
			if err == nil && mb != head {
				from = mb
			}
		}
	}
	if from == "" {
		// The head commit alone.
		if p, err := g.run(ctx, "rev-parse", "--verify", "-q", "HEAD^1"); err == nil {
			parent = p
		} else if parent, err = g.emptyTree(ctx); err != nil {
			return nil, fmt.Errorf("read change: %w", err)
		}
	}

	c := &gantry.Change{
		ID:         head[:min(12, len(head))],
		Branch:     branch,
		BaseBranch: base,
		Commits:    []gantry.Commit{},
		UpdatedAt:  now,
	}
	rng := []string{"-1", "HEAD"}
	diffFrom := parent
	if from != "" {
		rng = []string{from + "..HEAD"}
		diffFrom = from
	}
	trailers, err := g.commits(ctx, c, rng)
	if err != nil {
		return nil, fmt.Errorf("read change: %w", err)
	}
	if err := g.diff(ctx, c, diffFrom, workTree); err != nil {
		return nil, fmt.Errorf("read change: %w", err)
	}
	c.Opened = now
	if n := len(c.Commits); n > 0 {
		last := c.Commits[n-1]
		c.Author = last.AuthorEmail
		if c.Author == "" {
			c.Author = last.Author
		}
		c.Opened = c.Commits[0].Time
	}
	reviewed := map[string]bool{}
	for i, ts := range trailers {
		for _, t := range ts {
			switch t.key {
			case trailerReviewed, trailerApproved:
				who := reviewer(t.value)
				if who == "" || reviewed[strings.ToLower(who)] {
					continue
				}
				reviewed[strings.ToLower(who)] = true
				c.Reviews = append(c.Reviews, gantry.Review{Reviewer: who, State: gantry.ReviewApproved, At: c.Commits[i].Time, Source: gantry.ReviewFromTrailer})
			case trailerUrgent:
				if c.Urgent == "" && t.value != "" {
					c.Urgent = t.value
				}
			}
		}
	}
	return c, nil
}

// reviewer returns the e-mail inside <> of a trailer's value, or the value.
func reviewer(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 1 {
			if email := strings.TrimSpace(v[i+1 : i+j]); email != "" {
				return email
			}
		}
	}
	return strings.TrimSpace(v)
}

type gitDir struct{ dir string }

// run runs git in the work tree and returns its output, trimmed.
func (g gitDir) run(ctx context.Context, args ...string) (string, error) {
	out, err := g.output(ctx, args...)
	return strings.TrimSpace(string(out)), err
}

func (g gitDir) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--no-pager", "-c", "core.quotepath=off"}, args...)...)
	cmd.Dir = g.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, gantry.Errorf(gantry.EUnavailable, "git is not installed: %w", err)
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

// baseRef finds the base branch: a local branch, or else origin's, as in
// a CI clone that fetched only remote branches.
func (g gitDir) baseRef(ctx context.Context, base string) string {
	for _, ref := range []string{"refs/heads/" + base, "refs/remotes/origin/" + base} {
		if sha, err := g.run(ctx, "rev-parse", "--verify", "-q", ref+"^{commit}"); err == nil && sha != "" {
			return sha
		}
	}
	return ""
}

// emptyTree is the ID of the empty tree in the repository's hash.
func (g gitDir) emptyTree(ctx context.Context) (string, error) {
	return g.run(ctx, "hash-object", "-t", "tree", "--stdin") // stdin is empty
}

type trailer struct{ key, value string }

// commits adds the commits of rng to c, oldest first, and returns each
// one's trailers.
func (g gitDir) commits(ctx context.Context, c *gantry.Change, rng []string) ([][]trailer, error) {
	const format = "--format=%H%x00%an%x00%ae%x00%s%x00%aI%x00%(trailers:only,unfold)%x1e"
	args := append([]string{"log", "--reverse", "--no-color", format}, rng...)
	out, err := g.output(ctx, args...)
	if err != nil {
		return nil, err
	}
	var all [][]trailer
	for rec := range strings.SplitSeq(string(out), "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, "\x00", 6)
		if len(f) != 6 {
			return nil, fmt.Errorf("git log: unexpected output %q", rec)
		}
		at, err := time.Parse(time.RFC3339, f[4])
		if err != nil {
			return nil, fmt.Errorf("git log: commit %s: date %q: %w", f[0], f[4], err)
		}
		c.Commits = append(c.Commits, gantry.Commit{SHA: f[0], Author: f[1], AuthorEmail: f[2], Subject: f[3], Time: at})
		c.Title = f[3]
		var ts []trailer
		for line := range strings.SplitSeq(f[5], "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			ts = append(ts, trailer{key: strings.ToLower(strings.TrimSpace(k)), value: strings.TrimSpace(v)})
		}
		all = append(all, ts)
	}
	return all, nil
}

// diff measures c from from to HEAD, or to the work tree: lines added
// and deleted, files and paths. A binary file counts as a file of no
// lines.
func (g gitDir) diff(ctx context.Context, c *gantry.Change, from string, workTree bool) error {
	args := []string{"diff", "--numstat", "-z", "--no-color", "--no-ext-diff", from}
	if !workTree {
		args = append(args, "HEAD")
	}
	out, err := g.output(ctx, append(args, "--")...)
	if err != nil {
		return err
	}
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		rec := fields[i]
		if rec == "" {
			continue
		}
		parts := strings.SplitN(rec, "\t", 3)
		if len(parts) != 3 {
			return fmt.Errorf("git diff: unexpected output %q", rec)
		}
		p := parts[2]
		if p == "" && i+2 < len(fields) {
			// A rename: the old path and then the new one follow.
			p = fields[i+2]
			i += 2
		}
		added, _ := strconv.Atoi(parts[0]) // "-" for a binary file
		deleted, _ := strconv.Atoi(parts[1])
		c.Lines += added + deleted
		c.Files++
		c.Paths = append(c.Paths, p)
	}
	return nil
}

// Dirty reports whether the git work tree at dir has uncommitted changes
// to tracked files, staged or not.
func Dirty(ctx context.Context, dir string) bool {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "diff", "--quiet", "HEAD", "--")
	err := cmd.Run()
	_, changed := errors.AsType[*exec.ExitError](err)
	return changed
}
