package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// t0 has nanoseconds: leases compare times to the nanosecond.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func mustRun(t testing.TB, s *Store, id gantry.RunID) {
	t.Helper()
	if err := s.CreateRun(t.Context(), &gantry.Run{ID: id, Project: "shop", Status: gantry.StatusPending, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

func mustEnqueue(t testing.TB, s *Store, id string, created time.Time, labels ...string) {
	t.Helper()
	j := &gantry.Job{ID: gantry.JobID(id), RunID: "r1", Project: "shop", Labels: labels, CreatedAt: created}
	if err := s.EnqueueJob(t.Context(), j); err != nil {
		t.Fatalf("EnqueueJob(%s): %v", id, err)
	}
}

func wantKind(t *testing.T, what string, err error, kind string) {
	t.Helper()
	if got := gantry.ErrorKind(err); got != kind {
		t.Errorf("%s: error %v of kind %q, want kind %s", what, err, got, kind)
	}
}

func leaseID(t *testing.T, s *Store, agent string, labels []string, now time.Time, ttl time.Duration) gantry.JobID {
	t.Helper()
	j, err := s.LeaseJob(t.Context(), agent, labels, now, ttl)
	if errors.Is(err, gantry.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("LeaseJob(%s, %v): %v", agent, labels, err)
	}
	return j.ID
}

// TestLeaseConcurrent has two stores on one database, as two servers
// would, lease a queue from many goroutines at once: every job is leased
// exactly once.
func TestLeaseConcurrent(t *testing.T) {
	dsn := freshSchema(t)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	mustRun(t, stores[0], "r1")
	const jobs, workers = 300, 16
	for i := range jobs {
		// Some share a creation time, to be told apart by ID.
		mustEnqueue(t, stores[i%2], fmt.Sprintf("job-%03d", i), t0.Add(time.Duration(i/3)*time.Millisecond))
	}
	var (
		mu     sync.Mutex
		leased = map[gantry.JobID]string{}
		wg     sync.WaitGroup
		errs   = make(chan error, workers)
	)
	for w := range workers {
		s := stores[w%2]
		agent := fmt.Sprintf("agent-%d", w)
		wg.Go(func() {
			for {
				j, err := s.LeaseJob(t.Context(), agent, nil, t0.Add(time.Hour), time.Hour)
				if errors.Is(err, gantry.ErrNotFound) {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("%s: lease: %w", agent, err)
					return
				}
				mu.Lock()
				other, twice := leased[j.ID]
				leased[j.ID] = agent
				mu.Unlock()
				if twice {
					errs <- fmt.Errorf("job %s leased by %s and %s", j.ID, other, agent)
				}
				if j.Agent != agent || j.Status != gantry.JobLeased || j.Attempts != 1 {
					errs <- fmt.Errorf("%s leased %+v", agent, j)
				}
				if err := s.FinishJob(t.Context(), j.ID, agent, t0.Add(2*time.Hour)); err != nil {
					errs <- fmt.Errorf("%s: finish %s: %w", agent, j.ID, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(leased) != jobs {
		t.Errorf("%d jobs leased, want %d", len(leased), jobs)
	}
	left, err := stores[1].Jobs(t.Context(), gantry.JobFilter{Status: gantry.JobFinished})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != jobs {
		t.Errorf("%d jobs finished, want %d", len(left), jobs)
	}
}

func TestLeaseExpiry(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	mustRun(t, s, "r1")
	mustEnqueue(t, s, "j1", t0)

	if got := leaseID(t, s, "a1", nil, t0, time.Minute); got != "j1" {
		t.Fatalf("a1 leased %q, want j1", got)
	}
	if got := leaseID(t, s, "a2", nil, t0.Add(time.Minute), time.Minute); got != "" {
		t.Fatalf("a2 leased %q at the instant the lease expires, want nothing", got)
	}
	if err := s.RenewLease(ctx, "j1", "a1", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := leaseID(t, s, "a2", nil, t0.Add(2*time.Minute), time.Minute); got != "" {
		t.Fatalf("a2 leased %q of a renewed lease, want nothing", got)
	}
	// a1 stops renewing: its lease expires, and a2 takes the job.
	later := t0.Add(2*time.Minute + 1)
	j, err := s.LeaseJob(ctx, "a2", nil, later, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := &gantry.Job{ID: "j1", RunID: "r1", Project: "shop", Status: gantry.JobLeased, Agent: "a2",
		LeaseExpires: later.Add(time.Minute), Attempts: 2, CreatedAt: t0}
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("LeaseJob after expiry (-want +got):\n%s", diff)
	}
	wantKind(t, "a1 renews a job a2 holds", s.RenewLease(ctx, "j1", "a1", later.Add(time.Hour)), gantry.EConflict)
	wantKind(t, "a1 finishes a job a2 holds", s.FinishJob(ctx, "j1", "a1", later), gantry.EConflict)
	wantKind(t, "renew an unknown job", s.RenewLease(ctx, "j2", "a1", later), gantry.ENotFound)
	wantKind(t, "finish an unknown job", s.FinishJob(ctx, "j2", "a1", later), gantry.ENotFound)

	if err := s.FinishJob(ctx, "j1", "a2", later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "renew a finished job", s.RenewLease(ctx, "j1", "a2", later.Add(time.Hour)), gantry.EConflict)
	wantKind(t, "finish a finished job", s.FinishJob(ctx, "j1", "a2", later.Add(time.Hour)), gantry.EConflict)
	if got := leaseID(t, s, "a3", nil, later.Add(24*time.Hour), time.Minute); got != "" {
		t.Errorf("a3 leased finished job %q", got)
	}
	j, err = s.Job(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	want.Status, want.FinishedAt = gantry.JobFinished, later.Add(time.Second)
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("Job after finish (-want +got):\n%s", diff)
	}
}

func TestLeaseOrderAndLabels(t *testing.T) {
	s := openTemp(t)
	mustRun(t, s, "r1")
	mustEnqueue(t, s, "d-arm", t0, "docker", "arch=arm64")
	mustEnqueue(t, s, "plain", t0.Add(time.Second))
	mustEnqueue(t, s, "docker-b", t0.Add(2*time.Second), "docker")
	mustEnqueue(t, s, "docker-a", t0.Add(2*time.Second), "docker") // same time: by ID
	mustEnqueue(t, s, "kube", t0.Add(time.Millisecond), "kube")

	now := t0.Add(time.Hour)
	for _, step := range []struct {
		agent  string
		labels []string
		want   gantry.JobID
	}{
		{"bare", nil, "plain"},
		{"bare", nil, ""},
		{"docker", []string{"docker"}, "docker-a"},
		{"docker", []string{"docker", "extra"}, "docker-b"},
		{"docker", []string{"docker"}, ""},
		{"arm", []string{"arch=arm64", "kube", "docker"}, "d-arm"},
		{"arm", []string{"arch=arm64", "kube", "docker"}, "kube"},
		{"arm", []string{"arch=arm64", "kube", "docker"}, ""},
	} {
		if got := leaseID(t, s, step.agent, step.labels, now, time.Minute); got != step.want {
			t.Errorf("%s with %v leased %q, want %q", step.agent, step.labels, got, step.want)
		}
	}
}

func TestEnqueueJob(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	mustRun(t, s, "r1")
	mustEnqueue(t, s, "j1", t0, "docker")
	err := s.EnqueueJob(ctx, &gantry.Job{ID: "j1", RunID: "r1", Project: "shop", CreatedAt: t0})
	wantKind(t, "enqueue an existing ID", err, gantry.EConflict)
	err = s.EnqueueJob(ctx, &gantry.Job{ID: "j2", RunID: "nosuch", Project: "shop", CreatedAt: t0})
	wantKind(t, "enqueue a job of an unknown run", err, gantry.ENotFound)
	err = s.EnqueueJob(ctx, &gantry.Job{ID: "j3", RunID: "r1", Project: "shop", CreatedAt: t0, Labels: []string{"bad label"}})
	wantKind(t, "enqueue a malformed label", err, gantry.EInvalid)
	j, err := s.Job(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	want := &gantry.Job{ID: "j1", RunID: "r1", Project: "shop", Labels: []string{"docker"}, Status: gantry.JobQueued, CreatedAt: t0}
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("Job (-want +got):\n%s", diff)
	}
	_, err = s.Job(ctx, "j2")
	wantKind(t, "Job(j2)", err, gantry.ENotFound)
	jobs, err := s.Jobs(ctx, gantry.JobFilter{RunID: "r1", Status: gantry.JobQueued, Limit: 5})
	if err != nil || len(jobs) != 1 {
		t.Errorf("Jobs = %v, %v; want j1", jobs, err)
	}
}
