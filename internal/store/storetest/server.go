package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// RunServer runs the suite of the server's stores: projects, jobs,
// identities, audit events, secrets and agents. open returns a new, empty
// store for one subtest; RunServer closes it when the subtest ends. The
// package comment says what the suite pins down besides the interfaces'
// comments.
func RunServer(t *testing.T, open func(t *testing.T) gantry.ServerStore) {
	for _, tc := range serverTests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, closeAtEnd(t, open(t))) })
	}
	// This one closes the store itself.
	t.Run("Server/Closed", func(t *testing.T) { testServerClosed(t, open(t)) })
}

// RunServerShared runs the tests that need two stores on one database,
// as two servers share one: open returns two stores, opened separately on
// one new, empty database. RunServerShared closes them.
func RunServerShared(t *testing.T, open func(t *testing.T) (gantry.ServerStore, gantry.ServerStore)) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, a, b gantry.ServerStore)
	}{
		{"Shared/SeeEachOther", testSharedSeeEachOther},
		{"Shared/LeaseConcurrent", testSharedLeaseConcurrent},
		{"Shared/LeaseExpired", testSharedLeaseExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.test(t, closeAtEnd(t, a), closeAtEnd(t, b))
		})
	}
}

// serverTest is one test of the server suite, on a new empty store.
type serverTest struct {
	name string
	test func(t *testing.T, s gantry.ServerStore)
}

var serverTests = []serverTest{
	{"Projects/RoundTrip", testProjectsRoundTrip},
	{"Projects/Replace", testProjectsReplace},
	{"Projects/Order", testProjectsOrder},
	{"Projects/Invalid", testProjectsInvalid},
	{"Jobs/Enqueue", testJobsEnqueue},
	{"Jobs/EnqueueDuplicate", testJobsEnqueueDuplicate},
	{"Jobs/EnqueueUnknownRun", testJobsEnqueueUnknownRun},
	{"Jobs/EnqueueInvalid", testJobsEnqueueInvalid},
	{"Jobs/LeaseOldest", testJobsLeaseOldest},
	{"Jobs/LeaseLabels", testJobsLeaseLabels},
	{"Jobs/LeaseExpired", testJobsLeaseExpired},
	{"Jobs/LeaseSkipsFinished", testJobsLeaseSkipsFinished},
	{"Jobs/LeaseInvalid", testJobsLeaseInvalid},
	{"Jobs/Renew", testJobsRenew},
	{"Jobs/NotHeld", testJobsNotHeld},
	{"Jobs/List", testJobsList},
	{"Jobs/LeaseConcurrent", testJobsLeaseConcurrent},
	{"Users/RoundTrip", testUsersRoundTrip},
	{"Users/Replace", testUsersReplace},
	{"Users/Invalid", testUsersInvalid},
	{"Grants/PutAndList", testGrantsPutAndList},
	{"Grants/Remove", testGrantsRemove},
	{"Grants/Unknown", testGrantsUnknown},
	{"Grants/Invalid", testGrantsInvalid},
	{"Grants/KeptOnReplace", testGrantsKeptOnReplace},
	{"Tokens/RoundTrip", testTokensRoundTrip},
	{"Tokens/Replace", testTokensReplace},
	{"Tokens/HashConflict", testTokensHashConflict},
	{"Tokens/Delete", testTokensDelete},
	{"Tokens/Invalid", testTokensInvalid},
	{"Audit/AppendAndList", testAuditAppendAndList},
	{"Audit/Filter", testAuditFilter},
	{"Audit/LedgerIndex", testAuditLedgerIndex},
	{"Audit/Invalid", testAuditInvalid},
	{"Audit/Concurrent", testAuditConcurrent},
	{"Secrets/RoundTripAndOrder", testSecretsRoundTrip},
	{"Secrets/Replace", testSecretsReplace},
	{"Secrets/Delete", testSecretsDelete},
	{"Secrets/UnknownProject", testSecretsUnknownProject},
	{"Secrets/Invalid", testSecretsInvalid},
	{"Agents/RoundTrip", testAgentsRoundTrip},
	{"Agents/Replace", testAgentsReplace},
	{"Agents/Invalid", testAgentsInvalid},
	{"Server/NotFound", testServerNotFound},
	{"Server/Context", testServerContext},
}

// Server records are compared strictly: cmp.Diff without EquateEmpty,
// since stores give back nil for what is empty, and time.Time with its
// Equal method.

func wantSame(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// wantUTC checks that every time a store gave back is in UTC.
func wantUTC(t *testing.T, what string, ts ...time.Time) {
	t.Helper()
	for _, x := range ts {
		if x.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, x, x.Location())
		}
	}
}

func wantNoError(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// --- Projects ---

func newProject(name string) *gantry.Project {
	return &gantry.Project{
		Name:              name,
		RepoURL:           "https://git.example.com/acme/" + name + ".git",
		DefaultBranch:     "main",
		PipelinePath:      ".gantry.yml",
		ProtectedBranches: []string{"main", "release/*"},
		CreatedAt:         t0,
	}
}

func mustPutProject(t *testing.T, s gantry.ServerStore, ps ...*gantry.Project) {
	t.Helper()
	for _, p := range ps {
		if err := s.PutProject(t.Context(), p); err != nil {
			t.Fatalf("PutProject(%s): %v", p.Name, err)
		}
	}
}

func wantProject(t *testing.T, s gantry.ServerStore, want *gantry.Project) {
	t.Helper()
	got, err := s.Project(t.Context(), want.Name)
	if err != nil {
		t.Fatalf("Project(%s): %v", want.Name, err)
	}
	wantSame(t, "Project("+want.Name+")", want, got)
	wantUTC(t, "Project("+want.Name+")", got.CreatedAt)
}

func projectNames(ps []*gantry.Project) []string {
	names := []string{}
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

func testProjectsRoundTrip(t *testing.T, s gantry.ServerStore) {
	full := newProjectFull()
	bare := &gantry.Project{Name: "0", CreatedAt: t0.Add(time.Nanosecond)}
	empty := &gantry.Project{Name: "empty", ProtectedBranches: []string{}, CreatedAt: t0}
	long := newProject(strings.Repeat("a", 62) + "9")
	mustPutProject(t, s, full, bare, empty, long)
	wantProject(t, s, full)
	wantProject(t, s, bare)
	empty.ProtectedBranches = nil // an empty list comes back nil
	wantProject(t, s, empty)
	wantProject(t, s, long)

	got, err := s.Project(t.Context(), "shop")
	wantNoError(t, "Project", err)
	got.ProtectedBranches[0] = "changed after Project"
	wantProject(t, s, newProjectFull())

	all, err := s.Projects(t.Context())
	wantNoError(t, "Projects", err)
	wantSame(t, "Projects", []*gantry.Project{bare, long, empty, full}, all)
}

// newProjectFull is testProjectsRoundTrip's full project.
func newProjectFull() *gantry.Project {
	p := newProject("shop")
	p.ProtectedBranches = []string{"main", "release/*", "hotfix/ünïcode"}
	p.Changes = "environments:\n  - name: production # ünïcode\n    required_approvals: 2\n"
	return p
}

func testProjectsReplace(t *testing.T, s gantry.ServerStore) {
	first := newProject("shop")
	first.Changes = "classification:\n  threshold: 5\n"
	mustPutProject(t, s, first, newProject("blog"))
	p := &gantry.Project{
		Name:          "shop",
		RepoURL:       "ssh://git@git.example.com/acme/shop-moved.git",
		DefaultBranch: "trunk",
		PipelinePath:  "ci/gantry.yml",
		CreatedAt:     t0.Add(time.Hour), // ignored: the first put's is kept
		// Changes is "": the replacement drops the first put's.
	}
	given := *p
	mustPutProject(t, s, p)
	wantSame(t, "project after PutProject (it is not modified)", &given, p)
	want := given
	want.CreatedAt = t0
	wantProject(t, s, &want)
	wantProject(t, s, newProject("blog"))
}

func testProjectsOrder(t *testing.T, s gantry.ServerStore) {
	// By bytes, not by a locale: "a-c" < "a1" < "ab" < "b" ("-" is 0x2d).
	for _, name := range []string{"b", "ab", "a-c", "a1", "0-z"} {
		mustPutProject(t, s, newProject(name))
	}
	all, err := s.Projects(t.Context())
	wantNoError(t, "Projects", err)
	wantSame(t, "Projects order", []string{"0-z", "a-c", "a1", "ab", "b"}, projectNames(all))
}

func testProjectsInvalid(t *testing.T, s gantry.ServerStore) {
	mod := func(f func(p *gantry.Project)) *gantry.Project {
		p := newProject("shop")
		f(p)
		return p
	}
	for name, p := range map[string]*gantry.Project{
		"nil":               nil,
		"no name":           mod(func(p *gantry.Project) { p.Name = "" }),
		"uppercase":         mod(func(p *gantry.Project) { p.Name = "Shop" }),
		"leading hyphen":    mod(func(p *gantry.Project) { p.Name = "-shop" }),
		"underscore":        mod(func(p *gantry.Project) { p.Name = "my_shop" }),
		"slash":             mod(func(p *gantry.Project) { p.Name = "acme/shop" }),
		"64 bytes":          mod(func(p *gantry.Project) { p.Name = strings.Repeat("a", 64) }),
		"non-ASCII":         mod(func(p *gantry.Project) { p.Name = "shöp" }),
		"no created_at":     mod(func(p *gantry.Project) { p.CreatedAt = time.Time{} }),
		"far time":          mod(func(p *gantry.Project) { p.CreatedAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"empty pattern":     mod(func(p *gantry.Project) { p.ProtectedBranches = []string{"main", ""} }),
		"newline in URL":    mod(func(p *gantry.Project) { p.RepoURL = "https://x\n" }),
		"invalid UTF-8":     mod(func(p *gantry.Project) { p.DefaultBranch = "ma\xffin" }),
		"NUL in a pipeline": mod(func(p *gantry.Project) { p.PipelinePath = "a\x00b" }),
		"NUL in changes":    mod(func(p *gantry.Project) { p.Changes = "a: 1\x00" }),
		"invalid changes":   mod(func(p *gantry.Project) { p.Changes = "a: \xff" }),
	} {
		wantKind(t, "PutProject with "+name, s.PutProject(t.Context(), p), gantry.EInvalid)
	}
	all, err := s.Projects(t.Context())
	wantNoError(t, "Projects", err)
	if len(all) != 0 {
		t.Errorf("invalid projects were stored: %v", projectNames(all))
	}
}

// --- Jobs ---

func newJob(id string, run gantry.RunID, created time.Time, labels ...string) *gantry.Job {
	return &gantry.Job{ID: gantry.JobID(id), RunID: run, Project: "shop", Labels: labels, Status: gantry.JobQueued, CreatedAt: created}
}

func mustEnqueue(t *testing.T, s gantry.ServerStore, jobs ...*gantry.Job) {
	t.Helper()
	for _, j := range jobs {
		if err := s.EnqueueJob(t.Context(), j); err != nil {
			t.Fatalf("EnqueueJob(%s): %v", j.ID, err)
		}
	}
}

func wantJob(t *testing.T, s gantry.ServerStore, want *gantry.Job) {
	t.Helper()
	got, err := s.Job(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("Job(%s): %v", want.ID, err)
	}
	wantSame(t, "Job("+string(want.ID)+")", want, got)
	wantUTC(t, "Job("+string(want.ID)+")", got.CreatedAt, got.LeaseExpires, got.FinishedAt)
}

// lease leases a job and checks that what LeaseJob returns is what Job
// then returns.
func lease(t *testing.T, s gantry.ServerStore, agent string, labels []string, now time.Time, ttl time.Duration) *gantry.Job {
	t.Helper()
	j, err := s.LeaseJob(t.Context(), agent, labels, now, ttl)
	if err != nil {
		t.Fatalf("LeaseJob(%s, %v, %v): %v", agent, labels, now, err)
	}
	wantJob(t, s, j)
	return j
}

// wantLeased checks that agent leases job id (and which one it got).
func wantLeased(t *testing.T, s gantry.ServerStore, id gantry.JobID, agent string, labels []string, now time.Time) *gantry.Job {
	t.Helper()
	j := lease(t, s, agent, labels, now, time.Minute)
	if j.ID != id {
		t.Errorf("LeaseJob(%s, %v) leased %s, want %s", agent, labels, j.ID, id)
	}
	return j
}

func wantNoJob(t *testing.T, s gantry.ServerStore, agent string, labels []string, now time.Time) {
	t.Helper()
	j, err := s.LeaseJob(t.Context(), agent, labels, now, time.Minute)
	if err == nil {
		t.Errorf("LeaseJob(%s, %v, %v) leased %s, want ErrNotFound", agent, labels, now, j.ID)
		return
	}
	wantNotFound(t, fmt.Sprintf("LeaseJob(%s, %v, %v)", agent, labels, now), err)
}

func testJobsEnqueue(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	labelled := newJob("job-1", "r1", t0, "linux", "docker", "arch=amd64")
	bare := &gantry.Job{ID: "job-2", RunID: "r1", Project: "shop", Labels: []string{}, CreatedAt: t0.Add(1)}
	given := *bare
	mustEnqueue(t, s, labelled, bare)
	wantSame(t, "job after EnqueueJob (it is not modified)", &given, bare)
	wantJob(t, s, labelled)
	// Status "" is queued; an empty list comes back nil.
	want := *bare
	want.Status, want.Labels = gantry.JobQueued, nil
	wantJob(t, s, &want)
}

func testJobsEnqueueDuplicate(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0), newRun("r2", t0))
	first := newJob("job-1", "r1", t0)
	mustEnqueue(t, s, first)
	second := newJob("job-1", "r2", t0.Add(time.Hour), "docker")
	wantKind(t, "second EnqueueJob", s.EnqueueJob(t.Context(), second), gantry.EConflict)
	wantJob(t, s, first)
}

func testJobsEnqueueUnknownRun(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	wantNotFound(t, "EnqueueJob for an unknown run", s.EnqueueJob(t.Context(), newJob("job-1", "r2", t0)))
	_, err := s.Job(t.Context(), "job-1")
	wantNotFound(t, "Job after EnqueueJob for an unknown run", err)
}

func testJobsEnqueueInvalid(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	mod := func(f func(j *gantry.Job)) *gantry.Job {
		j := newJob("job-1", "r1", t0, "docker")
		f(j)
		return j
	}
	for name, j := range map[string]*gantry.Job{
		"nil":            nil,
		"no id":          mod(func(j *gantry.Job) { j.ID = "" }),
		"space in id":    mod(func(j *gantry.Job) { j.ID = "job 1" }),
		"no run":         mod(func(j *gantry.Job) { j.RunID = "" }),
		"bad project":    mod(func(j *gantry.Job) { j.Project = "Shop" }),
		"no project":     mod(func(j *gantry.Job) { j.Project = "" }),
		"leased":         mod(func(j *gantry.Job) { j.Status = gantry.JobLeased }),
		"unknown status": mod(func(j *gantry.Job) { j.Status = "running" }),
		"an agent":       mod(func(j *gantry.Job) { j.Agent = "build-1" }),
		"a lease":        mod(func(j *gantry.Job) { j.LeaseExpires = t0 }),
		"an attempt":     mod(func(j *gantry.Job) { j.Attempts = 1 }),
		"finished":       mod(func(j *gantry.Job) { j.FinishedAt = t0 }),
		"no created_at":  mod(func(j *gantry.Job) { j.CreatedAt = time.Time{} }),
		"far time":       mod(func(j *gantry.Job) { j.CreatedAt = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"empty label":    mod(func(j *gantry.Job) { j.Labels = []string{"docker", ""} }),
		"space in label": mod(func(j *gantry.Job) { j.Labels = []string{"big disk"} }),
		"comma in label": mod(func(j *gantry.Job) { j.Labels = []string{"a,b"} }),
	} {
		wantKind(t, "EnqueueJob with "+name, s.EnqueueJob(t.Context(), j), gantry.EInvalid)
	}
	jobs, err := s.Jobs(t.Context(), gantry.JobFilter{})
	wantNoError(t, "Jobs", err)
	if len(jobs) != 0 {
		t.Errorf("invalid jobs were stored: %d", len(jobs))
	}
}

func testJobsLeaseOldest(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	// Queued out of order; job-b and job-d at the same instant (in
	// different locations) go by ID.
	mustEnqueue(t, s,
		newJob("job-c", "r1", t0.Add(2*time.Second)),
		newJob("job-d", "r1", t0.Add(time.Second).UTC()),
		newJob("job-b", "r1", t0.Add(time.Second)),
		newJob("job-e", "r1", t0.Add(time.Nanosecond)),
	)
	now := t0.Add(time.Hour)
	const ttl = 90*time.Second + 7
	j := lease(t, s, "build-1", nil, now, ttl)
	want := newJob("job-e", "r1", t0.Add(time.Nanosecond))
	want.Status, want.Agent, want.LeaseExpires, want.Attempts = gantry.JobLeased, "build-1", now.Add(ttl), 1
	wantSame(t, "leased job", want, j)
	for _, id := range []gantry.JobID{"job-b", "job-d", "job-c"} {
		wantLeased(t, s, id, "build-2", nil, now)
	}
	wantNoJob(t, s, "build-3", nil, now)
}

func testJobsLeaseLabels(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	mustEnqueue(t, s,
		newJob("job-docker-linux", "r1", t0, "docker", "linux"),
		newJob("job-gpu", "r1", t0.Add(1*time.Second), "gpu"),
		newJob("job-docker", "r1", t0.Add(2*time.Second), "docker"),
		newJob("job-any", "r1", t0.Add(3*time.Second)),
		newJob("job-any-2", "r1", t0.Add(4*time.Second)),
	)
	now := t0.Add(time.Hour)
	// Older jobs whose labels an agent lacks are passed over.
	wantLeased(t, s, "job-any", "plain", nil, now)
	wantLeased(t, s, "job-docker", "docker-only", []string{"docker"}, now)
	wantLeased(t, s, "job-docker-linux", "big", []string{"arm64", "linux", "docker", "linux"}, now)
	wantLeased(t, s, "job-any-2", "linux-only", []string{"linux"}, now)
	wantNoJob(t, s, "docker-linux", []string{"docker", "linux"}, now)
	// A label is a whole word: "gp" or "gpu2" is not "gpu".
	wantNoJob(t, s, "near-miss", []string{"gp", "gpu2", "GPU"}, now)
	wantLeased(t, s, "job-gpu", "gpu", []string{"gpu"}, now)
}

func testJobsLeaseExpired(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	mustEnqueue(t, s, newJob("job-1", "r1", t0), newJob("job-2", "r1", t0.Add(time.Second)))
	now := t0.Add(time.Hour)
	first := lease(t, s, "build-1", nil, now, time.Minute)
	if first.ID != "job-1" || first.Attempts != 1 {
		t.Fatalf("first lease: %s, attempt %d; want job-1, attempt 1", first.ID, first.Attempts)
	}
	// A lease that expires at now is not expired yet.
	expires := now.Add(time.Minute)
	wantLeased(t, s, "job-2", "build-2", nil, expires)
	wantNoJob(t, s, "build-3", nil, expires)

	// Just after, the older job goes to another agent and counts its
	// second attempt; the first agent no longer holds it.
	later := expires.Add(time.Nanosecond)
	again := lease(t, s, "build-3", nil, later, time.Minute)
	want := newJob("job-1", "r1", t0)
	want.Status, want.Agent, want.LeaseExpires, want.Attempts = gantry.JobLeased, "build-3", later.Add(time.Minute), 2
	wantSame(t, "re-leased job", want, again)
	wantKind(t, "RenewLease by the agent that lost it", s.RenewLease(t.Context(), "job-1", "build-1", later.Add(time.Hour)), gantry.EConflict)
	wantKind(t, "FinishJob by the agent that lost it", s.FinishJob(t.Context(), "job-1", "build-1", later), gantry.EConflict)
	wantJob(t, s, want)

	// The agent that holds it finishes it: it keeps its agent, lease and
	// attempts, and is never leased again.
	done := later.Add(3 * time.Second)
	wantNoError(t, "FinishJob", s.FinishJob(t.Context(), "job-1", "build-3", done))
	want.Status, want.FinishedAt = gantry.JobFinished, done
	wantJob(t, s, want)
	wantNoError(t, "FinishJob", s.FinishJob(t.Context(), "job-2", "build-2", done))
	wantNoJob(t, s, "build-4", nil, t0.Add(1000*time.Hour))
}

func testJobsLeaseSkipsFinished(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	const n = 200
	now := t0.Add(time.Hour)
	for i := range n {
		mustEnqueue(t, s, newJob(fmt.Sprintf("job-%03d", i), "r1", t0.Add(time.Duration(i)*time.Millisecond)))
		j := lease(t, s, "build-1", nil, now, time.Minute)
		wantNoError(t, "FinishJob", s.FinishJob(t.Context(), j.ID, "build-1", now))
	}
	// An expired lease older than a queued job comes first: age decides,
	// not status.
	mustEnqueue(t, s, newJob("job-held", "r1", t0.Add(time.Hour)), newJob("job-queued", "r1", t0.Add(2*time.Hour)))
	wantLeased(t, s, "job-held", "build-1", nil, now)
	wantLeased(t, s, "job-held", "build-2", nil, now.Add(2*time.Minute))
	wantLeased(t, s, "job-queued", "build-1", nil, now.Add(2*time.Minute))
	wantNoJob(t, s, "build-3", nil, now.Add(2*time.Minute))
}

func testJobsLeaseInvalid(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	mustEnqueue(t, s, newJob("job-1", "r1", t0))
	now := t0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		agent  string
		labels []string
		now    time.Time
		ttl    time.Duration
	}{
		{"no agent", "", nil, now, time.Minute},
		{"agent with a space", "build 1", nil, now, time.Minute},
		{"agent with a colon", "agent:build-1", nil, now, time.Minute},
		{"zero time", "build-1", nil, time.Time{}, time.Minute},
		{"zero ttl", "build-1", nil, now, 0},
		{"negative ttl", "build-1", nil, now, -time.Minute},
		{"bad label", "build-1", []string{"docker", ""}, now, time.Minute},
		{"lease beyond 2262", "build-1", nil, time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), 24 * time.Hour},
	} {
		_, err := s.LeaseJob(t.Context(), tc.agent, tc.labels, tc.now, tc.ttl)
		wantKind(t, "LeaseJob with "+tc.name, err, gantry.EInvalid)
	}
	wantJob(t, s, newJob("job-1", "r1", t0))
}

func testJobsRenew(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	mustEnqueue(t, s, newJob("job-1", "r1", t0))
	now := t0.Add(time.Hour)
	j := lease(t, s, "build-1", nil, now, time.Minute)
	until := now.Add(10*time.Minute + 3)
	wantNoError(t, "RenewLease", s.RenewLease(t.Context(), j.ID, "build-1", until))
	j.LeaseExpires = until
	wantJob(t, s, j)
	// A renewed lease is not expired at its first expiry.
	wantNoJob(t, s, "build-2", nil, now.Add(5*time.Minute))

	// A lease that expired but that no other agent took is still the
	// agent's: it may renew it (RenewLease is given no clock), and it may
	// shorten it.
	late := until.Add(time.Hour)
	wantNoError(t, "RenewLease after expiry", s.RenewLease(t.Context(), j.ID, "build-1", late))
	j.LeaseExpires = late
	wantJob(t, s, j)
	wantNoError(t, "RenewLease to an earlier time", s.RenewLease(t.Context(), j.ID, "build-1", now))
	j.LeaseExpires = now
	wantJob(t, s, j)
	if j.Attempts != 1 {
		t.Errorf("renewing counted attempts: %d, want 1", j.Attempts)
	}
}

func testJobsNotHeld(t *testing.T, s gantry.ServerStore) {
	ctx := t.Context()
	mustCreate(t, s, newRun("r1", t0))
	queued := newJob("job-queued", "r1", t0.Add(time.Hour))
	mustEnqueue(t, s, newJob("job-1", "r1", t0), queued)
	now := t0.Add(time.Hour)
	j := lease(t, s, "build-1", nil, now, time.Minute)

	wantNotFound(t, "RenewLease of an unknown job", s.RenewLease(ctx, "job-none", "build-1", now))
	wantNotFound(t, "FinishJob of an unknown job", s.FinishJob(ctx, "job-none", "build-1", now))
	wantKind(t, "RenewLease of a queued job", s.RenewLease(ctx, queued.ID, "build-1", now), gantry.EConflict)
	wantKind(t, "FinishJob of a queued job", s.FinishJob(ctx, queued.ID, "build-1", now), gantry.EConflict)
	wantKind(t, "RenewLease by another agent", s.RenewLease(ctx, j.ID, "build-2", now), gantry.EConflict)
	wantKind(t, "FinishJob by another agent", s.FinishJob(ctx, j.ID, "build-2", now), gantry.EConflict)
	for what, err := range map[string]error{
		"RenewLease without a job":   s.RenewLease(ctx, "", "build-1", now),
		"RenewLease without agent":   s.RenewLease(ctx, j.ID, "", now),
		"RenewLease without a time":  s.RenewLease(ctx, j.ID, "build-1", time.Time{}),
		"RenewLease beyond 2262":     s.RenewLease(ctx, j.ID, "build-1", time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)),
		"FinishJob without a job":    s.FinishJob(ctx, "", "build-1", now),
		"FinishJob with a bad agent": s.FinishJob(ctx, j.ID, "build 1", now),
		"FinishJob without a time":   s.FinishJob(ctx, j.ID, "build-1", time.Time{}),
	} {
		wantKind(t, what, err, gantry.EInvalid)
	}
	wantJob(t, s, j)
	wantJob(t, s, queued)

	wantNoError(t, "FinishJob", s.FinishJob(ctx, j.ID, "build-1", now.Add(time.Second)))
	wantKind(t, "FinishJob twice", s.FinishJob(ctx, j.ID, "build-1", now.Add(2*time.Second)), gantry.EConflict)
	wantKind(t, "RenewLease of a finished job", s.RenewLease(ctx, j.ID, "build-1", now.Add(time.Hour)), gantry.EConflict)
	j.Status, j.FinishedAt = gantry.JobFinished, now.Add(time.Second)
	wantJob(t, s, j)
}

func jobIDs(jobs []*gantry.Job) []gantry.JobID {
	ids := []gantry.JobID{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func testJobsList(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0), newRun("r2", t0))
	mustEnqueue(t, s,
		newJob("j5", "r2", t0.Add(5*time.Second), "docker"),
		newJob("j1", "r1", t0.Add(1*time.Second)),
		newJob("j3", "r1", t0.Add(3*time.Second)),
		newJob("j2", "r2", t0.Add(2*time.Second)),
		newJob("j4", "r1", t0.Add(4*time.Second)),
	)
	now := t0.Add(time.Hour)
	wantLeased(t, s, "j1", "build-1", nil, now)
	wantLeased(t, s, "j2", "build-1", nil, now)
	wantNoError(t, "FinishJob", s.FinishJob(t.Context(), "j1", "build-1", now))
	for _, tc := range []struct {
		f    gantry.JobFilter
		want []gantry.JobID
	}{
		{gantry.JobFilter{}, []gantry.JobID{"j1", "j2", "j3", "j4", "j5"}},
		{gantry.JobFilter{Limit: 2}, []gantry.JobID{"j1", "j2"}},
		{gantry.JobFilter{Limit: 9}, []gantry.JobID{"j1", "j2", "j3", "j4", "j5"}},
		{gantry.JobFilter{Status: gantry.JobQueued}, []gantry.JobID{"j3", "j4", "j5"}},
		{gantry.JobFilter{Status: gantry.JobLeased}, []gantry.JobID{"j2"}},
		{gantry.JobFilter{Status: gantry.JobFinished}, []gantry.JobID{"j1"}},
		{gantry.JobFilter{RunID: "r1"}, []gantry.JobID{"j1", "j3", "j4"}},
		{gantry.JobFilter{RunID: "r1", Status: gantry.JobQueued, Limit: 1}, []gantry.JobID{"j3"}},
		{gantry.JobFilter{RunID: "r2", Status: gantry.JobFinished}, []gantry.JobID{}},
		{gantry.JobFilter{RunID: "none"}, []gantry.JobID{}},
	} {
		jobs, err := s.Jobs(t.Context(), tc.f)
		if err != nil {
			t.Errorf("Jobs(%+v): %v", tc.f, err)
			continue
		}
		wantSame(t, fmt.Sprintf("Jobs(%+v)", tc.f), tc.want, jobIDs(jobs))
	}
	// Jobs returns whole jobs.
	jobs, err := s.Jobs(t.Context(), gantry.JobFilter{RunID: "r2", Status: gantry.JobQueued})
	wantNoError(t, "Jobs", err)
	wantSame(t, "Jobs of r2", []*gantry.Job{newJob("j5", "r2", t0.Add(5*time.Second), "docker")}, jobs)

	for _, f := range []gantry.JobFilter{{Limit: -1}, {Status: "running"}} {
		_, err := s.Jobs(t.Context(), f)
		wantKind(t, fmt.Sprintf("Jobs(%+v)", f), err, gantry.EInvalid)
	}
}

// leaseAll has agents lease jobs on the stores, round robin, at once
// until none is left, and returns how many times each job was leased.
func leaseAll(t *testing.T, stores []gantry.ServerStore, agents int, now time.Time) map[gantry.JobID]int {
	t.Helper()
	var (
		mu     sync.Mutex
		leased = map[gantry.JobID]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for a := range agents {
		s := stores[a%len(stores)]
		wg.Go(func() {
			<-start
			name := fmt.Sprintf("agent-%d", a)
			for {
				j, err := s.LeaseJob(t.Context(), name, nil, now, time.Hour)
				if errors.Is(err, gantry.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("LeaseJob(%s): %v", name, err)
					return
				}
				if j.Agent != name || j.Attempts != 1 || j.Status != gantry.JobLeased {
					t.Errorf("%s leased %s: agent %s, attempt %d, status %s", name, j.ID, j.Agent, j.Attempts, j.Status)
				}
				mu.Lock()
				leased[j.ID]++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return leased
}

func wantLeasedOnce(t *testing.T, leased map[gantry.JobID]int, n int) {
	t.Helper()
	for id, k := range leased {
		if k != 1 {
			t.Errorf("job %s leased %d times", id, k)
		}
	}
	if len(leased) != n {
		t.Errorf("%d jobs leased, want all %d", len(leased), n)
	}
}

func enqueueMany(t *testing.T, stores []gantry.ServerStore, n int) {
	t.Helper()
	mustCreate(t, stores[0], newRun("r1", t0))
	for i := range n {
		mustEnqueue(t, stores[i%len(stores)], newJob(fmt.Sprintf("job-%04d", i), "r1", t0.Add(time.Duration(i)*time.Microsecond)))
	}
}

func testJobsLeaseConcurrent(t *testing.T, s gantry.ServerStore) {
	const jobs, agents = 120, 8
	enqueueMany(t, []gantry.ServerStore{s}, jobs)
	wantLeasedOnce(t, leaseAll(t, []gantry.ServerStore{s}, agents, t0.Add(time.Hour)), jobs)
	queued, err := s.Jobs(t.Context(), gantry.JobFilter{Status: gantry.JobQueued})
	if err != nil || len(queued) != 0 {
		t.Errorf("after leasing them all, queued jobs: %v, %v", jobIDs(queued), err)
	}
}

func testSharedSeeEachOther(t *testing.T, a, b gantry.ServerStore) {
	mustPutProject(t, a, newProject("shop"))
	wantProject(t, b, newProject("shop"))
	mustPutUser(t, b, newUser("alice"))
	wantUser(t, a, newUser("alice"))
}

func testSharedLeaseConcurrent(t *testing.T, a, b gantry.ServerStore) {
	const jobs, agents = 120, 8
	stores := []gantry.ServerStore{a, b}
	enqueueMany(t, stores, jobs)
	wantLeasedOnce(t, leaseAll(t, stores, agents, t0.Add(time.Hour)), jobs)
}

func testSharedLeaseExpired(t *testing.T, a, b gantry.ServerStore) {
	mustCreate(t, a, newRun("r1", t0))
	mustEnqueue(t, a, newJob("job-1", "r1", t0))
	now := t0.Add(time.Hour)
	wantLeased(t, a, "job-1", "build-1", nil, now)
	wantNoJob(t, b, "build-2", nil, now)
	j := wantLeased(t, b, "job-1", "build-2", nil, now.Add(time.Hour))
	if j.Attempts != 2 {
		t.Errorf("re-leased on the other store: attempt %d, want 2", j.Attempts)
	}
	wantKind(t, "FinishJob by the agent that lost it", a.FinishJob(t.Context(), "job-1", "build-1", now), gantry.EConflict)
	wantNoError(t, "FinishJob", a.FinishJob(t.Context(), "job-1", "build-2", now.Add(time.Hour)))
}

// --- Users, grants and tokens ---

func newUser(name string) *gantry.User {
	return &gantry.User{
		Name:         name,
		Email:        name + "@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		CreatedAt:    t0,
	}
}

func mustPutUser(t *testing.T, s gantry.ServerStore, us ...*gantry.User) {
	t.Helper()
	for _, u := range us {
		if err := s.PutUser(t.Context(), u); err != nil {
			t.Fatalf("PutUser(%s): %v", u.Name, err)
		}
	}
}

func wantUser(t *testing.T, s gantry.ServerStore, want *gantry.User) {
	t.Helper()
	got, err := s.User(t.Context(), want.Name)
	if err != nil {
		t.Fatalf("User(%s): %v", want.Name, err)
	}
	wantSame(t, "User("+want.Name+")", want, got)
	wantUTC(t, "User("+want.Name+")", got.CreatedAt, got.LockedUntil)
}

func testUsersRoundTrip(t *testing.T, s gantry.ServerStore) {
	full := newUser("alice")
	full.TOTPSecret = []byte{0, 1, 2, 0xfe, 0xff, 0}
	full.ServerAdmin, full.Disabled, full.FailedLogins = true, true, 5
	full.LockedUntil = t0.Add(15*time.Minute + 1)
	sso := &gantry.User{Name: "Bob.Smith+ci@example.com", TOTPSecret: []byte{}, CreatedAt: t0.Add(time.Second)}
	mustPutUser(t, s, full, sso)
	wantUser(t, s, full)
	sso.TOTPSecret = nil // empty comes back nil: two-factor is off
	wantUser(t, s, sso)
	all, err := s.Users(t.Context())
	wantNoError(t, "Users", err)
	wantSame(t, "Users, by name", []*gantry.User{sso, full}, all)
}

func testUsersReplace(t *testing.T, s gantry.ServerStore) {
	first := newUser("alice")
	first.TOTPSecret, first.FailedLogins, first.LockedUntil = []byte("sealed"), 5, t0.Add(time.Hour)
	mustPutUser(t, s, first, newUser("bob"))
	u := newUser("alice")
	u.Email, u.PasswordHash, u.ServerAdmin = "alice@example.org", "", true
	u.CreatedAt = t0.Add(time.Hour) // ignored: the first put's is kept
	given := *u
	mustPutUser(t, s, u)
	wantSame(t, "user after PutUser (it is not modified)", &given, u)
	want := given
	want.CreatedAt = t0
	wantUser(t, s, &want)
	wantUser(t, s, newUser("bob"))
}

func testUsersInvalid(t *testing.T, s gantry.ServerStore) {
	mod := func(f func(u *gantry.User)) *gantry.User {
		u := newUser("alice")
		f(u)
		return u
	}
	for name, u := range map[string]*gantry.User{
		"nil":               nil,
		"no name":           mod(func(u *gantry.User) { u.Name = "" }),
		"colon":             mod(func(u *gantry.User) { u.Name = "agent:build-1" }),
		"space":             mod(func(u *gantry.User) { u.Name = "alice smith" }),
		"leading dot":       mod(func(u *gantry.User) { u.Name = ".alice" }),
		"129 bytes":         mod(func(u *gantry.User) { u.Name = strings.Repeat("a", 129) }),
		"newline in email":  mod(func(u *gantry.User) { u.Email = "a@b\n" }),
		"negative failures": mod(func(u *gantry.User) { u.FailedLogins = -1 }),
		"no created_at":     mod(func(u *gantry.User) { u.CreatedAt = time.Time{} }),
		"far time":          mod(func(u *gantry.User) { u.LockedUntil = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }),
	} {
		wantKind(t, "PutUser with "+name, s.PutUser(t.Context(), u), gantry.EInvalid)
	}
	all, err := s.Users(t.Context())
	wantNoError(t, "Users", err)
	if len(all) != 0 {
		t.Errorf("invalid users were stored: %d", len(all))
	}
}

func mustGrant(t *testing.T, s gantry.ServerStore, gs ...gantry.Grant) {
	t.Helper()
	for _, g := range gs {
		if err := s.PutGrant(t.Context(), g); err != nil {
			t.Fatalf("PutGrant(%+v): %v", g, err)
		}
	}
}

func wantGrants(t *testing.T, s gantry.ServerStore, user, project string, want []gantry.Grant) {
	t.Helper()
	got, err := s.Grants(t.Context(), user, project)
	if err != nil {
		t.Fatalf("Grants(%q, %q): %v", user, project, err)
	}
	wantSame(t, fmt.Sprintf("Grants(%q, %q)", user, project), want, got)
}

func testGrantsPutAndList(t *testing.T, s gantry.ServerStore) {
	mustPutUser(t, s, newUser("carol"), newUser("alice"), newUser("bob"))
	mustPutProject(t, s, newProject("shop"), newProject("blog"), newProject("a-c"))
	aliceShop := gantry.Grant{User: "alice", Project: "shop", Role: gantry.RoleAdmin}
	aliceBlog := gantry.Grant{User: "alice", Project: "blog", Role: gantry.RoleViewer}
	aliceAC := gantry.Grant{User: "alice", Project: "a-c", Role: gantry.RoleDeveloper}
	bobShop := gantry.Grant{User: "bob", Project: "shop", Role: gantry.RoleApprover}
	carolShop := gantry.Grant{User: "carol", Project: "shop", Role: gantry.RoleViewer}
	mustGrant(t, s, carolShop, aliceShop, bobShop, aliceBlog, aliceAC)

	wantGrants(t, s, "alice", "", []gantry.Grant{aliceAC, aliceBlog, aliceShop})
	wantGrants(t, s, "", "shop", []gantry.Grant{aliceShop, bobShop, carolShop})
	wantGrants(t, s, "alice", "blog", []gantry.Grant{aliceBlog})
	wantGrants(t, s, "bob", "blog", nil)
	wantGrants(t, s, "nobody", "", nil)
	wantGrants(t, s, "", "no-project", nil)

	// A grant replaces the user's role in the project.
	bobShop.Role = gantry.RoleViewer
	mustGrant(t, s, bobShop)
	wantGrants(t, s, "bob", "", []gantry.Grant{bobShop})
	wantGrants(t, s, "", "shop", []gantry.Grant{aliceShop, bobShop, carolShop})

	_, err := s.Grants(t.Context(), "", "")
	wantKind(t, "Grants of no user and no project", err, gantry.EInvalid)
}

func testGrantsRemove(t *testing.T, s gantry.ServerStore) {
	mustPutUser(t, s, newUser("alice"))
	mustPutProject(t, s, newProject("shop"), newProject("blog"))
	blog := gantry.Grant{User: "alice", Project: "blog", Role: gantry.RoleViewer}
	mustGrant(t, s, gantry.Grant{User: "alice", Project: "shop", Role: gantry.RoleAdmin}, blog)
	mustGrant(t, s, gantry.Grant{User: "alice", Project: "shop"})
	wantGrants(t, s, "alice", "", []gantry.Grant{blog})
	// Removing what is not there is no error.
	mustGrant(t, s, gantry.Grant{User: "alice", Project: "shop"})
	mustGrant(t, s, gantry.Grant{User: "nobody", Project: "nowhere"})
	wantGrants(t, s, "alice", "", []gantry.Grant{blog})
}

func testGrantsUnknown(t *testing.T, s gantry.ServerStore) {
	mustPutUser(t, s, newUser("alice"))
	mustPutProject(t, s, newProject("shop"))
	wantNotFound(t, "PutGrant to an unknown user",
		s.PutGrant(t.Context(), gantry.Grant{User: "bob", Project: "shop", Role: gantry.RoleViewer}))
	wantNotFound(t, "PutGrant in an unknown project",
		s.PutGrant(t.Context(), gantry.Grant{User: "alice", Project: "blog", Role: gantry.RoleViewer}))
	wantGrants(t, s, "", "shop", nil)
	wantGrants(t, s, "alice", "", nil)
}

func testGrantsInvalid(t *testing.T, s gantry.ServerStore) {
	mustPutUser(t, s, newUser("alice"))
	mustPutProject(t, s, newProject("shop"))
	for name, g := range map[string]gantry.Grant{
		"no user":      {Project: "shop", Role: gantry.RoleViewer},
		"bad user":     {User: "agent:x", Project: "shop", Role: gantry.RoleViewer},
		"no project":   {User: "alice", Role: gantry.RoleViewer},
		"bad project":  {User: "alice", Project: "Shop", Role: gantry.RoleViewer},
		"unknown role": {User: "alice", Project: "shop", Role: "owner"},
		"role case":    {User: "alice", Project: "shop", Role: "Admin"},
	} {
		wantKind(t, "PutGrant with "+name, s.PutGrant(t.Context(), g), gantry.EInvalid)
	}
	wantGrants(t, s, "alice", "", nil)
}

func testGrantsKeptOnReplace(t *testing.T, s gantry.ServerStore) {
	mustPutUser(t, s, newUser("alice"))
	mustPutProject(t, s, newProject("shop"))
	g := gantry.Grant{User: "alice", Project: "shop", Role: gantry.RoleAdmin}
	mustGrant(t, s, g)
	sec := newSecret("shop", "", "DB_PASSWORD")
	if err := s.PutSecret(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	// Replacing a user or a project keeps what refers to it.
	mustPutUser(t, s, newUser("alice"))
	mustPutProject(t, s, newProject("shop"))
	wantGrants(t, s, "alice", "", []gantry.Grant{g})
	wantSecret(t, s, sec)
}

// newToken returns a token whose secret is "secret-" and its ID.
func newToken(id, user string) *gantry.Token {
	return &gantry.Token{
		ID:        id,
		Hash:      tokenHash("secret-" + id),
		User:      user,
		Name:      "token " + id,
		Scopes:    []string{"runs:write", "runs:read"},
		ExpiresAt: t0.Add(30 * 24 * time.Hour),
		CreatedAt: t0,
	}
}

func tokenHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func mustPutToken(t *testing.T, s gantry.ServerStore, ts ...*gantry.Token) {
	t.Helper()
	for _, tok := range ts {
		if err := s.PutToken(t.Context(), tok); err != nil {
			t.Fatalf("PutToken(%s): %v", tok.ID, err)
		}
	}
}

func wantToken(t *testing.T, s gantry.ServerStore, want *gantry.Token) {
	t.Helper()
	got, err := s.TokenByHash(t.Context(), want.Hash)
	if err != nil {
		t.Fatalf("TokenByHash(%s): %v", want.ID, err)
	}
	wantSame(t, "TokenByHash("+want.ID+")", want, got)
	wantUTC(t, "TokenByHash("+want.ID+")", got.CreatedAt, got.ExpiresAt)
}

func wantTokens(t *testing.T, s gantry.ServerStore, user string, want []*gantry.Token) {
	t.Helper()
	got, err := s.Tokens(t.Context(), user)
	if err != nil {
		t.Fatalf("Tokens(%s): %v", user, err)
	}
	wantSame(t, "Tokens("+user+")", want, got)
}

func testTokensRoundTrip(t *testing.T, s gantry.ServerStore) {
	api := newToken("tok-api", "alice")
	api.Scopes = []string{"runs:write", "admin", "runs:read"} // in the order given
	api.Project = "shop"
	job := newToken("tok-job", "agent:build-1")
	job.Scopes, job.RunID = []string{"job"}, "20250314-150926-1a2b3c4d"
	job.ExpiresAt = t0.Add(time.Hour + 1)
	forever := &gantry.Token{ID: "tok-forever", Hash: tokenHash("forever"), User: "alice", Scopes: []string{},
		CreatedAt: t0.Add(-time.Hour)}
	same := newToken("tok-a-same-time", "alice") // created with tok-api: by ID
	mustPutToken(t, s, api, job, forever, same)
	wantToken(t, s, api)
	wantToken(t, s, job)
	forever.Scopes = nil
	wantToken(t, s, forever) // no expiry stays zero
	wantTokens(t, s, "alice", []*gantry.Token{forever, same, api})
	wantTokens(t, s, "agent:build-1", []*gantry.Token{job})
	wantTokens(t, s, "bob", nil)
	_, err := s.TokenByHash(t.Context(), tokenHash("unknown"))
	wantNotFound(t, "TokenByHash of an unknown hash", err)
}

func testTokensReplace(t *testing.T, s gantry.ServerStore) {
	mustPutToken(t, s, newToken("tok-1", "alice"))
	tok := newToken("tok-1", "alice")
	tok.Hash, tok.Name, tok.Scopes = tokenHash("rotated"), "renamed", []string{"runs:read"}
	tok.ExpiresAt = time.Time{}
	tok.CreatedAt = t0.Add(time.Hour) // ignored: the first put's is kept
	given := *tok
	mustPutToken(t, s, tok)
	wantSame(t, "token after PutToken (it is not modified)", &given, tok)
	_, err := s.TokenByHash(t.Context(), newToken("tok-1", "alice").Hash)
	wantNotFound(t, "TokenByHash of the replaced hash", err)
	want := given
	want.CreatedAt = t0
	wantToken(t, s, &want)
	wantTokens(t, s, "alice", []*gantry.Token{&want})
}

func testTokensHashConflict(t *testing.T, s gantry.ServerStore) {
	first := newToken("tok-1", "alice")
	mustPutToken(t, s, first)
	second := newToken("tok-2", "bob")
	second.Hash = first.Hash
	wantKind(t, "PutToken with another token's hash", s.PutToken(t.Context(), second), gantry.EConflict)
	wantToken(t, s, first)
	wantTokens(t, s, "bob", nil)
}

func testTokensDelete(t *testing.T, s gantry.ServerStore) {
	keep, gone := newToken("tok-keep", "alice"), newToken("tok-gone", "alice")
	mustPutToken(t, s, keep, gone)
	wantNoError(t, "DeleteToken", s.DeleteToken(t.Context(), gone.ID))
	_, err := s.TokenByHash(t.Context(), gone.Hash)
	wantNotFound(t, "TokenByHash of a deleted token", err)
	wantNotFound(t, "DeleteToken again", s.DeleteToken(t.Context(), gone.ID))
	wantNotFound(t, "DeleteToken of an unknown token", s.DeleteToken(t.Context(), "tok-none"))
	wantTokens(t, s, "alice", []*gantry.Token{keep})
}

func testTokensInvalid(t *testing.T, s gantry.ServerStore) {
	mod := func(f func(tok *gantry.Token)) *gantry.Token {
		tok := newToken("tok-1", "alice")
		f(tok)
		return tok
	}
	for name, tok := range map[string]*gantry.Token{
		"nil":             nil,
		"no id":           mod(func(tok *gantry.Token) { tok.ID = "" }),
		"space in id":     mod(func(tok *gantry.Token) { tok.ID = "tok 1" }),
		"no hash":         mod(func(tok *gantry.Token) { tok.Hash = "" }),
		"uppercase hash":  mod(func(tok *gantry.Token) { tok.Hash = strings.ToUpper(tok.Hash) }),
		"short hash":      mod(func(tok *gantry.Token) { tok.Hash = tok.Hash[:63] }),
		"no user":         mod(func(tok *gantry.Token) { tok.User = "" }),
		"bad user":        mod(func(tok *gantry.Token) { tok.User = "alice smith" }),
		"agent, no name":  mod(func(tok *gantry.Token) { tok.User = "agent:" }),
		"bad project":     mod(func(tok *gantry.Token) { tok.Project = "Shop" }),
		"empty scope":     mod(func(tok *gantry.Token) { tok.Scopes = []string{"runs:read", ""} }),
		"space in scope":  mod(func(tok *gantry.Token) { tok.Scopes = []string{"runs read"} }),
		"newline in name": mod(func(tok *gantry.Token) { tok.Name = "ci\n" }),
		"no created_at":   mod(func(tok *gantry.Token) { tok.CreatedAt = time.Time{} }),
		"far expiry":      mod(func(tok *gantry.Token) { tok.ExpiresAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }),
	} {
		wantKind(t, "PutToken with "+name, s.PutToken(t.Context(), tok), gantry.EInvalid)
	}
	wantTokens(t, s, "alice", nil)
}

// --- Audit ---

func newAuditEvent(actor, action string, i int) *gantry.AuditEvent {
	return &gantry.AuditEvent{
		Time:    t0.Add(time.Duration(i)*time.Second + time.Duration(i)),
		Actor:   actor,
		Action:  action,
		Target:  fmt.Sprintf("project/shop/%d", i),
		Outcome: "success",
		Remote:  "192.0.2.7",
		Detail:  map[string]string{"i": fmt.Sprint(i), "user_agent": "curl/8.5.0", "ünïcode": "☃\t\n"},
	}
}

func mustAppendAudit(t *testing.T, s gantry.ServerStore, es ...*gantry.AuditEvent) {
	t.Helper()
	for _, e := range es {
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit(%s): %v", e.Action, err)
		}
	}
}

func wantAudit(t *testing.T, s gantry.ServerStore, f gantry.AuditFilter, want []*gantry.AuditEvent) {
	t.Helper()
	got, err := s.AuditEvents(t.Context(), f)
	if err != nil {
		t.Fatalf("AuditEvents(%+v): %v", f, err)
	}
	wantSame(t, fmt.Sprintf("AuditEvents(%+v)", f), want, got)
	for _, e := range got {
		wantUTC(t, "audit event", e.Time)
	}
}

func testAuditAppendAndList(t *testing.T, s gantry.ServerStore) {
	login := newAuditEvent("alice", "login", 1)
	login.LedgerIndex = 0 // ignored: a new event is not in the ledger
	failed := newAuditEvent("anonymous", "login.failed", 2)
	failed.Outcome, failed.Detail, failed.Remote = "failure", map[string]string{}, ""
	failed.ID = 1 // ignored: the store gives IDs
	hook := newAuditEvent("webhook:github", "webhook.refused", 3)
	hook.Outcome, hook.Detail = "denied", nil
	hook.Time = t0.Add(-time.Hour) // IDs, not times, order events
	mustAppendAudit(t, s, login, failed, hook)

	var last int64
	for _, e := range []*gantry.AuditEvent{login, failed, hook} {
		if e.ID <= last {
			t.Errorf("event %s has ID %d, after %d: want increasing IDs above 0", e.Action, e.ID, last)
		}
		last = e.ID
		if e.LedgerIndex != -1 {
			t.Errorf("event %s: LedgerIndex %d after AppendAudit, want -1", e.Action, e.LedgerIndex)
		}
	}
	failed.Detail = nil // an empty map comes back nil
	wantAudit(t, s, gantry.AuditFilter{}, []*gantry.AuditEvent{hook, failed, login})
}

func testAuditFilter(t *testing.T, s gantry.ServerStore) {
	es := []*gantry.AuditEvent{
		newAuditEvent("alice", "login", 0),
		newAuditEvent("bob", "login", 1),
		newAuditEvent("alice", "token.create", 2),
		newAuditEvent("alice", "login", 3),
		newAuditEvent("agent:build-1", "job.lease", 4),
	}
	mustAppendAudit(t, s, es...)
	for _, tc := range []struct {
		f    gantry.AuditFilter
		want []*gantry.AuditEvent
	}{
		{gantry.AuditFilter{Limit: 2}, []*gantry.AuditEvent{es[4], es[3]}},
		{gantry.AuditFilter{Actor: "alice"}, []*gantry.AuditEvent{es[3], es[2], es[0]}},
		{gantry.AuditFilter{Action: "login"}, []*gantry.AuditEvent{es[3], es[1], es[0]}},
		{gantry.AuditFilter{Actor: "alice", Action: "login"}, []*gantry.AuditEvent{es[3], es[0]}},
		{gantry.AuditFilter{Actor: "alice", Action: "login", Limit: 1}, []*gantry.AuditEvent{es[3]}},
		{gantry.AuditFilter{Actor: "agent:build-1"}, []*gantry.AuditEvent{es[4]}},
		{gantry.AuditFilter{Actor: "carol"}, nil},
		{gantry.AuditFilter{Actor: "bob", Action: "token.create"}, nil},
	} {
		wantAudit(t, s, tc.f, tc.want)
	}
	_, err := s.AuditEvents(t.Context(), gantry.AuditFilter{Limit: -1})
	wantKind(t, "AuditEvents with a negative limit", err, gantry.EInvalid)
}

func testAuditLedgerIndex(t *testing.T, s gantry.ServerStore) {
	a, b := newAuditEvent("alice", "login", 0), newAuditEvent("bob", "login", 1)
	mustAppendAudit(t, s, a, b)
	ctx := t.Context()
	wantNoError(t, "SetAuditLedgerIndex", s.SetAuditLedgerIndex(ctx, a.ID, 0))
	wantNoError(t, "SetAuditLedgerIndex", s.SetAuditLedgerIndex(ctx, b.ID, 1<<40))
	// The same index again is a retry; another one is a conflict.
	wantNoError(t, "SetAuditLedgerIndex again", s.SetAuditLedgerIndex(ctx, a.ID, 0))
	wantKind(t, "SetAuditLedgerIndex to another index", s.SetAuditLedgerIndex(ctx, a.ID, 7), gantry.EConflict)
	wantNotFound(t, "SetAuditLedgerIndex of an unknown event", s.SetAuditLedgerIndex(ctx, b.ID+100, 3))
	wantKind(t, "SetAuditLedgerIndex to a negative index", s.SetAuditLedgerIndex(ctx, b.ID, -1), gantry.EInvalid)
	a.LedgerIndex, b.LedgerIndex = 0, 1<<40
	wantAudit(t, s, gantry.AuditFilter{}, []*gantry.AuditEvent{b, a})
}

func testAuditInvalid(t *testing.T, s gantry.ServerStore) {
	mod := func(f func(e *gantry.AuditEvent)) *gantry.AuditEvent {
		e := newAuditEvent("alice", "login", 1)
		f(e)
		return e
	}
	for name, e := range map[string]*gantry.AuditEvent{
		"nil":                   nil,
		"no time":               mod(func(e *gantry.AuditEvent) { e.Time = time.Time{} }),
		"far time":              mod(func(e *gantry.AuditEvent) { e.Time = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"no actor":              mod(func(e *gantry.AuditEvent) { e.Actor = "" }),
		"newline in actor":      mod(func(e *gantry.AuditEvent) { e.Actor = "alice\nadmin" }),
		"no action":             mod(func(e *gantry.AuditEvent) { e.Action = "" }),
		"uppercase action":      mod(func(e *gantry.AuditEvent) { e.Action = "Login" }),
		"no outcome":            mod(func(e *gantry.AuditEvent) { e.Outcome = "" }),
		"unknown outcome":       mod(func(e *gantry.AuditEvent) { e.Outcome = "ok" }),
		"NUL in target":         mod(func(e *gantry.AuditEvent) { e.Target = "a\x00b" }),
		"invalid UTF-8 remote":  mod(func(e *gantry.AuditEvent) { e.Remote = "\xff" }),
		"invalid UTF-8 detail":  mod(func(e *gantry.AuditEvent) { e.Detail = map[string]string{"k": "\xc3"} }),
		"NUL in a detail's key": mod(func(e *gantry.AuditEvent) { e.Detail = map[string]string{"\x00": "v"} }),
	} {
		wantKind(t, "AppendAudit with "+name, s.AppendAudit(t.Context(), e), gantry.EInvalid)
		if e != nil && e.ID != 0 {
			t.Errorf("AppendAudit with %s set ID %d", name, e.ID)
		}
	}
	wantAudit(t, s, gantry.AuditFilter{}, nil)
}

func testAuditConcurrent(t *testing.T, s gantry.ServerStore) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	ids := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := newAuditEvent(fmt.Sprintf("user%d", w), "run.trigger", i)
				if err := s.AppendAudit(t.Context(), e); err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				ids[w] = append(ids[w], e.ID)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for w, list := range ids {
		if !slices.IsSorted(list) {
			t.Errorf("writer %d got IDs out of order: %v", w, list)
		}
		for _, id := range list {
			if seen[id] {
				t.Errorf("ID %d given twice", id)
			}
			seen[id] = true
		}
	}
	got, err := s.AuditEvents(t.Context(), gantry.AuditFilter{})
	wantNoError(t, "AuditEvents", err)
	if len(got) != writers*each {
		t.Errorf("%d events, want %d", len(got), writers*each)
	}
}

// --- Secrets ---

func newSecret(project, env, name string) *gantry.SecretRecord {
	ct := make([]byte, 0, 256+len(name))
	for i := range 256 { // every byte value, NUL and invalid UTF-8 included
		ct = append(ct, byte(i))
	}
	return &gantry.SecretRecord{
		Project:    project,
		Env:        env,
		Name:       name,
		Ciphertext: append(ct, name...),
		KeyID:      "kek-2025-03",
		UpdatedAt:  t0,
		UpdatedBy:  "alice",
	}
}

func mustPutSecret(t *testing.T, s gantry.ServerStore, ss ...*gantry.SecretRecord) {
	t.Helper()
	for _, sec := range ss {
		if err := s.PutSecret(t.Context(), sec); err != nil {
			t.Fatalf("PutSecret(%s/%s/%s): %v", sec.Project, sec.Env, sec.Name, err)
		}
	}
}

func wantSecret(t *testing.T, s gantry.ServerStore, want *gantry.SecretRecord) {
	t.Helper()
	got, err := s.Secret(t.Context(), want.Project, want.Env, want.Name)
	if err != nil {
		t.Fatalf("Secret(%s, %q, %s): %v", want.Project, want.Env, want.Name, err)
	}
	wantSame(t, "Secret("+want.Name+")", want, got)
	wantUTC(t, "Secret("+want.Name+")", got.UpdatedAt)
}

func testSecretsRoundTrip(t *testing.T, s gantry.ServerStore) {
	mustPutProject(t, s, newProject("shop"), newProject("blog"))
	// Envs, then names, by bytes: "B" < "_X" < "a".
	want := []*gantry.SecretRecord{
		newSecret("shop", "", "B"),
		newSecret("shop", "", "_X"),
		newSecret("shop", "", "a"),
		newSecret("shop", "prod", "DB_PASSWORD"),
		newSecret("shop", "prod-eu", "DB_PASSWORD"),
		newSecret("shop", "staging", "DB_PASSWORD"),
	}
	want[1].UpdatedAt, want[1].UpdatedBy = t0.Add(time.Nanosecond), "agent:build-1"
	mustPutSecret(t, s, want[5], want[2], want[3], want[0], want[4], want[1])
	mustPutSecret(t, s, newSecret("blog", "", "B"))
	for _, sec := range want {
		wantSecret(t, s, sec)
	}
	got, err := s.Secrets(t.Context(), "shop")
	wantNoError(t, "Secrets", err)
	wantSame(t, "Secrets(shop)", want, got)
	got, err = s.Secrets(t.Context(), "no-project")
	if err != nil || got != nil {
		t.Errorf("Secrets of an unknown project = %v, %v; want nil, no error", got, err)
	}
	_, err = s.Secret(t.Context(), "shop", "dev", "DB_PASSWORD")
	wantNotFound(t, "Secret of another environment", err)
}

func testSecretsReplace(t *testing.T, s gantry.ServerStore) {
	mustPutProject(t, s, newProject("shop"))
	mustPutSecret(t, s, newSecret("shop", "prod", "TOKEN"), newSecret("shop", "", "TOKEN"))
	sec := &gantry.SecretRecord{Project: "shop", Env: "prod", Name: "TOKEN", Ciphertext: []byte{0},
		KeyID: "kek-2026-01", UpdatedAt: t0.Add(time.Hour), UpdatedBy: "bob"}
	given := *sec
	mustPutSecret(t, s, sec)
	wantSame(t, "secret after PutSecret (it is not modified)", &given, sec)
	wantSecret(t, s, &given)
	wantSecret(t, s, newSecret("shop", "", "TOKEN"))
}

func testSecretsDelete(t *testing.T, s gantry.ServerStore) {
	mustPutProject(t, s, newProject("shop"))
	all := newSecret("shop", "", "TOKEN")
	mustPutSecret(t, s, newSecret("shop", "prod", "TOKEN"), all)
	ctx := t.Context()
	wantNoError(t, "DeleteSecret", s.DeleteSecret(ctx, "shop", "prod", "TOKEN"))
	_, err := s.Secret(ctx, "shop", "prod", "TOKEN")
	wantNotFound(t, "Secret after DeleteSecret", err)
	wantNotFound(t, "DeleteSecret again", s.DeleteSecret(ctx, "shop", "prod", "TOKEN"))
	wantNotFound(t, "DeleteSecret of another environment", s.DeleteSecret(ctx, "shop", "dev", "TOKEN"))
	wantNotFound(t, "DeleteSecret of an unknown project", s.DeleteSecret(ctx, "blog", "", "TOKEN"))
	got, err := s.Secrets(ctx, "shop")
	wantNoError(t, "Secrets", err)
	wantSame(t, "Secrets after DeleteSecret", []*gantry.SecretRecord{all}, got)
}

func testSecretsUnknownProject(t *testing.T, s gantry.ServerStore) {
	mustPutProject(t, s, newProject("shop"))
	wantNotFound(t, "PutSecret of an unknown project", s.PutSecret(t.Context(), newSecret("blog", "", "TOKEN")))
	got, err := s.Secrets(t.Context(), "blog")
	if err != nil || len(got) != 0 {
		t.Errorf("Secrets(blog) = %d secrets, %v; want none", len(got), err)
	}
}

func testSecretsInvalid(t *testing.T, s gantry.ServerStore) {
	mustPutProject(t, s, newProject("shop"))
	mod := func(f func(sec *gantry.SecretRecord)) *gantry.SecretRecord {
		sec := newSecret("shop", "prod", "TOKEN")
		f(sec)
		return sec
	}
	for name, sec := range map[string]*gantry.SecretRecord{
		"nil":              nil,
		"no project":       mod(func(sec *gantry.SecretRecord) { sec.Project = "" }),
		"bad project":      mod(func(sec *gantry.SecretRecord) { sec.Project = "Shop" }),
		"bad env":          mod(func(sec *gantry.SecretRecord) { sec.Env = "Prod" }),
		"no name":          mod(func(sec *gantry.SecretRecord) { sec.Name = "" }),
		"name with digit":  mod(func(sec *gantry.SecretRecord) { sec.Name = "1TOKEN" }),
		"name with hyphen": mod(func(sec *gantry.SecretRecord) { sec.Name = "MY-TOKEN" }),
		"no ciphertext":    mod(func(sec *gantry.SecretRecord) { sec.Ciphertext = []byte{} }),
		"no key id":        mod(func(sec *gantry.SecretRecord) { sec.KeyID = "" }),
		"bad key id":       mod(func(sec *gantry.SecretRecord) { sec.KeyID = "kek/1" }),
		"no updated_at":    mod(func(sec *gantry.SecretRecord) { sec.UpdatedAt = time.Time{} }),
		"no updated_by":    mod(func(sec *gantry.SecretRecord) { sec.UpdatedBy = "" }),
	} {
		wantKind(t, "PutSecret with "+name, s.PutSecret(t.Context(), sec), gantry.EInvalid)
	}
	got, err := s.Secrets(t.Context(), "shop")
	if err != nil || len(got) != 0 {
		t.Errorf("after invalid puts: %d secrets, %v; want none", len(got), err)
	}
}

// --- Agents ---

func newAgent(name string, labels ...string) *gantry.Agent {
	return &gantry.Agent{
		Name:        name,
		Labels:      labels,
		Concurrency: 4,
		PublicKey:   []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA" + name + "\n-----END PUBLIC KEY-----\n"),
		LastSeen:    t0.Add(time.Minute),
		CreatedAt:   t0,
	}
}

func mustPutAgent(t *testing.T, s gantry.ServerStore, as ...*gantry.Agent) {
	t.Helper()
	for _, a := range as {
		if err := s.PutAgent(t.Context(), a); err != nil {
			t.Fatalf("PutAgent(%s): %v", a.Name, err)
		}
	}
}

func wantAgent(t *testing.T, s gantry.ServerStore, want *gantry.Agent) {
	t.Helper()
	got, err := s.Agent(t.Context(), want.Name)
	if err != nil {
		t.Fatalf("Agent(%s): %v", want.Name, err)
	}
	wantSame(t, "Agent("+want.Name+")", want, got)
	wantUTC(t, "Agent("+want.Name+")", got.CreatedAt, got.LastSeen)
}

func testAgentsRoundTrip(t *testing.T, s gantry.ServerStore) {
	full := newAgent("build-1.example.com", "linux", "docker", "arch=amd64")
	bare := &gantry.Agent{Name: "Build_2", Labels: []string{}, PublicKey: []byte{}, CreatedAt: t0}
	mustPutAgent(t, s, full, bare)
	wantAgent(t, s, full)
	bare.Labels, bare.PublicKey = nil, nil // empty comes back nil
	wantAgent(t, s, bare)
	all, err := s.Agents(t.Context())
	wantNoError(t, "Agents", err)
	wantSame(t, "Agents, by name", []*gantry.Agent{bare, full}, all) // "B" < "b"
}

func testAgentsReplace(t *testing.T, s gantry.ServerStore) {
	mustPutAgent(t, s, newAgent("build-1", "docker"), newAgent("build-2"))
	a := newAgent("build-1", "linux")
	a.Concurrency, a.PublicKey, a.LastSeen = 1, nil, t0.Add(time.Hour+1)
	a.CreatedAt = t0.Add(time.Hour) // ignored: the first put's is kept
	given := *a
	mustPutAgent(t, s, a)
	wantSame(t, "agent after PutAgent (it is not modified)", &given, a)
	want := given
	want.CreatedAt = t0
	wantAgent(t, s, &want)
	wantAgent(t, s, newAgent("build-2"))
}

func testAgentsInvalid(t *testing.T, s gantry.ServerStore) {
	mod := func(f func(a *gantry.Agent)) *gantry.Agent {
		a := newAgent("build-1", "docker")
		f(a)
		return a
	}
	for name, a := range map[string]*gantry.Agent{
		"nil":                  nil,
		"no name":              mod(func(a *gantry.Agent) { a.Name = "" }),
		"colon":                mod(func(a *gantry.Agent) { a.Name = "agent:build-1" }),
		"space":                mod(func(a *gantry.Agent) { a.Name = "build 1" }),
		"64 bytes":             mod(func(a *gantry.Agent) { a.Name = strings.Repeat("b", 64) }),
		"bad label":            mod(func(a *gantry.Agent) { a.Labels = []string{"-docker"} }),
		"negative concurrency": mod(func(a *gantry.Agent) { a.Concurrency = -1 }),
		"no created_at":        mod(func(a *gantry.Agent) { a.CreatedAt = time.Time{} }),
		"far time":             mod(func(a *gantry.Agent) { a.LastSeen = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC) }),
	} {
		wantKind(t, "PutAgent with "+name, s.PutAgent(t.Context(), a), gantry.EInvalid)
	}
	all, err := s.Agents(t.Context())
	wantNoError(t, "Agents", err)
	if len(all) != 0 {
		t.Errorf("invalid agents were stored: %d", len(all))
	}
}

// --- All of them ---

func testServerNotFound(t *testing.T, s gantry.ServerStore) {
	ctx := t.Context()
	// Lookups do not check their keys: a key no record could have is
	// not found, like any other.
	for _, key := range []string{"none", "", "Not A Name"} {
		for what, err := range map[string]error{
			"Project":      errOf(s.Project(ctx, key)),
			"Job":          errOf(s.Job(ctx, gantry.JobID(key))),
			"User":         errOf(s.User(ctx, key)),
			"TokenByHash":  errOf(s.TokenByHash(ctx, key)),
			"Secret":       errOf(s.Secret(ctx, key, "", key)),
			"Agent":        errOf(s.Agent(ctx, key)),
			"DeleteToken":  s.DeleteToken(ctx, key),
			"DeleteSecret": s.DeleteSecret(ctx, key, "", key),
		} {
			wantNotFound(t, fmt.Sprintf("%s(%q)", what, key), err)
		}
	}
	// Lists of nothing are empty, without error.
	projects, err1 := s.Projects(ctx)
	jobs, err2 := s.Jobs(ctx, gantry.JobFilter{})
	users, err3 := s.Users(ctx)
	tokens, err4 := s.Tokens(ctx, "alice")
	events, err5 := s.AuditEvents(ctx, gantry.AuditFilter{})
	secrets, err6 := s.Secrets(ctx, "shop")
	agents, err7 := s.Agents(ctx)
	grants, err8 := s.Grants(ctx, "alice", "")
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8); err != nil {
		t.Fatalf("lists of an empty store: %v", err)
	}
	if n := len(projects) + len(jobs) + len(users) + len(tokens) + len(events) + len(secrets) + len(agents) + len(grants); n != 0 {
		t.Errorf("an empty store listed %d records", n)
	}
}

func testServerContext(t *testing.T, s gantry.ServerStore) {
	mustCreate(t, s, newRun("r1", t0))
	mustPutProject(t, s, newProject("shop"))
	mustPutUser(t, s, newUser("alice"))
	mustEnqueue(t, s, newJob("job-1", "r1", t0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	now := t0.Add(time.Hour)
	for what, err := range map[string]error{
		"PutProject":  s.PutProject(ctx, newProject("blog")),
		"EnqueueJob":  s.EnqueueJob(ctx, newJob("job-2", "r1", t0)),
		"LeaseJob":    errOf(s.LeaseJob(ctx, "build-1", nil, now, time.Minute)),
		"PutUser":     s.PutUser(ctx, newUser("bob")),
		"PutGrant":    s.PutGrant(ctx, gantry.Grant{User: "alice", Project: "shop", Role: gantry.RoleAdmin}),
		"PutToken":    s.PutToken(ctx, newToken("tok-1", "alice")),
		"AppendAudit": s.AppendAudit(ctx, newAuditEvent("alice", "login", 1)),
		"PutSecret":   s.PutSecret(ctx, newSecret("shop", "", "TOKEN")),
		"PutAgent":    s.PutAgent(ctx, newAgent("build-1")),
		"Project":     errOf(s.Project(ctx, "shop")),
		"Jobs":        errOf(s.Jobs(ctx, gantry.JobFilter{})),
		"Users":       errOf(s.Users(ctx)),
		"AuditEvents": errOf(s.AuditEvents(ctx, gantry.AuditFilter{})),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", what, err)
		}
	}
	// Nothing was written.
	wantJob(t, s, newJob("job-1", "r1", t0))
	for what, err := range map[string]error{
		"Project(blog)":  errOf(s.Project(t.Context(), "blog")),
		"Job(job-2)":     errOf(s.Job(t.Context(), "job-2")),
		"User(bob)":      errOf(s.User(t.Context(), "bob")),
		"Agent(build-1)": errOf(s.Agent(t.Context(), "build-1")),
		"Secret(TOKEN)":  errOf(s.Secret(t.Context(), "shop", "", "TOKEN")),
	} {
		wantNotFound(t, what+" after a cancelled put", err)
	}
	wantGrants(t, s, "alice", "", nil)
	wantTokens(t, s, "alice", nil)
	wantAudit(t, s, gantry.AuditFilter{}, nil)
}

func testServerClosed(t *testing.T, s gantry.ServerStore) {
	ctx := t.Context()
	mustCreate(t, s, newRun("r1", t0))
	mustEnqueue(t, s, newJob("job-1", "r1", t0))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	now := t0.Add(time.Hour)
	errs := map[string]error{
		"PutProject":          s.PutProject(ctx, newProject("shop")),
		"EnqueueJob":          s.EnqueueJob(ctx, newJob("job-2", "r1", t0)),
		"RenewLease":          s.RenewLease(ctx, "job-1", "build-1", now),
		"FinishJob":           s.FinishJob(ctx, "job-1", "build-1", now),
		"PutUser":             s.PutUser(ctx, newUser("alice")),
		"PutGrant":            s.PutGrant(ctx, gantry.Grant{User: "alice", Project: "shop", Role: gantry.RoleAdmin}),
		"PutToken":            s.PutToken(ctx, newToken("tok-1", "alice")),
		"DeleteToken":         s.DeleteToken(ctx, "tok-1"),
		"AppendAudit":         s.AppendAudit(ctx, newAuditEvent("alice", "login", 1)),
		"SetAuditLedgerIndex": s.SetAuditLedgerIndex(ctx, 1, 0),
		"PutSecret":           s.PutSecret(ctx, newSecret("shop", "", "TOKEN")),
		"DeleteSecret":        s.DeleteSecret(ctx, "shop", "", "TOKEN"),
		"PutAgent":            s.PutAgent(ctx, newAgent("build-1")),
	}
	errs["LeaseJob"] = errOf(s.LeaseJob(ctx, "build-1", nil, now, time.Minute))
	errs["Project"] = errOf(s.Project(ctx, "shop"))
	errs["Projects"] = errOf(s.Projects(ctx))
	errs["Job"] = errOf(s.Job(ctx, "job-1"))
	errs["Jobs"] = errOf(s.Jobs(ctx, gantry.JobFilter{}))
	errs["User"] = errOf(s.User(ctx, "alice"))
	errs["Users"] = errOf(s.Users(ctx))
	errs["Grants"] = errOf(s.Grants(ctx, "alice", ""))
	errs["TokenByHash"] = errOf(s.TokenByHash(ctx, tokenHash("x")))
	errs["Tokens"] = errOf(s.Tokens(ctx, "alice"))
	errs["AuditEvents"] = errOf(s.AuditEvents(ctx, gantry.AuditFilter{}))
	errs["Secret"] = errOf(s.Secret(ctx, "shop", "", "TOKEN"))
	errs["Secrets"] = errOf(s.Secrets(ctx, "shop"))
	errs["Agent"] = errOf(s.Agent(ctx, "build-1"))
	errs["Agents"] = errOf(s.Agents(ctx))
	for what, err := range errs {
		if err == nil {
			t.Errorf("%s on a closed store: no error", what)
		}
	}
	_ = s.Close() // a second Close must not panic
}

// errOf returns the error of a call that returns a value and an error.
func errOf[T any](_ T, err error) error { return err }
