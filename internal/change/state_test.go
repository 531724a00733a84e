package change

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// memStore is an in-memory StateStore.
type memStore struct {
	changes   []*gantry.Change
	approvals []*gantry.Approval
	runs      map[gantry.RunID]*gantry.Run
	stages    map[gantry.RunID][]*gantry.StageResult
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
			"r3":  {ID: "r3", Status: gantry.StatusFailed},
			"r7":  {ID: "r7", Status: gantry.StatusFailed},
		},
		// r3 failed deploying to production: an incident; r7 failed
		// before it deployed anything.
		stages: map[gantry.RunID][]*gantry.StageResult{
			"r3": {{Name: "commit", Status: gantry.StatusSucceeded}, {Name: "production", Status: gantry.StatusFailed, Gate: gantry.Gate{Environment: "production"}}},
			"r7": {{Name: "commit", Status: gantry.StatusFailed}},
		},
	}
	got, err := LoadState(context.Background(), m, "shop", "pr-9", since)
	if err != nil {
		t.Fatal(err)
	}
	want := &State{Change: this, Approvals: []*gantry.Approval{approval}, History: History{Changes: 4, Failed: 1}, Incidents: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadState (-want +got):\n%s", diff)
	}
	if _, err := LoadState(context.Background(), m, "shop", "pr-404", since); gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("missing change: err = %v, want not found", err)
	}
}
