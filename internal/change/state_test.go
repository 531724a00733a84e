package change

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// memStore is an in-memory StateStore.
type memStore struct {
	changes   []*gantry.Change
	approvals []*gantry.Approval
	runs      map[gantry.RunID]*gantry.Run
	stages    map[gantry.RunID][]*gantry.StageResult
	steps     map[gantry.RunID][]*gantry.StepResult
}

// Runs lists the runs with f.Status, of f.Branch when it is set, newest
// (by CreatedAt, then ID) first.
func (m *memStore) Runs(_ context.Context, f gantry.RunFilter) ([]*gantry.Run, error) {
	var out []*gantry.Run
	for _, r := range m.runs {
		if (f.Branch == "" || r.Trigger.Branch == f.Branch) && r.Status == f.Status {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *gantry.Run) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(string(b.ID), string(a.ID)))
	})
	return out, nil
}

func (m *memStore) Steps(_ context.Context, id gantry.RunID) ([]*gantry.StepResult, error) {
	return m.steps[id], nil
}

func (m *memStore) Stages(_ context.Context, id gantry.RunID) ([]*gantry.StageResult, error) {
	return m.stages[id], nil
}

func (m *memStore) Change(_ context.Context, project, id string) (*gantry.Change, error) {
	for _, c := range m.changes {
		if c.Project == project && c.ID == id {
			return c, nil
		}
	}
	return nil, gantry.ErrNotFound
}

func (m *memStore) Changes(_ context.Context, f gantry.ChangeFilter) ([]*gantry.Change, error) {
	var out []*gantry.Change
	for _, c := range m.changes {
		if c.Project == f.Project && !c.Opened.Before(f.From) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memStore) Approvals(_ context.Context, project, change string) ([]*gantry.Approval, error) {
	var out []*gantry.Approval
	for _, a := range m.approvals {
		if a.Project == project && a.Change == change {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *memStore) Run(_ context.Context, id gantry.RunID) (*gantry.Run, error) {
	if r, ok := m.runs[id]; ok {
		return r, nil
	}
	return nil, gantry.ErrNotFound
}

func TestLoadState(t *testing.T) {
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	in := since.Add(24 * time.Hour)
	ch := func(id, author string, opened time.Time, runs ...gantry.RunID) *gantry.Change {
		return &gantry.Change{Project: "shop", ID: id, Author: author, Opened: opened, Runs: runs}
	}
	this := ch("pr-9", "alice", in, "r9")
	this.BaseBranch = "main"
	urgent := ch("pr-3", "bob", in, "r3")
	urgent.Urgent = "checkout down"
	approval := &gantry.Approval{Project: "shop", Change: "pr-9", Environment: "production", Kind: gantry.ApprovalDeploy, Approver: "bob"}
	m := &memStore{
		changes: []*gantry.Change{
			this,
			ch("pr-1", "Alice", in, "r1a", "r1b"), // failed at last
			ch("pr-2", "alice", in, "r2"),         // passed
			ch("pr-4", "alice", in, "gone"),       // its run is no longer stored
			ch("pr-5", "alice", in),               // never ran
			ch("pr-6", "alice", since.Add(-time.Hour), "r1b"),
			urgent,
			ch("pr-7", "carol", in, "r7"),
		},
		approvals: []*gantry.Approval{approval},
		runs: map[gantry.RunID]*gantry.Run{
			"r1a": {ID: "r1a", Status: gantry.StatusSucceeded},
			"r1b": {ID: "r1b", Status: gantry.StatusTimedOut},
			"r2":  {ID: "r2", Status: gantry.StatusSucceeded},
			"r3":  {ID: "r3", Status: gantry.StatusFailed, CreatedAt: in},
			"r7":  {ID: "r7", Status: gantry.StatusFailed, CreatedAt: in},
			// Failed deployments that are not incidents of the window:
			// this change's own, and one before the window.
			"r9":  {ID: "r9", Status: gantry.StatusFailed, CreatedAt: in, Trigger: gantry.Trigger{Change: "pr-9"}},
			"old": {ID: "old", Status: gantry.StatusFailed, CreatedAt: since.Add(-time.Hour)},
			// main's latest successful run measured no coverage; the
			// one before it did.
			"m1": {ID: "m1", Status: gantry.StatusSucceeded, Trigger: gantry.Trigger{Branch: "main"}},
			"m2": {ID: "m2", Status: gantry.StatusSucceeded, Trigger: gantry.Trigger{Branch: "main"}},
		},
		steps: map[gantry.RunID][]*gantry.StepResult{
			"m1": {{Name: "unit", Meta: map[string]string{gantry.MetaCoverage: "81.5"}}, {Name: "e2e", Meta: map[string]string{gantry.MetaCoverage: "64.0"}}},
			"m2": {{Name: "unit"}},
		},
		// r3 failed deploying to production: an incident; r7 failed
		// before it deployed anything.
		stages: map[gantry.RunID][]*gantry.StageResult{
			"r3":  {{Name: "commit", Status: gantry.StatusSucceeded}, {Name: "production", Status: gantry.StatusFailed, Gate: gantry.Gate{Environment: "production"}}},
			"r7":  {{Name: "commit", Status: gantry.StatusFailed}},
			"r9":  {{Name: "production", Status: gantry.StatusFailed, Gate: gantry.Gate{Environment: "production"}}},
			"old": {{Name: "production", Status: gantry.StatusFailed, Gate: gantry.Gate{Environment: "production"}}},
		},
	}
	got, err := LoadState(context.Background(), m, "shop", "pr-9", since)
	if err != nil {
		t.Fatal(err)
	}
	base := 64.0 // the lowest of its steps'
	want := &State{Change: this, Approvals: []*gantry.Approval{approval}, History: History{Changes: 4, Failed: 1}, Incidents: 1, BaseCoverage: &base}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("LoadState (-want +got):\n%s", diff)
	}
	if _, err := LoadState(context.Background(), m, "shop", "pr-404", since); gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("missing change: err = %v, want not found", err)
	}
}
