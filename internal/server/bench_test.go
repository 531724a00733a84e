package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// BenchmarkJobPickup measures how long a queued job waits for an idle
// agent: 4 agents wait for work while 1,000 one-step jobs sit in the
// queue for a label none of them has, and each iteration queues one job
// they can run, waits for its run to end, and takes the time from its
// queueing to its lease. Targets: p50 ≤ 50 ms, p99 ≤ 250 ms.
func BenchmarkJobPickup(b *testing.B) {
	s := newStack(b)
	dir, _ := repo(b, "version: 1\nstages:\n  - name: s\n    steps:\n      - {name: one, run: \"true\"}\n")
	ctx := context.Background()
	pr := &gantry.Project{Name: "bench", RepoURL: dir, DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: time.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if _, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual", Branch: "main"}, []string{"gpu"}); err != nil {
			b.Fatal(err)
		}
	}
	s.heartbeat = time.Minute
	for i := 0; i < 4; i++ {
		s.startAgent(fmt.Sprintf("agent-%d", i))
	}
	time.Sleep(200 * time.Millisecond) // the agents are waiting
	var pickups []time.Duration
	b.ResetTimer()
	for b.Loop() {
		run, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual", Branch: "main"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if r := s.waitRun(run.ID); r.Status != gantry.StatusSucceeded {
			b.Fatalf("run %s: %s", r.Status, r.Reason)
		}
		job, err := s.store.Job(ctx, gantry.JobID("job-"+string(run.ID)))
		if err != nil {
			b.Fatal(err)
		}
		// The agents' heartbeat is slower than a run here, so the lease
		// was never renewed: it was granted at LeaseExpires - LeaseTTL.
		leased := job.LeaseExpires.Add(-s.srv.opts.LeaseTTL)
		pickups = append(pickups, leased.Sub(job.CreatedAt))
	}
	b.StopTimer()
	slices.Sort(pickups)
	b.ReportMetric(float64(percentile(pickups, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(pickups, 99).Microseconds())/1000, "p99-ms")
}

// BenchmarkRunListing offers 500 requests/s of a project's run listing
// (50 of its 1,000 runs, newest first) for 5 s, open loop, and reports the
// rate served and the latency percentiles. Target: p99 ≤ 50 ms at 500/s.
func BenchmarkRunListing(b *testing.B) {
	s := newStack(b)
	ctx := context.Background()
	pr := &gantry.Project{Name: "bench", RepoURL: "/nowhere", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: time.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	for i := 0; i < 1000; i++ {
		r := &gantry.Run{ID: gantry.NewRunID(t0.Add(time.Duration(i) * time.Second)), Project: "bench", Pipeline: ".gantry.yml",
			Trigger: gantry.Trigger{Event: "push", Branch: "main", Commit: fmt.Sprintf("%040x", i)}, Status: gantry.StatusSucceeded,
			CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if err := s.store.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	get := func() (time.Duration, error) {
		req, _ := http.NewRequest("GET", s.http.URL+"/api/v1/projects/bench/runs?limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+s.adminToken)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		buf := make([]byte, 32<<10)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	for i := 0; i < 50; i++ { // warm up the connections and the caches
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
	const rate, seconds = 500, 5
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	for b.Loop() {
		lats, errs = lats[:0], 0
		start := time.Now()
		for n := 0; n < rate*seconds; n++ {
			// Each request at its own time, whatever the ones before did.
			time.Sleep(time.Until(start.Add(time.Duration(n) * time.Second / rate)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := get()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
					return
				}
				lats = append(lats, d)
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		if errs > 0 {
			b.Fatalf("%d requests failed", errs)
		}
		slices.Sort(lats)
		b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(percentile(lats, 50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lats, 99).Microseconds())/1000, "p99-ms")
	}
}
