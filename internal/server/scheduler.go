package server

import (
	"cmp"
	"context"
	"fmt"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
)

// Trigger records a run of a project's pipeline and queues its job. The
// run stays pending until an agent starts it.
// The run belongs to the change of t (change.ID) unless t names one;
// t.Actor says who started it.
func (s *Server) Trigger(ctx context.Context, pr *gantry.Project, t gantry.Trigger, labels []string) (*gantry.Run, error) {
	return s.trigger(ctx, gantry.NewRunID(s.opts.Now()), pr, t, labels, nil)
}

// trigger records a run and its change, seeded with what a webhook says of
// it, and queues its job.
func (s *Server) trigger(ctx context.Context, id gantry.RunID, pr *gantry.Project, t gantry.Trigger, labels []string, seed *gantry.Change) (*gantry.Run, error) {
	if t.Branch == "" && t.Commit == "" {
		t.Branch = pr.DefaultBranch
	}
	// A run of a branch learns its change from the commit the agent
	// checks out.
	t.Change = cmp.Or(t.Change, change.ID(t))
	now := s.opts.Now()
	run := &gantry.Run{
		ID: id, Project: pr.Name, Pipeline: pr.PipelinePath, Trigger: t,
		Status: gantry.StatusPending, CreatedAt: now,
	}
	if err := s.opts.Store.CreateRun(ctx, run); err != nil {
		if gantry.ErrorKind(err) == gantry.EConflict {
			return nil, err
		}
		return nil, fmt.Errorf("record run of %s: %w", pr.Name, err)
	}
	s.recordTriggered(ctx, pr, run, seed)
	job := &gantry.Job{ID: gantry.JobID("job-" + string(run.ID)), RunID: run.ID, Project: pr.Name, Labels: labels,
		Status: gantry.JobQueued, CreatedAt: now}
	if err := s.opts.Store.EnqueueJob(ctx, job); err != nil {
		return nil, fmt.Errorf("queue run %s: %w", run.ID, err)
	}
	s.metrics.queued.Inc()
	s.hub.publish(run, event{Type: "run.queued", Run: run})
	s.notify()
	return run, nil
}

// notify wakes the lease requests waiting for a job.
func (s *Server) notify() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

// woken returns a channel closed when a job is next queued here.
func (s *Server) woken() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}
