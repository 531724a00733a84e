package change

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// State is a stored change with what classifying and admitting it needs
// from the store: its approvals, its author's recent record and its
// project's recent incidents.
type State struct {
	Change    *gantry.Change     `json:"change"`
	Approvals []*gantry.Approval `json:"approvals"`
	History   History            `json:"history"`
	Incidents int                `json:"incidents"`
	// BaseCoverage is the test coverage, in percent, of the latest
	// successful run on the change's base branch that measured it; nil
	// when none did.
	BaseCoverage *float64 `json:"base_coverage,omitempty"`
}

// StateStore is what LoadState reads: a gantry.ChangeStore's reads and the
// runs of changes.
type StateStore interface {
	Change(ctx context.Context, project, id string) (*gantry.Change, error)
	Changes(ctx context.Context, f gantry.ChangeFilter) ([]*gantry.Change, error)
	Approvals(ctx context.Context, project, change string) ([]*gantry.Approval, error)
	Run(ctx context.Context, id gantry.RunID) (*gantry.Run, error)
	Runs(ctx context.Context, f gantry.RunFilter) ([]*gantry.Run, error)
	Stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error)
	Steps(ctx context.Context, run gantry.RunID) ([]*gantry.StepResult, error)
}

// baseRuns bounds how many of the base branch's latest successful runs
// LoadState reads for one that measured coverage.
const baseRuns = 5

// maxIncidentRuns bounds the failed runs LoadState reads the stages of, so
// that a project with many failures does not slow every gate.
const maxIncidentRuns = 200

// LoadState reads the change id of project with its approvals, and looks
// at the project's other changes opened since then:
//   - History counts those by the same author, and as failed those whose
//     latest run failed or timed out;
//   - Incidents counts the project's failed deployments since then,
//     other than this change's: runs that failed in a stage admitted to
//     an environment (its gate names the environment), among the latest
//     failed runs.
func LoadState(ctx context.Context, s StateStore, project, id string, since time.Time) (*State, error) {
	c, err := s.Change(ctx, project, id)
	if err != nil {
		return nil, fmt.Errorf("load change %s: %w", id, err)
	}
	approvals, err := s.Approvals(ctx, project, id)
	if err != nil {
		return nil, fmt.Errorf("load approvals of change %s: %w", id, err)
	}
	recent, err := s.Changes(ctx, gantry.ChangeFilter{Project: project, From: since})
	if err != nil {
		return nil, fmt.Errorf("load recent changes: %w", err)
	}
	st := &State{Change: c, Approvals: approvals}
	if c.BaseBranch != "" {
		base, err := s.Runs(ctx, gantry.RunFilter{Project: project, Branch: c.BaseBranch, Status: gantry.StatusSucceeded, Limit: baseRuns})
		if err != nil {
			return nil, fmt.Errorf("load the base branch's runs: %w", err)
		}
		for _, r := range base {
			steps, err := s.Steps(ctx, r.ID)
			if err != nil {
				return nil, fmt.Errorf("load the steps of run %s: %w", r.ID, err)
			}
			if cov := RunCoverage(steps); cov != nil {
				st.BaseCoverage = cov
				break
			}
		}
	}
	for _, o := range recent {
		if o.ID == c.ID || c.Author == "" || !strings.EqualFold(o.Author, c.Author) {
			continue
		}
		st.History.Changes++
		failed, err := lastRunFailed(ctx, s, o)
		if err != nil {
			return nil, fmt.Errorf("load history of %s: %w", c.Author, err)
		}
		if failed {
			st.History.Failed++
		}
	}
	// The project's failed runs, newest first, down to the window's start.
	failed, err := s.Runs(ctx, gantry.RunFilter{Project: project, Status: gantry.StatusFailed, Limit: maxIncidentRuns})
	if err != nil {
		return nil, fmt.Errorf("load the project's failed runs: %w", err)
	}
	for _, r := range failed {
		if r.CreatedAt.Before(since) {
			break
		}
		if r.Trigger.Change == c.ID {
			continue
		}
		deployed, err := failedDeploying(ctx, s, r.ID)
		if err != nil {
			return nil, err
		}
		if deployed {
			st.Incidents++
		}
	}
	return st, nil
}

// lastRunFailed reports whether c's latest run failed or timed out. A run
// the store no longer has does not count against the author.
func lastRunFailed(ctx context.Context, s StateStore, c *gantry.Change) (bool, error) {
	if len(c.Runs) == 0 {
		return false, nil
	}
	r, err := s.Run(ctx, c.Runs[len(c.Runs)-1])
	if errors.Is(err, gantry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("run of change %s: %w", c.ID, err)
	}
	return r.Status == gantry.StatusFailed || r.Status == gantry.StatusTimedOut, nil
}

// failedDeploying reports whether a failed run failed in a stage that
// was admitted to an environment: a failed deployment.
func failedDeploying(ctx context.Context, s StateStore, id gantry.RunID) (bool, error) {
	stages, err := s.Stages(ctx, id)
	if err != nil {
		return false, fmt.Errorf("stages of run %s: %w", id, err)
	}
	for _, st := range stages {
		if st.Status == gantry.StatusFailed && st.Gate.Environment != "" {
			return true, nil
		}
	}
	return false, nil
}

// RunCoverage is a run's test coverage: the lowest of its steps' coverage
// reports (gantry.MetaCoverage), or nil when no step measured it.
func RunCoverage(steps []*gantry.StepResult) *float64 {
	var low *float64
	for _, s := range steps {
		v, ok := s.Meta[gantry.MetaCoverage]
		if !ok {
			continue
		}
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 100 {
			continue
		}
		if low == nil || p < *low {
			low = &p
		}
	}
	return low
}
