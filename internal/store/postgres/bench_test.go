package postgres

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// queueJobs queues n one-step jobs of run r1, created after those queued
// before. It inserts them in one statement: queueing is not what the
// benchmarks measure, and a thousand EnqueueJob calls would take longer
// than the benchmark itself.
func queueJobs(b *testing.B, s *Store, batch, n int) {
	b.Helper()
	_, err := s.pool.Exec(b.Context(), `INSERT INTO jobs (`+jobColumns+`)
		SELECT format('job-%s-%s', $1::int, lpad(i::text, 6, '0')), 'r1', 'shop', '{}', 'queued', '', NULL, 0,
			$2::bigint + $1::bigint * 1000000000 + i, NULL
		FROM generate_series(1, $3::int) AS i`, batch, t0.UnixNano(), n)
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLeaseJob leases and finishes jobs one after another from a
// queue of 1,000: one op is a lease and a finish, two transactions.
func BenchmarkLeaseJob(b *testing.B) {
	s := openTemp(b)
	mustRun(b, s, "r1")
	const queued = 1000
	batch, left := 0, 0
	now := t0.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if left == 0 {
			b.StopTimer()
			batch, left = batch+1, queued
			queueJobs(b, s, batch, queued)
			b.StartTimer()
		}
		j, err := s.LeaseJob(b.Context(), "bench", nil, now, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.FinishJob(b.Context(), j.ID, "bench", now); err != nil {
			b.Fatal(err)
		}
		left--
	}
}

// BenchmarkLeaseJobParallel is BenchmarkLeaseJob with agents leasing at
// once (GOMAXPROCS of them, or -cpu), as four agents of a server do,
// through two stores, as two servers do.
func BenchmarkLeaseJobParallel(b *testing.B) {
	dsn := freshSchema(b)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(b.Context(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	mustRun(b, stores[0], "r1")
	// Enough jobs for every op: a lease that finds the queue empty would
	// measure nothing.
	n := b.N
	for batch := 0; n > 0; batch++ {
		queueJobs(b, stores[0], batch, min(n, 100000))
		n -= 100000
	}
	now := t0.Add(time.Hour)
	var agents atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := agents.Add(1)
		s, agent := stores[i%2], fmt.Sprint("agent-", i)
		for pb.Next() {
			j, err := s.LeaseJob(b.Context(), agent, nil, now, time.Minute)
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.FinishJob(b.Context(), j.ID, agent, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
