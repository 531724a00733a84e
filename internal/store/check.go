// Package store holds what every implementation of gantry.Store shares: the
// checks of what callers ask to store. Implementations live in the
// subpackages (sqlite, later postgres); storetest is the suite they pass.
package store

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// ValidDigest reports whether d is "sha256:" followed by 64 lowercase hex
// digits. gantry.Digest.Valid also accepts uppercase hex, which would give
// one content two spellings and break lookups by digest.
func ValidDigest(d gantry.Digest) bool {
	h, ok := strings.CutPrefix(string(d), "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckRun returns an EInvalid error when r cannot be stored.
func CheckRun(r *gantry.Run) error {
	switch {
	case r == nil:
		return gantry.Errorf(gantry.EInvalid, "no run given")
	case r.ID == "":
		return gantry.Errorf(gantry.EInvalid, "run has no id")
	case !r.Status.Valid():
		return gantry.Errorf(gantry.EInvalid, "run %s: unknown status %q", r.ID, r.Status)
	case r.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "run %s has no creation time", r.ID)
	case r.PipelineDigest != "" && !ValidDigest(r.PipelineDigest):
		return gantry.Errorf(gantry.EInvalid, "run %s: malformed pipeline digest %q", r.ID, r.PipelineDigest)
	}
	return checkTimes("run "+string(r.ID), r.CreatedAt, r.StartedAt, r.FinishedAt)
}

// CheckStage returns an EInvalid error when s cannot be stored.
func CheckStage(s *gantry.StageResult) error {
	switch {
	case s == nil:
		return gantry.Errorf(gantry.EInvalid, "no stage given")
	case s.RunID == "":
		return gantry.Errorf(gantry.EInvalid, "stage %q has no run id", s.Name)
	case s.Name == "":
		return gantry.Errorf(gantry.EInvalid, "stage %d of run %s has no name", s.Index, s.RunID)
	case s.Index < 0:
		return gantry.Errorf(gantry.EInvalid, "stage %s: negative index %d", s.Name, s.Index)
	case !s.Status.Valid():
		return gantry.Errorf(gantry.EInvalid, "stage %s: unknown status %q", s.Name, s.Status)
	}
	return checkTimes("stage "+s.Name, s.StartedAt, s.FinishedAt)
}

// CheckStep returns an EInvalid error when s cannot be stored.
func CheckStep(s *gantry.StepResult) error {
	switch {
	case s == nil:
		return gantry.Errorf(gantry.EInvalid, "no step given")
	case s.RunID == "":
		return gantry.Errorf(gantry.EInvalid, "step %q has no run id", s.Name)
	case s.Name == "":
		return gantry.Errorf(gantry.EInvalid, "step of run %s has no name", s.RunID)
	case !s.Status.Valid():
		return gantry.Errorf(gantry.EInvalid, "step %s: unknown status %q", s.Name, s.Status)
	}
	for _, d := range []struct {
		what string
		d    gantry.Digest
	}{{"command", s.Command}, {"environment", s.EnvDigest}, {"log", s.Log}} {
		if d.d != "" && !ValidDigest(d.d) {
			return gantry.Errorf(gantry.EInvalid, "step %s: malformed %s digest %q", s.Name, d.what, d.d)
		}
	}
	for _, list := range [][]gantry.Artifact{s.Inputs, s.Outputs} {
		for _, a := range list {
			if err := checkArtifact(s.Name, a); err != nil {
				return err
			}
		}
	}
	return checkTimes("step "+s.Name, s.StartedAt, s.FinishedAt)
}

func checkArtifact(step string, a gantry.Artifact) error {
	switch {
	case a.Path == "":
		return gantry.Errorf(gantry.EInvalid, "step %s: artifact %s has no path", step, a.Digest)
	case !ValidDigest(a.Digest):
		return gantry.Errorf(gantry.EInvalid, "step %s: artifact %s: malformed digest %q", step, a.Path, a.Digest)
	case a.Size < 0:
		return gantry.Errorf(gantry.EInvalid, "step %s: artifact %s: negative size", step, a.Path)
	}
	return nil
}

// CheckLogs returns an EInvalid error when any of lines cannot be stored.
func CheckLogs(run gantry.RunID, lines []gantry.LogLine) error {
	if run == "" {
		return gantry.Errorf(gantry.EInvalid, "log lines have no run id")
	}
	for i := range lines {
		l := &lines[i]
		if l.Step == "" {
			return gantry.Errorf(gantry.EInvalid, "log line %d of run %s has no step", l.Seq, run)
		}
		switch l.Stream {
		case gantry.Stdout, gantry.Stderr, gantry.System:
		default:
			return gantry.Errorf(gantry.EInvalid, "log line %d of step %s: unknown stream %q", l.Seq, l.Step, l.Stream)
		}
		if err := checkTimes("log line of step "+l.Step, l.Time); err != nil {
			return err
		}
	}
	return nil
}

// CheckRunFilter returns an EInvalid error when f cannot be used.
func CheckRunFilter(f gantry.RunFilter) error {
	switch {
	case f.Limit < 0:
		return gantry.Errorf(gantry.EInvalid, "negative limit %d", f.Limit)
	case f.Status != "" && !f.Status.Valid():
		return gantry.Errorf(gantry.EInvalid, "unknown status %q", f.Status)
	}
	return nil
}

// CheckArtifactFilter returns an EInvalid error when f cannot be used.
func CheckArtifactFilter(f gantry.ArtifactFilter) error {
	switch {
	case f.RunID == "" && f.Digest == "":
		return gantry.Errorf(gantry.EInvalid, "artifact filter needs a run id or a digest")
	case f.Digest != "" && !ValidDigest(f.Digest):
		return gantry.Errorf(gantry.EInvalid, "malformed digest %q", f.Digest)
	}
	return nil
}

// minTime and maxTime bound the times a store keeps (from 1677 to 2262):
// int64 nanoseconds since 1970 hold them with no loss. The zero time is
// kept as well.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func checkTimes(what string, ts ...time.Time) error {
	for _, t := range ts {
		if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			return gantry.Errorf(gantry.EInvalid, "%s: time %s out of range", what, t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// CheckFindings checks findings before they are stored.
func CheckFindings(run gantry.RunID, step string, findings []gantry.Finding) error {
	if run == "" || step == "" {
		return gantry.Errorf(gantry.EInvalid, "put findings: run ID and step are required")
	}
	for i, f := range findings {
		switch {
		case f.Tool == "" || f.RuleID == "":
			return gantry.Errorf(gantry.EInvalid, "finding %d of step %s: tool and rule are required", i, step)
		case f.Severity.Rank() == 0:
			return gantry.Errorf(gantry.EInvalid, "finding %d of step %s: unknown severity %q", i, step, f.Severity)
		case f.Fingerprint == "":
			return gantry.Errorf(gantry.EInvalid, "finding %d of step %s: no fingerprint", i, step)
		}
	}
	return nil
}

// MaxLedgerEntry is the size of the largest ledger entry a store keeps:
// C2SP entry bundles prefix each entry with a 16-bit length.
const MaxLedgerEntry = 1<<16 - 1

// maxLedgerIndex bounds entry and stored-hash indexes, so that the
// arithmetic on them cannot overflow. No log comes near it.
const maxLedgerIndex = 1 << 60

// StoredHashCount returns how many stored hashes a tree of n entries has,
// which is also the stored-hash index of entry n's own hash: each entry
// adds its hash and one per subtree it completes (tlog.StoredHashCount,
// in closed form).
func StoredHashCount(n int64) int64 {
	return 2*n - int64(bits.OnesCount64(uint64(n)))
}

// InclusionProofLen returns the number of hashes in the inclusion proof
// of entry n in a tree of t entries (0 <= n < t): one per level of the
// path from the entry to the root, which is shorter beside an incomplete
// right edge.
func InclusionProofLen(n, t int64) int {
	k := 0
	for lo, hi := int64(0), t; hi-lo > 1; k++ {
		split := int64(1) << (bits.Len64(uint64(hi-lo-1)) - 1) // the largest power of 2 below hi-lo
		if n < lo+split {
			hi = lo + split
		} else {
			lo += split
		}
	}
	return k
}

// CheckLedgerAppend returns an EInvalid error when entries and hashes
// cannot be appended at index at: the entries must have the indexes at,
// at+1, … and data, and the hashes must be exactly those the entries
// complete, in stored-hash order.
func CheckLedgerAppend(at int64, entries []gantry.LedgerEntry, hashes []gantry.LedgerHash) error {
	switch {
	case at < 0:
		return gantry.Errorf(gantry.EInvalid, "append to the ledger at negative index %d", at)
	case len(entries) == 0:
		return gantry.Errorf(gantry.EInvalid, "append to the ledger: no entries")
	case at > maxLedgerIndex-int64(len(entries)):
		return gantry.Errorf(gantry.EInvalid, "append to the ledger at index %d: beyond what a log can hold", at)
	}
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Index != at+int64(i):
			return gantry.Errorf(gantry.EInvalid, "ledger entry %d of an append at %d has index %d, want %d", i, at, e.Index, at+int64(i))
		case len(e.Data) == 0:
			return gantry.Errorf(gantry.EInvalid, "ledger entry %d is empty", e.Index)
		case len(e.Data) > MaxLedgerEntry:
			return gantry.Errorf(gantry.EInvalid, "ledger entry %d has %d bytes, more than %d", e.Index, len(e.Data), MaxLedgerEntry)
		}
		if err := checkTimes(fmt.Sprintf("ledger entry %d", e.Index), e.CreatedAt); err != nil {
			return err
		}
	}
	first, end := StoredHashCount(at), StoredHashCount(at+int64(len(entries)))
	if int64(len(hashes)) != end-first {
		return gantry.Errorf(gantry.EInvalid, "ledger entries %d to %d complete %d tree hashes, not %d",
			at, at+int64(len(entries))-1, end-first, len(hashes))
	}
	for i, h := range hashes {
		if h.Index != first+int64(i) {
			return gantry.Errorf(gantry.EInvalid, "ledger hash %d of an append at %d has index %d, want %d", i, at, h.Index, first+int64(i))
		}
	}
	return nil
}

// CheckLedgerRange returns an EInvalid error when [from, to) is not a
// range of ledger indexes. An empty range is valid.
func CheckLedgerRange(from, to int64) error {
	switch {
	case from < 0:
		return gantry.Errorf(gantry.EInvalid, "ledger range from negative index %d", from)
	case to < from:
		return gantry.Errorf(gantry.EInvalid, "ledger range [%d, %d) ends before it starts", from, to)
	}
	return nil
}

// CheckLedgerIndex returns an EInvalid error when what's index i is
// negative.
func CheckLedgerIndex(what string, i int64) error {
	if i < 0 {
		return gantry.Errorf(gantry.EInvalid, "negative %s index %d", what, i)
	}
	return nil
}

// CheckLedgerCheckpoint returns an EInvalid error when c cannot be stored.
func CheckLedgerCheckpoint(c *gantry.LedgerCheckpoint) error {
	switch {
	case c == nil:
		return gantry.Errorf(gantry.EInvalid, "no checkpoint given")
	case c.Size < 0:
		return gantry.Errorf(gantry.EInvalid, "checkpoint of negative size %d", c.Size)
	case len(c.Note) == 0:
		return gantry.Errorf(gantry.EInvalid, "checkpoint of size %d has an empty note", c.Size)
	case len(c.Note) > MaxLedgerEntry:
		return gantry.Errorf(gantry.EInvalid, "checkpoint of size %d has a note of %d bytes, more than %d", c.Size, len(c.Note), MaxLedgerEntry)
	}
	return checkTimes(fmt.Sprintf("checkpoint of size %d", c.Size), c.CreatedAt)
}

// CheckLedgerProofs returns an EInvalid error when any of proofs cannot
// be stored: each must be of an entry in a tree that holds it, with as
// many hashes as such a proof has.
func CheckLedgerProofs(proofs []gantry.LedgerProof) error {
	for i := range proofs {
		p := &proofs[i]
		switch {
		case p.Index < 0:
			return gantry.Errorf(gantry.EInvalid, "inclusion proof of negative index %d", p.Index)
		case p.TreeSize <= p.Index:
			return gantry.Errorf(gantry.EInvalid, "inclusion proof of entry %d in a tree of %d entries, which does not hold it", p.Index, p.TreeSize)
		case p.TreeSize > maxLedgerIndex:
			return gantry.Errorf(gantry.EInvalid, "inclusion proof of entry %d in a tree of %d entries: beyond what a log can hold", p.Index, p.TreeSize)
		}
		if want := InclusionProofLen(p.Index, p.TreeSize); len(p.Hashes) != want {
			return gantry.Errorf(gantry.EInvalid, "inclusion proof of entry %d in a tree of %d entries has %d hashes, want %d",
				p.Index, p.TreeSize, len(p.Hashes), want)
		}
	}
	return nil
}
