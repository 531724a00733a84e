// Package store holds what every implementation of gantry.Store shares: the
// checks of what callers ask to store. Implementations live in the
// subpackages (sqlite, later postgres); storetest is the suite they pass.
package store

import (
	"math"
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
