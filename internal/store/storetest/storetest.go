// Package storetest is the conformance suite of gantry.Store: every
// implementation runs it from its tests, so that all of them behave alike.
//
// Besides what the interfaces' comments say, the suite pins down:
//
//   - Times keep nanosecond precision, whatever their location; zero times
//     stay zero. Times outside the int64-nanosecond range are EInvalid.
//   - Input a store cannot keep (no ID or name, an unknown status, a run
//     without CreatedAt, a malformed or uppercase digest, an unknown log
//     stream) is EInvalid, and nothing of it is stored. The store package's
//     Check functions implement these rules.
//   - CreateRun of an existing ID is EConflict; UpdateRun, PutStage, PutStep
//     and AppendLogs for an unknown run, and the run-scoped lists (Stages,
//     Steps, Logs, Artifacts by run) of an unknown run, are ErrNotFound. A
//     known run with nothing in a list gives an empty list.
//   - Runs come newest first by CreatedAt, then by ID descending.
//   - A stage is identified by RunID and Name; two stages of a run may not
//     share an Index (EConflict). Stages come by Index.
//   - A step is identified by RunID and Name. Steps come by StartedAt, then
//     in the order they were first put (a replaced step keeps its place);
//     steps that never started come last.
//   - Log lines come in the order they were appended, for one step and for
//     the whole run; Seq is kept as given. An AppendLogs batch is stored
//     whole or not at all.
//   - The artifact index holds the Outputs of each step's latest PutStep,
//     with Step set to the step's name. By run, artifacts come in the order
//     of Steps and of each step's Outputs; by digest, newest run first.
//   - Writers on several goroutines do not fail each other; a closed store
//     returns errors, and closing it again does not panic; a context
//     cancelled before a call is returned as an error that wraps it.
//
// # Changes and approvals
//
// The ChangeStore tests are part of Run. Changes and approvals are
// compared strictly, as the server's records are, and pin down:
//
//   - Round trips are exact: times to the nanosecond and in UTC (Opened,
//     UpdatedAt, commits', reviews' and the classification's times),
//     scores as the float64 they were, lists in the order given; an empty
//     list, nil or not, comes back nil; a zero commit or review time stays
//     zero. PutChange and PutApproval never modify what they are given,
//     and what a read gives back is the caller's to change.
//   - A change is keyed by Project ("" in local mode) and ID. PutChange of
//     a stored key replaces the whole change except Opened, which the
//     first put set; a replaced change keeps its approvals. Change of an
//     unknown key, of any spelling, is ErrNotFound.
//   - Changes: Project "" lists every project's; non-zero From and To
//     bound Opened as [From, To); Limit 0 is no limit, a negative one
//     EInvalid. They come newest Opened first, then by ID descending, then
//     by project descending, by bytes. No match is an empty list.
//   - PutApproval of a change that is not stored (same ID, other project
//     included) is ErrNotFound; a second approval with the same project,
//     change, environment, kind and approver is EConflict, whatever else
//     differs, also when racing; neither stores anything. Approvals come
//     oldest At first, then in the order they were put. Approvals of an
//     unknown change are an empty list, not an error, like the server's
//     lists of unknown keys.
//   - Input a store cannot keep is EInvalid and stores nothing (an invalid
//     replacement leaves the stored change as it was): the store
//     package's CheckChange, CheckApproval and CheckChangeFilter say what
//     that is — a change ID not [a-z0-9][a-z0-9._-]* of at most 64 bytes,
//     a project neither "" nor a name, no Opened or UpdatedAt, a
//     classification of an unknown class or with a score or weight that is
//     not finite, negative Lines or Files, text that is not UTF-8 or holds
//     NUL; an approval without change, environment or approver (text
//     without control characters), of a kind other than approval or
//     retrospective, without At, with a role neither "" nor one of the
//     four; a time outside the int64-nanosecond range, filters' included.
//
// # The server's stores
//
// RunServer checks the rest of a gantry.ServerStore, and RunServerShared
// two stores on one database. Besides the interfaces' comments, and the
// rules above on times, closed stores and cancelled contexts, they pin
// down:
//
//   - Round trips are exact: times to the nanosecond and in UTC, bytes
//     (ciphertexts, TOTP secrets, public keys) as they were, lists in the
//     order given. An empty list, map or byte slice, nil or not, comes
//     back nil. A store never modifies what it is given, except that
//     AppendAudit sets the event's ID and LedgerIndex.
//   - Input a store cannot keep is EInvalid and stores nothing: the store
//     package's Check and Valid functions say what that is (names,
//     labels, roles, statuses, outcomes, token hashes, text that is not
//     UTF-8 or holds NUL, a missing CreatedAt, Time or UpdatedAt).
//   - Names sort by their bytes, not by a locale: "B" < "_X" < "a",
//     "a-c" < "a1" < "ab".
//   - Put replaces the whole record except CreatedAt, which the first put
//     set; replacing a user or a project keeps its grants and secrets. A
//     project's Changes (its change configuration, YAML the stores do not
//     parse) is text like any other: "" when not set, EInvalid when not
//     UTF-8 or holding NUL.
//   - Lookups do not check their keys: a key no record could have is
//     ErrNotFound. Lists of an unknown user or project are empty, not
//     errors. DeleteToken and DeleteSecret of what is not stored are
//     ErrNotFound.
//   - Jobs: EnqueueJob takes Status "" or queued and nothing of a lease; a
//     job of an unknown run is ErrNotFound, a second job with an ID
//     EConflict. LeaseJob takes the oldest job (by CreatedAt, then ID)
//     that is queued, or leased with LeaseExpires strictly before now,
//     and whose Labels are all among the agent's; it sets Status leased,
//     Agent, LeaseExpires now+ttl, and adds 1 to Attempts. An agent holds
//     a job while it is leased to it, even past LeaseExpires if no other
//     agent took it: RenewLease and FinishJob of a job the agent does not
//     hold are EConflict, of an unknown job ErrNotFound. FinishJob sets
//     Status finished and FinishedAt and keeps Agent, LeaseExpires and
//     Attempts; a finished job is never leased again. Agents leasing at
//     once, on one store or on two on one database, never get the same
//     job and leave none queued. Jobs lists oldest first.
//   - Grants: PutGrant with an empty Role removes the grant, and is no
//     error when there is none; a grant to an unknown user or in an
//     unknown project is ErrNotFound. Grants of a user come by project,
//     of a project by user; both "" is EInvalid.
//   - Tokens: a second token with a stored hash is EConflict; a zero
//     ExpiresAt (never) stays zero; Tokens lists oldest first (CreatedAt,
//     then ID).
//   - Audit: AppendAudit ignores the given ID and LedgerIndex, sets an ID
//     above every earlier one and LedgerIndex -1. SetAuditLedgerIndex sets
//     it once: again with the same index is no error, with another
//     EConflict; an unknown event is ErrNotFound. AuditEvents lists by ID,
//     newest first. Outcomes are success, failure or denied.
//   - Secrets: keyed by project, environment ("" for every one) and name;
//     a secret of an unknown project is ErrNotFound. Secrets lists by env,
//     then name.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gantry.dev/gantry"
)

// Run runs the suite. open returns a new, empty store for one subtest; Run
// closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) gantry.Store) {
	newStore := func(t *testing.T) gantry.Store { return closeAtEnd(t, open(t)) }
	tests := []storeTest{
		{"CreateRun/RoundTrip", testCreateRunRoundTrip},
		{"CreateRun/Copies", testCreateRunCopies},
		{"CreateRun/Duplicate", testCreateRunDuplicate},
		{"CreateRun/Invalid", testCreateRunInvalid},
		{"Run/NotFound", testRunNotFound},
		{"UpdateRun", testUpdateRun},
		{"UpdateRun/NotFound", testUpdateRunNotFound},
		{"UpdateRun/Invalid", testUpdateRunInvalid},
		{"Runs/Order", testRunsOrder},
		{"Runs/Filter", testRunsFilter},
		{"Runs/Empty", testRunsEmpty},
		{"Runs/InvalidFilter", testRunsInvalidFilter},
		{"Stages/OrderAndReplace", testStagesOrderAndReplace},
		{"Stages/IndexConflict", testStagesIndexConflict},
		{"Stages/UnknownRun", testStagesUnknownRun},
		{"Stages/Empty", testStagesEmpty},
		{"Stages/Invalid", testStagesInvalid},
		{"PutStep/RoundTrip", testPutStepRoundTrip},
		{"PutStep/Replace", testPutStepReplace},
		{"PutStep/UnknownRun", testPutStepUnknownRun},
		{"PutStep/Invalid", testPutStepInvalid},
		{"Steps/Order", testStepsOrder},
		{"Steps/Empty", testStepsEmpty},
		{"Logs/StepAndRun", testLogsStepAndRun},
		{"Logs/Batch", testLogsBatch},
		{"Logs/AllOrNothing", testLogsAllOrNothing},
		{"Logs/UnknownRun", testLogsUnknownRun},
		{"Logs/Empty", testLogsEmpty},
		{"Artifacts/ByRun", testArtifactsByRun},
		{"Artifacts/ByDigest", testArtifactsByDigest},
		{"Artifacts/Replace", testArtifactsReplace},
		{"Artifacts/Filter", testArtifactsFilter},
		{"Findings/RoundTripAndOrder", testFindingsRoundTrip},
		{"Findings/Replace", testFindingsReplace},
		{"Findings/UnknownRun", testFindingsUnknownRun},
		{"Findings/Invalid", testFindingsInvalid},
		{"Runs/ByBranch", testRunsByBranch},
		{"Concurrent", testConcurrent},
		{"Context", testContext},
	}
	tests = append(tests, attestationTests...)
	tests = append(tests, ledgerTests...)
	tests = append(tests, changeTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newStore(t)) })
	}
	// This one closes the store itself.
	t.Run("Closed", func(t *testing.T) { testClosed(t, open(t)) })
	t.Run("Changes/Closed", func(t *testing.T) { testChangesClosed(t, open(t)) })
}

// closeAtEnd closes a store when the test ends, failing it when Close
// does.
func closeAtEnd[S io.Closer](t *testing.T, s S) S {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// storeTest is one test of the suite, on a new empty store.
type storeTest struct {
	name string
	test func(t *testing.T, s gantry.Store)
}

// t0 has nanoseconds and a location other than UTC: both must survive.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// cmpOpts compare values as a store keeps them: nil and empty slices and
// maps alike (time.Time is compared with its Equal method).
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

func digest(s string) gantry.Digest { return gantry.DigestBytes([]byte(s)) }

// upperHex spells d's hex digits in uppercase: gantry.Digest.Valid accepts
// that, but stores do not, so that one content has one digest.
func upperHex(d gantry.Digest) gantry.Digest {
	return "sha256:" + gantry.Digest(strings.ToUpper(d.Hex()))
}

func newRun(id string, created time.Time) *gantry.Run {
	return &gantry.Run{
		ID:             gantry.RunID(id),
		Project:        "shop",
		Pipeline:       ".gantry.yml",
		PipelineDigest: digest("pipeline " + id),
		Trigger: gantry.Trigger{
			Event:   "push",
			Branch:  "main",
			Commit:  "3f2a9c1d",
			Changed: []string{"go.mod", "cmd/shop/main.go", "docs/ünïcode.md"},
			Dirty:   true,
		},
		Status:    gantry.StatusPending,
		CreatedAt: created,
	}
}

func newStep(run gantry.RunID, name string, started time.Time) *gantry.StepResult {
	return &gantry.StepResult{
		RunID:     run,
		Stage:     "commit",
		Name:      name,
		Executor:  "local",
		Status:    gantry.StatusRunning,
		Attempts:  1,
		ExitCode:  -1,
		StartedAt: started,
	}
}

func artifact(path string) gantry.Artifact {
	return gantry.Artifact{Path: path, Digest: digest(path), Size: int64(len(path)) * 100}
}

func mustCreate(t *testing.T, s gantry.Store, runs ...*gantry.Run) {
	t.Helper()
	for _, r := range runs {
		if err := s.CreateRun(t.Context(), r); err != nil {
			t.Fatalf("CreateRun(%s): %v", r.ID, err)
		}
	}
}

func mustPutStep(t *testing.T, s gantry.Store, steps ...*gantry.StepResult) {
	t.Helper()
	for _, st := range steps {
		if err := s.PutStep(t.Context(), st); err != nil {
			t.Fatalf("PutStep(%s): %v", st.Name, err)
		}
	}
}

func wantKind(t *testing.T, what string, err error, kind string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one of kind %s", what, kind)
	} else if got := gantry.ErrorKind(err); got != kind {
		t.Errorf("%s: error %q of kind %s, want kind %s", what, err, got, kind)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("%s: error %v, want ErrNotFound", what, err)
	}
}

func wantRun(t *testing.T, s gantry.Store, want *gantry.Run) {
	t.Helper()
	got, err := s.Run(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("Run(%s): %v", want.ID, err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Run(%s) mismatch (-want +got):\n%s", want.ID, diff)
	}
}

func wantSteps(t *testing.T, s gantry.Store, run gantry.RunID, want []*gantry.StepResult) {
	t.Helper()
	got, err := s.Steps(t.Context(), run)
	if err != nil {
		t.Fatalf("Steps(%s): %v", run, err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Steps(%s) mismatch (-want +got):\n%s", run, diff)
	}
}

func wantLogs(t *testing.T, s gantry.Store, run gantry.RunID, step string, want []gantry.LogLine) {
	t.Helper()
	got, err := s.Logs(t.Context(), run, step)
	if err != nil {
		t.Fatalf("Logs(%s, %q): %v", run, step, err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Logs(%s, %q) mismatch (-want +got):\n%s", run, step, diff)
	}
}

func wantArtifacts(t *testing.T, s gantry.Store, f gantry.ArtifactFilter, want []gantry.ArtifactRecord) {
	t.Helper()
	got, err := s.Artifacts(t.Context(), f)
	if err != nil {
		t.Fatalf("Artifacts(%+v): %v", f, err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Artifacts(%+v) mismatch (-want +got):\n%s", f, diff)
	}
}

func testCreateRunRoundTrip(t *testing.T, s gantry.Store) {
	full := newRun("r-full", t0)
	full.Status = gantry.StatusFailed
	full.Reason = "step test failed: exit code 1"
	full.StartedAt = t0.Add(1500 * time.Microsecond)
	full.FinishedAt = t0.Add(42*time.Second + 7)
	bare := &gantry.Run{ID: "r-bare", Status: gantry.StatusPending, CreatedAt: t0.UTC()}
	mustCreate(t, s, full, bare)
	wantRun(t, s, full)
	wantRun(t, s, bare)

	got, err := s.Run(t.Context(), bare.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.StartedAt.IsZero() || !got.FinishedAt.IsZero() {
		t.Errorf("zero times came back as %v, %v", got.StartedAt, got.FinishedAt)
	}
}

func testCreateRunCopies(t *testing.T, s gantry.Store) {
	r := newRun("r1", t0)
	want := newRun("r1", t0)
	mustCreate(t, s, r)
	r.Trigger.Changed[0] = "changed after CreateRun"
	r.Status = gantry.StatusRunning
	wantRun(t, s, want)

	got, err := s.Run(t.Context(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	got.Trigger.Changed[0] = "changed after Run"
	wantRun(t, s, want)
}

func testCreateRunDuplicate(t *testing.T, s gantry.Store) {
	first := newRun("r1", t0)
	mustCreate(t, s, first)
	second := newRun("r1", t0.Add(time.Hour))
	second.Project = "other"
	wantKind(t, "second CreateRun", s.CreateRun(t.Context(), second), gantry.EConflict)
	wantRun(t, s, first)
}

// invalidRuns are runs no store may keep, by what is wrong with them.
func invalidRuns() map[string]*gantry.Run {
	mod := func(f func(r *gantry.Run)) *gantry.Run {
		r := newRun("r-bad", t0)
		f(r)
		return r
	}
	return map[string]*gantry.Run{
		"nil":            nil,
		"no id":          mod(func(r *gantry.Run) { r.ID = "" }),
		"no status":      mod(func(r *gantry.Run) { r.Status = "" }),
		"unknown status": mod(func(r *gantry.Run) { r.Status = "exploded" }),
		"no created_at":  mod(func(r *gantry.Run) { r.CreatedAt = time.Time{} }),
		"bad digest":     mod(func(r *gantry.Run) { r.PipelineDigest = "sha256:1234" }),
		"uppercase hex":  mod(func(r *gantry.Run) { r.PipelineDigest = upperHex(digest("x")) }),
		"far time":       mod(func(r *gantry.Run) { r.FinishedAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }),
	}
}

func testCreateRunInvalid(t *testing.T, s gantry.Store) {
	for name, r := range invalidRuns() {
		wantKind(t, "CreateRun with "+name, s.CreateRun(t.Context(), r), gantry.EInvalid)
	}
	runs, err := s.Runs(t.Context(), gantry.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 0 {
		t.Errorf("invalid runs were stored: %d runs", len(runs))
	}
}

func testRunNotFound(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	_, err := s.Run(t.Context(), "r2")
	wantNotFound(t, "Run(r2)", err)
}

func testUpdateRun(t *testing.T, s gantry.Store) {
	r := newRun("r1", t0)
	other := newRun("r2", t0)
	mustCreate(t, s, r, other)

	r.Status = gantry.StatusRunning
	r.StartedAt = t0.Add(time.Millisecond + 1)
	if err := s.UpdateRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	wantRun(t, s, r)

	r.Status = gantry.StatusCancelled
	r.Reason = "cancelled by alice"
	r.FinishedAt = t0.Add(time.Minute + 3)
	r.Trigger.Changed = nil
	r.Project = "renamed"
	if err := s.UpdateRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	wantRun(t, s, r)
	wantRun(t, s, newRun("r2", t0)) // untouched
}

func testUpdateRunNotFound(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	wantNotFound(t, "UpdateRun(r2)", s.UpdateRun(t.Context(), newRun("r2", t0)))
	_, err := s.Run(t.Context(), "r2")
	wantNotFound(t, "Run(r2) after UpdateRun", err)
}

func testUpdateRunInvalid(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r-bad", t0))
	for name, r := range invalidRuns() {
		wantKind(t, "UpdateRun with "+name, s.UpdateRun(t.Context(), r), gantry.EInvalid)
	}
	wantRun(t, s, newRun("r-bad", t0))
}

func runIDs(runs []*gantry.Run) []gantry.RunID {
	ids := []gantry.RunID{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testRunsOrder(t *testing.T, s gantry.Store) {
	// Created out of order; r-b and r-c at the same instant (in different
	// locations) order by ID.
	mustCreate(t, s,
		newRun("r-a", t0.Add(2*time.Second)),
		newRun("r-d", t0),
		newRun("r-b", t0.Add(time.Second)),
		newRun("r-c", t0.Add(time.Second).UTC()),
		newRun("r-e", t0.Add(time.Nanosecond)),
	)
	runs, err := s.Runs(t.Context(), gantry.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []gantry.RunID{"r-a", "r-c", "r-b", "r-e", "r-d"}
	if diff := cmp.Diff(want, runIDs(runs)); diff != "" {
		t.Errorf("Runs order (-want +got):\n%s", diff)
	}
	// Runs returns whole runs.
	if len(runs) > 0 {
		if diff := cmp.Diff(newRun("r-a", t0.Add(2*time.Second)), runs[0], cmpOpts...); diff != "" {
			t.Errorf("Runs()[0] mismatch (-want +got):\n%s", diff)
		}
	}
}

func testRunsFilter(t *testing.T, s gantry.Store) {
	mk := func(id, project string, status gantry.Status, minute int) *gantry.Run {
		r := newRun(id, t0.Add(time.Duration(minute)*time.Minute))
		r.Project, r.Status = project, status
		return r
	}
	mustCreate(t, s,
		mk("r1", "shop", gantry.StatusSucceeded, 1),
		mk("r2", "shop", gantry.StatusFailed, 2),
		mk("r3", "blog", gantry.StatusSucceeded, 3),
		mk("r4", "shop", gantry.StatusSucceeded, 4),
		mk("r5", "blog", gantry.StatusRunning, 5),
	)
	for _, tc := range []struct {
		filter gantry.RunFilter
		want   []gantry.RunID
	}{
		{gantry.RunFilter{}, []gantry.RunID{"r5", "r4", "r3", "r2", "r1"}},
		{gantry.RunFilter{Limit: 2}, []gantry.RunID{"r5", "r4"}},
		{gantry.RunFilter{Limit: 10}, []gantry.RunID{"r5", "r4", "r3", "r2", "r1"}},
		{gantry.RunFilter{Project: "shop"}, []gantry.RunID{"r4", "r2", "r1"}},
		{gantry.RunFilter{Status: gantry.StatusSucceeded}, []gantry.RunID{"r4", "r3", "r1"}},
		{gantry.RunFilter{Project: "shop", Status: gantry.StatusSucceeded}, []gantry.RunID{"r4", "r1"}},
		{gantry.RunFilter{Project: "shop", Status: gantry.StatusSucceeded, Limit: 1}, []gantry.RunID{"r4"}},
		{gantry.RunFilter{Project: "blog", Status: gantry.StatusFailed}, []gantry.RunID{}},
		{gantry.RunFilter{Project: "nope"}, []gantry.RunID{}},
	} {
		runs, err := s.Runs(t.Context(), tc.filter)
		if err != nil {
			t.Errorf("Runs(%+v): %v", tc.filter, err)
			continue
		}
		if diff := cmp.Diff(tc.want, runIDs(runs)); diff != "" {
			t.Errorf("Runs(%+v) (-want +got):\n%s", tc.filter, diff)
		}
	}
}

func testRunsEmpty(t *testing.T, s gantry.Store) {
	runs, err := s.Runs(t.Context(), gantry.RunFilter{Limit: 5})
	if err != nil || len(runs) != 0 {
		t.Errorf("Runs of an empty store = %v, %v; want none, no error", runs, err)
	}
}

func testRunsInvalidFilter(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	_, err := s.Runs(t.Context(), gantry.RunFilter{Limit: -1})
	wantKind(t, "Runs with a negative limit", err, gantry.EInvalid)
	_, err = s.Runs(t.Context(), gantry.RunFilter{Status: "exploded"})
	wantKind(t, "Runs with an unknown status", err, gantry.EInvalid)
}

func testStagesOrderAndReplace(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0), newRun("r2", t0))
	stage := func(run gantry.RunID, i int, name string) *gantry.StageResult {
		return &gantry.StageResult{RunID: run, Index: i, Name: name, Status: gantry.StatusPending}
	}
	production := stage("r1", 2, "production")
	commit := stage("r1", 0, "commit")
	acceptance := stage("r1", 1, "acceptance")
	acceptance.Status = gantry.StatusRunning
	acceptance.StartedAt = t0.Add(3 * time.Nanosecond)
	for _, st := range []*gantry.StageResult{production, commit, acceptance, stage("r2", 0, "only")} {
		if err := s.PutStage(t.Context(), st); err != nil {
			t.Fatalf("PutStage(%s): %v", st.Name, err)
		}
	}
	want := []*gantry.StageResult{commit, acceptance, production}
	check := func() {
		t.Helper()
		got, err := s.Stages(t.Context(), "r1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Errorf("Stages mismatch (-want +got):\n%s", diff)
		}
	}
	check()

	done := *acceptance
	done.Status = gantry.StatusFailed
	done.FinishedAt = t0.Add(time.Minute)
	done.Gate = gantry.Gate{Allowed: false, Decider: "steps", Reasons: []string{"step dast failed", "step zap: no evidence"}}
	if err := s.PutStage(t.Context(), &done); err != nil {
		t.Fatal(err)
	}
	want[1] = &done
	check()
}

func testStagesIndexConflict(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	first := &gantry.StageResult{RunID: "r1", Index: 0, Name: "commit", Status: gantry.StatusRunning}
	if err := s.PutStage(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	err := s.PutStage(t.Context(), &gantry.StageResult{RunID: "r1", Index: 0, Name: "other", Status: gantry.StatusRunning})
	wantKind(t, "PutStage at a taken index", err, gantry.EConflict)
	got, err := s.Stages(t.Context(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*gantry.StageResult{first}, got, cmpOpts...); diff != "" {
		t.Errorf("Stages mismatch (-want +got):\n%s", diff)
	}
}

func testStagesUnknownRun(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	err := s.PutStage(t.Context(), &gantry.StageResult{RunID: "r2", Name: "commit", Status: gantry.StatusRunning})
	wantNotFound(t, "PutStage for an unknown run", err)
	_, err = s.Stages(t.Context(), "r2")
	wantNotFound(t, "Stages of an unknown run", err)
}

func testStagesEmpty(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	got, err := s.Stages(t.Context(), "r1")
	if err != nil || len(got) != 0 {
		t.Errorf("Stages of a run without stages = %v, %v; want none, no error", got, err)
	}
}

func testStagesInvalid(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	for name, st := range map[string]*gantry.StageResult{
		"nil":            nil,
		"no run":         {Name: "commit", Status: gantry.StatusRunning},
		"no name":        {RunID: "r1", Status: gantry.StatusRunning},
		"negative index": {RunID: "r1", Name: "commit", Index: -1, Status: gantry.StatusRunning},
		"unknown status": {RunID: "r1", Name: "commit", Status: "exploded"},
	} {
		wantKind(t, "PutStage with "+name, s.PutStage(t.Context(), st), gantry.EInvalid)
	}
	got, err := s.Stages(t.Context(), "r1")
	if err != nil || len(got) != 0 {
		t.Errorf("Stages after invalid PutStage = %v, %v; want none, no error", got, err)
	}
}

func fullStep(run gantry.RunID) *gantry.StepResult {
	return &gantry.StepResult{
		RunID:      run,
		Stage:      "commit",
		Name:       "test [go=1.26, os=linux]",
		Uses:       "gantry/go-test",
		Executor:   "docker",
		Image:      "golang:1.26",
		Status:     gantry.StatusFailed,
		ExitCode:   2,
		Attempts:   3,
		Reason:     "exit code 2",
		AllowFail:  true,
		StartedAt:  t0.Add(123456789 * time.Nanosecond),
		FinishedAt: t0.Add(9*time.Second + 987654321*time.Nanosecond),
		Command:    digest("go test ./..."),
		EnvDigest:  digest("GOFLAGS=-mod=readonly"),
		Inputs:     []gantry.Artifact{{Path: "bin/shop", Digest: digest("bin"), Size: 1 << 20, Step: "build"}},
		Outputs: []gantry.Artifact{
			{Path: "reports/junit.xml", Digest: digest("junit"), Size: 4096, Step: "test [go=1.26, os=linux]"},
			{Path: "coverage.out", Digest: digest("cover"), Size: 0},
		},
		Log:     digest("log"),
		Sandbox: "container (docker, no network)",
		Meta:    map[string]string{"image_digest": string(digest("image")), "container": "c0ffee"},
	}
}

func testPutStepRoundTrip(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	full := fullStep("r1")
	bare := &gantry.StepResult{RunID: "r1", Name: "lint", Status: gantry.StatusSkipped}
	mustPutStep(t, s, full, bare)
	want := []*gantry.StepResult{fullStep("r1"), {RunID: "r1", Name: "lint", Status: gantry.StatusSkipped}}
	full.Meta["container"] = "changed after PutStep"
	full.Outputs[0].Path = "changed after PutStep"
	wantSteps(t, s, "r1", want)
}

func testPutStepReplace(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	running := newStep("r1", "build", t0)
	other := newStep("r1", "other", t0)
	mustPutStep(t, s, running, other)

	done := fullStep("r1")
	done.Name = "build"
	done.StartedAt = t0
	mustPutStep(t, s, done)
	wantSteps(t, s, "r1", []*gantry.StepResult{done, other})
}

func testPutStepUnknownRun(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	wantNotFound(t, "PutStep for an unknown run", s.PutStep(t.Context(), newStep("r2", "build", t0)))
	_, err := s.Steps(t.Context(), "r2")
	wantNotFound(t, "Steps of an unknown run", err)
	wantArtifacts(t, s, gantry.ArtifactFilter{Digest: digest("junit")}, nil)
}

func testPutStepInvalid(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	mod := func(f func(st *gantry.StepResult)) *gantry.StepResult {
		st := fullStep("r1")
		f(st)
		return st
	}
	for name, st := range map[string]*gantry.StepResult{
		"nil":                nil,
		"no run":             mod(func(st *gantry.StepResult) { st.RunID = "" }),
		"no name":            mod(func(st *gantry.StepResult) { st.Name = "" }),
		"unknown status":     mod(func(st *gantry.StepResult) { st.Status = "exploded" }),
		"bad command digest": mod(func(st *gantry.StepResult) { st.Command = "md5:abc" }),
		"bad log digest":     mod(func(st *gantry.StepResult) { st.Log = digest("x")[:20] }),
		"uppercase hex":      mod(func(st *gantry.StepResult) { st.Outputs[1].Digest = upperHex(st.Outputs[1].Digest) }),
		"no output digest":   mod(func(st *gantry.StepResult) { st.Outputs[1].Digest = "" }),
		"bad input digest":   mod(func(st *gantry.StepResult) { st.Inputs[0].Digest = "sha256:../../etc/passwd" }),
		"no output path":     mod(func(st *gantry.StepResult) { st.Outputs[0].Path = "" }),
		"negative size":      mod(func(st *gantry.StepResult) { st.Outputs[0].Size = -1 }),
		"far time":           mod(func(st *gantry.StepResult) { st.StartedAt = time.Date(1200, 1, 1, 0, 0, 0, 0, time.UTC) }),
	} {
		wantKind(t, "PutStep with "+name, s.PutStep(t.Context(), st), gantry.EInvalid)
	}
	testStepsEmpty(t, s)
	wantArtifacts(t, s, gantry.ArtifactFilter{RunID: "r1"}, nil)
}

func testStepsOrder(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	a := newStep("r1", "a", t0.Add(2*time.Second))
	b := newStep("r1", "b", t0.Add(time.Second))
	c := newStep("r1", "c", time.Time{})
	c.Status = gantry.StatusSkipped
	d := newStep("r1", "d", t0.Add(time.Second).UTC()) // same instant as b, put later
	e := newStep("r1", "e", time.Time{})
	e.Status = gantry.StatusCancelled
	f := newStep("r1", "f", t0.Add(time.Second-1))
	mustPutStep(t, s, a, b, c, d, e, f)
	// Replacing b keeps its place among the steps started at its time.
	b2 := *b
	b2.Status = gantry.StatusSucceeded
	b2.FinishedAt = t0.Add(time.Hour)
	mustPutStep(t, s, &b2)
	wantSteps(t, s, "r1", []*gantry.StepResult{f, &b2, d, a, c, e})
}

func testStepsEmpty(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r-empty", t0))
	got, err := s.Steps(t.Context(), "r-empty")
	if err != nil || len(got) != 0 {
		t.Errorf("Steps of a run without steps = %v, %v; want none, no error", got, err)
	}
}

func logLine(step string, seq int64, stream gantry.Stream, text string) gantry.LogLine {
	return gantry.LogLine{Step: step, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Microsecond), Stream: stream, Text: text}
}

func testLogsStepAndRun(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0), newRun("r2", t0))
	batches := [][]gantry.LogLine{
		{
			logLine("build", 1, gantry.System, "$ go build ./..."),
			logLine("test", 1, gantry.Stdout, "=== RUN TestShop"),
		},
		{
			logLine("build", 2, gantry.Stderr, "warning: ünïcode ☃, a tab\tand  spaces  "),
			logLine("test", 2, gantry.Stdout, ""),
			{Step: "test", Seq: 3, Stream: gantry.Stdout, Text: "no time"},
		},
		{
			logLine("build", 3, gantry.Stdout, "done"),
		},
	}
	for _, b := range batches {
		if err := s.AppendLogs(t.Context(), "r1", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendLogs(t.Context(), "r2", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "other run")}); err != nil {
		t.Fatal(err)
	}
	all := append(append(append([]gantry.LogLine{}, batches[0]...), batches[1]...), batches[2]...)
	wantLogs(t, s, "r1", "", all)
	wantLogs(t, s, "r1", "build", []gantry.LogLine{batches[0][0], batches[1][0], batches[2][0]})
	wantLogs(t, s, "r1", "test", []gantry.LogLine{batches[0][1], batches[1][1], batches[1][2]})
	wantLogs(t, s, "r2", "", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "other run")})
}

func testLogsBatch(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	const n = 10000
	lines := make([]gantry.LogLine, n)
	for i := range lines {
		// Two steps interleaved, each with its own Seq.
		step := []string{"build", "test"}[i%2]
		lines[i] = logLine(step, int64(i/2+1), gantry.Stdout, fmt.Sprintf("line %d of the batch", i))
	}
	if err := s.AppendLogs(t.Context(), "r1", lines); err != nil {
		t.Fatal(err)
	}
	wantLogs(t, s, "r1", "", lines)
	var test []gantry.LogLine
	for i := 1; i < n; i += 2 {
		test = append(test, lines[i])
	}
	wantLogs(t, s, "r1", "test", test)
}

func testLogsAllOrNothing(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	for name, bad := range map[string]gantry.LogLine{
		"no step":        {Seq: 2, Stream: gantry.Stdout, Text: "x"},
		"unknown stream": {Step: "build", Seq: 2, Stream: "stdin", Text: "x"},
		"far time":       {Step: "build", Seq: 2, Stream: gantry.Stdout, Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		lines := make([]gantry.LogLine, 300)
		for i := range lines {
			lines[i] = logLine("build", int64(i+1), gantry.Stdout, "fine")
		}
		lines[len(lines)-1] = bad
		wantKind(t, "AppendLogs with "+name, s.AppendLogs(t.Context(), "r1", lines), gantry.EInvalid)
	}
	wantKind(t, "AppendLogs without a run", s.AppendLogs(t.Context(), "", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "x")}), gantry.EInvalid)
	wantLogs(t, s, "r1", "", nil)
}

func testLogsUnknownRun(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	err := s.AppendLogs(t.Context(), "r2", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "x")})
	wantNotFound(t, "AppendLogs to an unknown run", err)
	_, err = s.Logs(t.Context(), "r2", "")
	wantNotFound(t, "Logs of an unknown run", err)
	_, err = s.Logs(t.Context(), "r2", "build")
	wantNotFound(t, "Logs of a step of an unknown run", err)
}

func testLogsEmpty(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	if err := s.AppendLogs(t.Context(), "r1", nil); err != nil {
		t.Errorf("AppendLogs of no lines: %v", err)
	}
	wantLogs(t, s, "r1", "", nil)
	if err := s.AppendLogs(t.Context(), "r1", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "x")}); err != nil {
		t.Fatal(err)
	}
	wantLogs(t, s, "r1", "test", nil)
}

func record(run gantry.RunID, step string, a gantry.Artifact) gantry.ArtifactRecord {
	a.Step = step
	return gantry.ArtifactRecord{RunID: run, Artifact: a}
}

func testArtifactsByRun(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0), newRun("r2", t0))
	test := newStep("r1", "test", t0.Add(2*time.Second))
	test.Outputs = []gantry.Artifact{artifact("junit.xml")}
	build := newStep("r1", "build", t0.Add(time.Second))
	build.Outputs = []gantry.Artifact{artifact("bin/shop"), artifact("sbom.json")}
	build.Outputs[1].Step = "build" // Step may be set or left empty
	lint := newStep("r1", "lint", t0)
	lint.Inputs = []gantry.Artifact{artifact("bin/shop")} // inputs are not indexed
	elsewhere := newStep("r2", "build", t0)
	elsewhere.Outputs = []gantry.Artifact{artifact("bin/shop")}
	mustPutStep(t, s, test, build, lint, elsewhere)

	wantArtifacts(t, s, gantry.ArtifactFilter{RunID: "r1"}, []gantry.ArtifactRecord{
		record("r1", "build", artifact("bin/shop")),
		record("r1", "build", artifact("sbom.json")),
		record("r1", "test", artifact("junit.xml")),
	})
	wantArtifacts(t, s, gantry.ArtifactFilter{RunID: "r1", Digest: digest("sbom.json")}, []gantry.ArtifactRecord{
		record("r1", "build", artifact("sbom.json")),
	})
}

func testArtifactsByDigest(t *testing.T, s gantry.Store) {
	// r-new was created last but sorts first by ID; order is by creation.
	mustCreate(t, s, newRun("r-new", t0.Add(time.Hour)), newRun("r-old", t0), newRun("r-mid", t0.Add(time.Minute)))
	shop := artifact("bin/shop")
	put := func(run gantry.RunID, step string, started time.Time, outs ...gantry.Artifact) {
		st := newStep(run, step, started)
		st.Outputs = outs
		mustPutStep(t, s, st)
	}
	put("r-mid", "build", t0, shop)
	put("r-new", "package", t0.Add(time.Second), artifact("shop.tar"), shop)
	put("r-old", "build", t0, shop, artifact("bin/other"))
	put("r-new", "build", t0, shop)

	wantArtifacts(t, s, gantry.ArtifactFilter{Digest: shop.Digest}, []gantry.ArtifactRecord{
		record("r-new", "build", shop),
		record("r-new", "package", shop),
		record("r-mid", "build", shop),
		record("r-old", "build", shop),
	})
	wantArtifacts(t, s, gantry.ArtifactFilter{Digest: digest("never stored")}, nil)
}

func testArtifactsReplace(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	build := newStep("r1", "build", t0)
	build.Outputs = []gantry.Artifact{artifact("bin/shop"), artifact("partial.log")}
	mustPutStep(t, s, build)

	retried := newStep("r1", "build", t0)
	retried.Status = gantry.StatusSucceeded
	retried.Outputs = []gantry.Artifact{artifact("bin/shop-v2")}
	mustPutStep(t, s, retried)
	wantArtifacts(t, s, gantry.ArtifactFilter{RunID: "r1"}, []gantry.ArtifactRecord{
		record("r1", "build", artifact("bin/shop-v2")),
	})
	wantArtifacts(t, s, gantry.ArtifactFilter{Digest: artifact("partial.log").Digest}, nil)

	retried.Outputs = nil
	mustPutStep(t, s, retried)
	wantArtifacts(t, s, gantry.ArtifactFilter{RunID: "r1"}, nil)
}

func testArtifactsFilter(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	_, err := s.Artifacts(t.Context(), gantry.ArtifactFilter{})
	wantKind(t, "Artifacts with an empty filter", err, gantry.EInvalid)
	_, err = s.Artifacts(t.Context(), gantry.ArtifactFilter{Digest: "sha256:../../x"})
	wantKind(t, "Artifacts with a malformed digest", err, gantry.EInvalid)
	_, err = s.Artifacts(t.Context(), gantry.ArtifactFilter{RunID: "r2"})
	wantNotFound(t, "Artifacts of an unknown run", err)
	wantArtifacts(t, s, gantry.ArtifactFilter{RunID: "r1"}, nil)
}

func testConcurrent(t *testing.T, s gantry.Store) {
	const (
		writers  = 8
		perStep  = 5
		perWrite = 20
	)
	mustCreate(t, s, newRun("r1", t0))
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWrite*3+100)
	for w := range writers {
		wg.Go(func() {
			for i := range perWrite {
				name := fmt.Sprintf("w%d-s%02d", w, i)
				st := newStep("r1", name, t0.Add(time.Duration(w*perWrite+i)*time.Millisecond))
				if err := s.PutStep(ctx, st); err != nil {
					errs <- fmt.Errorf("put %s: %w", name, err)
					return
				}
				lines := make([]gantry.LogLine, perStep)
				for j := range lines {
					lines[j] = logLine(name, int64(j+1), gantry.Stdout, "working")
				}
				if err := s.AppendLogs(ctx, "r1", lines); err != nil {
					errs <- fmt.Errorf("append logs of %s: %w", name, err)
					return
				}
				st.Status = gantry.StatusSucceeded
				st.Outputs = []gantry.Artifact{artifact(name)}
				if err := s.PutStep(ctx, st); err != nil {
					errs <- fmt.Errorf("finish %s: %w", name, err)
					return
				}
			}
		})
	}
	// Readers at the same time.
	for range 2 {
		wg.Go(func() {
			for range 20 {
				if _, err := s.Steps(ctx, "r1"); err != nil {
					errs <- fmt.Errorf("steps: %w", err)
				}
				if _, err := s.Logs(ctx, "r1", ""); err != nil {
					errs <- fmt.Errorf("logs: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	steps, err := s.Steps(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != writers*perWrite {
		t.Errorf("%d steps, want %d", len(steps), writers*perWrite)
	}
	for i, st := range steps {
		if want := fmt.Sprintf("w%d-s%02d", i/perWrite, i%perWrite); st.Name != want || st.Status != gantry.StatusSucceeded {
			t.Errorf("step %d is %s %s, want %s succeeded", i, st.Name, st.Status, want)
		}
	}
	lines, err := s.Logs(ctx, "r1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != writers*perWrite*perStep {
		t.Errorf("%d lines, want %d", len(lines), writers*perWrite*perStep)
	}
	next := map[string]int64{}
	for _, l := range lines {
		next[l.Step]++
		if l.Seq != next[l.Step] {
			t.Fatalf("line %d of step %s came as number %d", l.Seq, l.Step, next[l.Step])
		}
	}
	recs, err := s.Artifacts(ctx, gantry.ArtifactFilter{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != writers*perWrite {
		t.Errorf("%d artifacts, want %d", len(recs), writers*perWrite)
	}
}

func testContext(t *testing.T, s gantry.Store) {
	mustCreate(t, s, newRun("r1", t0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for what, err := range map[string]error{
		"CreateRun":  s.CreateRun(ctx, newRun("r2", t0)),
		"PutStep":    s.PutStep(ctx, newStep("r1", "build", t0)),
		"AppendLogs": s.AppendLogs(ctx, "r1", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "x")}),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", what, err)
		}
	}
	_, err := s.Run(ctx, "r1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v, want context.Canceled", err)
	}
	// Nothing was written.
	wantSteps(t, s, "r1", nil)
	wantLogs(t, s, "r1", "", nil)
	_, err = s.Run(t.Context(), "r2")
	wantNotFound(t, "Run(r2)", err)
}

func testClosed(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustCreate(t, s, newRun("r1", t0))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, errRun := s.Run(ctx, "r1")
	_, errRuns := s.Runs(ctx, gantry.RunFilter{})
	_, errStages := s.Stages(ctx, "r1")
	_, errSteps := s.Steps(ctx, "r1")
	_, errLogs := s.Logs(ctx, "r1", "")
	_, errArtifacts := s.Artifacts(ctx, gantry.ArtifactFilter{RunID: "r1"})
	for what, err := range map[string]error{
		"CreateRun":  s.CreateRun(ctx, newRun("r2", t0)),
		"UpdateRun":  s.UpdateRun(ctx, newRun("r1", t0)),
		"Run":        errRun,
		"Runs":       errRuns,
		"PutStage":   s.PutStage(ctx, &gantry.StageResult{RunID: "r1", Name: "commit", Status: gantry.StatusRunning}),
		"Stages":     errStages,
		"PutStep":    s.PutStep(ctx, newStep("r1", "build", t0)),
		"Steps":      errSteps,
		"AppendLogs": s.AppendLogs(ctx, "r1", []gantry.LogLine{logLine("build", 1, gantry.Stdout, "x")}),
		"Logs":       errLogs,
		"Artifacts":  errArtifacts,
	} {
		if err == nil {
			t.Errorf("%s on a closed store: no error", what)
		}
	}
	_ = s.Close() // a second Close must not panic
}

func newFinding(tool, rule string, sev gantry.Severity, path string, line int) gantry.Finding {
	return gantry.Finding{
		Tool: tool, RuleID: rule, Severity: sev, Confidence: "high",
		Location:    gantry.Location{Path: path, Line: line, Column: 3},
		Message:     rule + " in " + path,
		CWE:         []string{"CWE-89"},
		Fingerprint: string(digest(tool + rule + path))[7:39],
		New:         true,
		Waiver:      &gantry.Waiver{Fingerprint: "abc", Reason: "accepted", Owner: "alice", Expires: t0.Add(time.Hour).UTC()},
	}
}

func testFindingsRoundTrip(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-f", t0)
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	low := newFinding("iac", "DF-1", gantry.SeverityLow, "Dockerfile", 1)
	high := newFinding("sast", "G201", gantry.SeverityHigh, "db.go", 10)
	crit := newFinding("secrets", "aws", gantry.SeverityCritical, "a.env", 2)
	if err := s.PutFindings(ctx, r.ID, "sast", []gantry.Finding{low, high}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFindings(ctx, r.ID, "secrets", []gantry.Finding{crit}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Findings(ctx, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []gantry.FindingRecord{{RunID: r.ID, Step: "secrets", Finding: crit}, {RunID: r.ID, Step: "sast", Finding: high}, {RunID: r.ID, Step: "sast", Finding: low}}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Findings (-want +got):\n%s", diff)
	}
	one, err := s.Findings(ctx, r.ID, "secrets")
	if err != nil || len(one) != 1 {
		t.Errorf("Findings of one step = %v, %v", one, err)
	}
}

func testFindingsReplace(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-fr", t0)
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	a := newFinding("sast", "G201", gantry.SeverityHigh, "db.go", 10)
	if err := s.PutFindings(ctx, r.ID, "sast", []gantry.Finding{a, a}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFindings(ctx, r.ID, "sast", nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Findings(ctx, r.ID, "")
	if err != nil || len(got) != 0 {
		t.Errorf("after replacing with none: %v, %v", got, err)
	}
}

func testFindingsUnknownRun(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	if err := s.PutFindings(ctx, "nope", "sast", nil); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("PutFindings on an unknown run = %v, want not found", err)
	}
	if _, err := s.Findings(ctx, "nope", ""); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("Findings of an unknown run = %v, want not found", err)
	}
}

func testFindingsInvalid(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-fi", t0)
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []gantry.Finding{
		{Tool: "sast", Severity: gantry.SeverityHigh, Fingerprint: "x"},
		{Tool: "sast", RuleID: "G1", Severity: "severe", Fingerprint: "x"},
		{Tool: "sast", RuleID: "G1", Severity: gantry.SeverityHigh},
	} {
		if err := s.PutFindings(ctx, r.ID, "sast", []gantry.Finding{f}); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("PutFindings(%+v) = %v, want invalid", f, err)
		}
	}
}

func testRunsByBranch(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	a, b := newRun("run-main", t0), newRun("run-feature", t0.Add(time.Second))
	b.Trigger.Branch = "feature/x"
	for _, r := range []*gantry.Run{a, b} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Runs(ctx, gantry.RunFilter{Branch: "main"})
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("Runs on main = %v, %v", got, err)
	}
}
