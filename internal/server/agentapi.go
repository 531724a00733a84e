package server

import (
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/store"
)

// The agent protocol. An agent authenticates with its agent token to
// lease jobs and renew leases; for everything about the run it leased it
// uses the job token that came with the lease, valid for that run only.
func (s *Server) registerAgent() {
	s.handle("POST", "/api/v1/agents", s.enrollAgent)
	s.handle("POST", "/api/v1/agent/lease", s.lease)
	s.handle("POST", "/api/v1/agent/jobs/{job}/heartbeat", s.heartbeat)
	s.handle("POST", "/api/v1/agent/jobs/{job}/finish", s.finishJob)
	s.handle("POST", "/api/v1/agent/runs/{run}/start", s.startRun)
	s.handle("PUT", "/api/v1/agent/runs/{run}", s.updateRun)
	s.handle("PUT", "/api/v1/agent/runs/{run}/stages", s.putStage)
	s.handle("PUT", "/api/v1/agent/runs/{run}/steps", s.putStep)
	s.handle("POST", "/api/v1/agent/runs/{run}/logs", s.appendLogs)
	s.handle("PUT", "/api/v1/agent/runs/{run}/findings", s.putFindings)
	s.handle("GET", "/api/v1/agent/runs/{run}/findings", s.jobFindings)
	// A job's gate reads its run's evidence so far.
	s.handle("GET", "/api/v1/agent/runs/{run}", s.jobGetRun)
	s.handle("GET", "/api/v1/agent/runs/{run}/steps", s.jobSteps)
	s.handle("GET", "/api/v1/agent/runs/{run}/attestations", s.jobAttestations)
	s.handle("POST", "/api/v1/agent/runs/{run}/attestations", s.keepAttestations)
	s.handle("POST", "/api/v1/agent/runs/{run}/seal", s.seal)
	s.handle("POST", "/api/v1/agent/runs/{run}/secrets", s.runSecrets)
	s.handle("PUT", "/api/v1/agent/blobs/{digest}", s.putBlob)
	s.handle("GET", "/api/v1/agent/blobs/{digest}", s.getBlob)
}

// TokenMinter makes tokens for agents and jobs. internal/auth implements
// it.
type TokenMinter interface {
	// AgentToken makes the long-lived token of an enrolled agent.
	AgentToken(ctx context.Context, agent string) (string, error)
	// JobToken makes a token valid for one run only, until expires.
	JobToken(ctx context.Context, agent string, run gantry.RunID, project string, expires time.Time) (string, error)
}

func (s *Server) enrollAgent(w http.ResponseWriter, r *http.Request) error {
	p, err := s.principal(r, "", ActAgentManage)
	if err != nil {
		return err
	}
	var req agentproto.EnrollRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if !validName(req.Name) {
		return gantry.Errorf(gantry.EInvalid, "agent name %q: use lower-case letters, digits and '-'", req.Name)
	}
	if _, err := evidence.ParsePublicKey([]byte(req.PublicKey)); err != nil {
		return gantry.Errorf(gantry.EInvalid, "agent %s: public key: %v", req.Name, gantry.ErrorMessageOrText(err))
	}
	minter, ok := s.opts.Auth.(TokenMinter)
	if !ok {
		return gantry.Errorf(gantry.EUnavailable, "this server cannot make agent tokens")
	}
	a := &gantry.Agent{Name: req.Name, Labels: req.Labels, Concurrency: max(req.Concurrency, 1), PublicKey: []byte(req.PublicKey), CreatedAt: s.opts.Now()}
	if err := s.opts.Store.PutAgent(r.Context(), a); err != nil {
		return err
	}
	tok, err := minter.AgentToken(r.Context(), a.Name)
	s.audit(r.Context(), &gantry.AuditEvent{Actor: p.Name, Action: "agent.enroll", Target: a.Name, Outcome: outcome(err), Remote: remote(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, agentproto.EnrollResponse{Agent: a, Token: tok})
	return nil
}

// agentPrincipal authenticates an agent (not a job token).
func (s *Server) agentPrincipal(r *http.Request) (*Principal, error) {
	p, err := s.principal(r, "", ActJobLease)
	if err != nil {
		return nil, err
	}
	if p.Agent == "" || p.RunID != "" {
		return nil, gantry.Errorf(gantry.EForbidden, "only an agent's own token may lease jobs")
	}
	return p, nil
}

// lease gives the agent a job, waiting up to the request's wait for one
// to be queued.
func (s *Server) lease(w http.ResponseWriter, r *http.Request) error {
	p, err := s.agentPrincipal(r)
	if err != nil {
		return err
	}
	var req agentproto.LeaseRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	a, err := s.opts.Store.Agent(r.Context(), p.Agent)
	if err != nil {
		return err
	}
	// An agent offers at most the labels it was enrolled with.
	labels := slices.DeleteFunc(slices.Clone(req.Labels), func(l string) bool { return !slices.Contains(a.Labels, l) })
	wait := s.opts.LeaseWait
	if req.WaitMS > 0 {
		wait = min(wait, time.Duration(req.WaitMS)*time.Millisecond)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	// Other servers on the same database queue jobs this one is not told
	// about: look again now and then.
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		woken := s.woken()
		now := s.opts.Now()
		job, err := s.opts.Store.LeaseJob(r.Context(), p.Agent, labels, now, s.opts.LeaseTTL)
		switch {
		case err == nil:
			return s.granted(w, r, p, a, job)
		case !errors.Is(err, gantry.ErrNotFound):
			return err
		}
		select {
		case <-woken:
		case <-poll.C:
		case <-deadline.C:
			w.WriteHeader(http.StatusNoContent)
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

func (s *Server) granted(w http.ResponseWriter, r *http.Request, p *Principal, a *gantry.Agent, job *gantry.Job) error {
	ctx := r.Context()
	s.metrics.leased.Inc()
	if job.Attempts == 1 {
		s.metrics.pickup.Observe(s.opts.Now().Sub(job.CreatedAt).Seconds())
	}
	run, err := s.opts.Store.Run(ctx, job.RunID)
	if err != nil {
		return err
	}
	pr, err := s.opts.Store.Project(ctx, job.Project)
	if err != nil {
		return err
	}
	minter, ok := s.opts.Auth.(TokenMinter)
	if !ok {
		return gantry.Errorf(gantry.EUnavailable, "this server cannot make job tokens")
	}
	// The job token lives as long as a run may: it is refused once the
	// job is finished, or leased to another agent.
	tok, err := minter.JobToken(ctx, a.Name, run.ID, pr.Name, s.opts.Now().Add(24*time.Hour))
	if err != nil {
		return err
	}
	if job.Attempts > 1 {
		s.opts.Logger.Info("job re-leased", "job", job.ID, "agent", a.Name, "attempt", job.Attempts)
	}
	lease := agentproto.Lease{Job: job, Run: run, Project: pr, Token: tok, LeaseExpires: job.LeaseExpires,
		ActorRole: s.actorRole(ctx, run)}
	if co := s.checkout(ctx, pr, run); co != nil {
		lease.Checkout = co
		s.audit(ctx, &gantry.AuditEvent{Actor: "agent:" + a.Name, Action: "secret.read", Target: pr.Name,
			Outcome: "success", Remote: remote(r), Detail: map[string]string{"run": string(run.ID), "names": CheckoutTokenName}})
	}
	writeJSON(w, http.StatusOK, lease)
	_ = p
	return nil
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) error {
	p, err := s.agentPrincipal(r)
	if err != nil {
		return err
	}
	until := s.opts.Now().Add(s.opts.LeaseTTL)
	if err := s.opts.Store.RenewLease(r.Context(), gantry.JobID(r.PathValue("job")), p.Agent, until); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]time.Time{"lease_expires": until})
	return nil
}

func (s *Server) finishJob(w http.ResponseWriter, r *http.Request) error {
	p, err := s.agentPrincipal(r)
	if err != nil {
		return err
	}
	id := gantry.JobID(r.PathValue("job"))
	if err := s.opts.Store.FinishJob(r.Context(), id, p.Agent, s.opts.Now()); err != nil {
		return err
	}
	// The job's token dies with it.
	if rv, ok := s.opts.Auth.(interface {
		RevokeJobTokens(ctx context.Context, agent string, run gantry.RunID) error
	}); ok {
		if job, err := s.opts.Store.Job(r.Context(), id); err == nil {
			if err := rv.RevokeJobTokens(r.Context(), p.Agent, job.RunID); err != nil {
				s.opts.Logger.Warn("revoke job tokens", "job", id, "err", err)
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// jobRun authorizes a job token for the run in the path: the token's run,
// whose job the token's agent still holds.
func (s *Server) jobRun(r *http.Request) (*gantry.Run, *Principal, error) {
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return nil, nil, err
	}
	id := gantry.RunID(r.PathValue("run"))
	if p.RunID == "" || p.RunID != id {
		return nil, nil, gantry.Errorf(gantry.EForbidden, "this token is not a job token of run %s", id)
	}
	job, err := s.opts.Store.Job(r.Context(), gantry.JobID("job-"+string(id)))
	if err != nil {
		return nil, nil, err
	}
	if job.Status != gantry.JobLeased || job.Agent != p.Agent {
		return nil, nil, gantry.Errorf(gantry.EConflict, "the job of run %s is no longer held by agent %s", id, p.Agent)
	}
	run, err := s.opts.Store.Run(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	return run, p, nil
}

// startRun is the engine's CreateRun: the run starts (again, on a
// re-leased job). What the server recorded at trigger time stays.
func (s *Server) startRun(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	var in gantry.Run
	if err := readJSON(r, &in); err != nil {
		return err
	}
	run.Status, run.StartedAt, run.Reason, run.FinishedAt = gantry.StatusRunning, in.StartedAt, "", time.Time{}
	run.Pipeline, run.PipelineDigest = in.Pipeline, in.PipelineDigest
	run.Trigger.Commit = cmp.Or(run.Trigger.Commit, in.Trigger.Commit)
	run.Trigger.Branch = cmp.Or(run.Trigger.Branch, in.Trigger.Branch)
	if err := s.opts.Store.UpdateRun(r.Context(), run); err != nil {
		return err
	}
	s.hub.publish(run, event{Type: "run.updated", Run: run})
	s.reportStatus(r.Context(), run)
	writeJSON(w, http.StatusOK, run)
	return nil
}

// jobReport handles a job token's report about its run: it decodes the
// body into a T, hands it to keep, and answers 204 once it is kept.
func jobReport[T any](s *Server, w http.ResponseWriter, r *http.Request, keep func(ctx context.Context, run *gantry.Run, v *T) error) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	var v T
	if err := readJSON(r, &v); err != nil {
		return err
	}
	if err := keep(r.Context(), run, &v); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) updateRun(w http.ResponseWriter, r *http.Request) error {
	return jobReport(s, w, r, func(ctx context.Context, run *gantry.Run, in *gantry.Run) error {
		run.Status, run.Reason, run.StartedAt, run.FinishedAt = in.Status, in.Reason, in.StartedAt, in.FinishedAt
		run.Pipeline, run.PipelineDigest = in.Pipeline, in.PipelineDigest
		if err := s.opts.Store.UpdateRun(ctx, run); err != nil {
			return err
		}
		if run.Status.Terminal() {
			s.metrics.finished.WithLabelValues(string(run.Status)).Inc()
			s.reportStatus(ctx, run)
		}
		s.hub.publish(run, event{Type: "run.updated", Run: run})
		return nil
	})
}

func (s *Server) putStage(w http.ResponseWriter, r *http.Request) error {
	return jobReport(s, w, r, func(ctx context.Context, run *gantry.Run, st *gantry.StageResult) error {
		st.RunID = run.ID
		if err := s.opts.Store.PutStage(ctx, st); err != nil {
			return err
		}
		s.hub.publish(run, event{Type: "stage.updated", Stage: st})
		return nil
	})
}

// putStep records a step's result; its outputs must have been uploaded.
func (s *Server) putStep(w http.ResponseWriter, r *http.Request) error {
	return jobReport(s, w, r, func(ctx context.Context, run *gantry.Run, st *gantry.StepResult) error {
		st.RunID = run.ID
		for _, a := range st.Outputs {
			if ok, err := s.opts.Blobs.Has(ctx, a.Digest); err != nil || !ok {
				return gantry.Errorf(gantry.EInvalid, "step %s: output %s (%s) was not uploaded", st.Name, a.Path, a.Digest)
			}
		}
		if err := s.opts.Store.PutStep(ctx, st); err != nil {
			return err
		}
		s.hub.publish(run, event{Type: "step.updated", Step: st})
		return nil
	})
}

// appendLogs stores a batch of log lines; the 204 is the agent's
// acknowledgement that they are kept.
func (s *Server) appendLogs(w http.ResponseWriter, r *http.Request) error {
	return jobReport(s, w, r, func(ctx context.Context, run *gantry.Run, lines *[]gantry.LogLine) error {
		if err := s.opts.Store.AppendLogs(ctx, run.ID, *lines); err != nil {
			return err
		}
		s.metrics.logLines.Add(float64(len(*lines)))
		s.hub.publish(run, event{Type: "logs", Lines: *lines})
		return nil
	})
}

func (s *Server) jobGetRun(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}

func (s *Server) jobSteps(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	steps, err := s.opts.Store.Steps(r.Context(), run.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(steps))
	return nil
}

// jobAttestations lists the run's attestations as records, without their
// envelopes: what a gate's policies weigh.
func (s *Server) jobAttestations(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	as, err := s.opts.Store.Attestations(r.Context(), gantry.AttestationFilter{RunID: run.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(as))
	return nil
}

func (s *Server) jobFindings(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	return s.writeFindings(w, r, run)
}

func (s *Server) putFindings(w http.ResponseWriter, r *http.Request) error {
	return jobReport(s, w, r, func(ctx context.Context, run *gantry.Run, fs *[]gantry.Finding) error {
		return s.opts.Store.PutFindings(ctx, run.ID, r.URL.Query().Get("step"), *fs)
	})
}

// keepAttestations checks that each envelope verifies with the key the
// agent enrolled, that it is about this run, and then keeps them in the
// ledger and the store; it answers with their ledger indexes.
func (s *Server) keepAttestations(w http.ResponseWriter, r *http.Request) error {
	run, p, err := s.jobRun(r)
	if err != nil {
		return err
	}
	var in []agentproto.AttestationUpload
	if err := readJSON(r, &in); err != nil {
		return err
	}
	a, err := s.opts.Store.Agent(r.Context(), p.Agent)
	if err != nil {
		return err
	}
	pub, err := evidence.ParsePublicKey(a.PublicKey)
	if err != nil {
		return fmt.Errorf("agent %s's key: %w", a.Name, err)
	}
	as := make([]*gantry.Attestation, len(in))
	for i := range in {
		at := in[i].Attestation
		at.Envelope = in[i].Envelope
		at.RunID = run.ID
		at.Digest = gantry.DigestBytes(at.Envelope)
		ver, err := evidence.VerifyEnvelope(r.Context(), at.Envelope, []crypto.PublicKey{pub})
		if err != nil {
			return gantry.Errorf(gantry.EInvalid, "attestation of %s: %v", cmp.Or(at.Step, "gate "+at.Stage), gantry.ErrorMessageOrText(err))
		}
		at.KeyHint = ver.KeyHint
		if err := store.CheckAttestation(&at); err != nil {
			return err
		}
		as[i] = &at
	}
	keeper := evidence.LedgerKeeper{Log: s.opts.Ledger, Store: s.opts.Store}
	if err := keeper.Keep(r.Context(), as); err != nil {
		return err
	}
	idx := make([]int64, len(as))
	for i, a := range as {
		idx[i] = a.LedgerIndex
	}
	writeJSON(w, http.StatusOK, idx)
	return nil
}

func (s *Server) seal(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := s.jobRun(r); err != nil {
		return err
	}
	if _, err := s.opts.Ledger.Checkpoint(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// runSecrets gives a job the values of the secrets its pipeline names.
func (s *Server) runSecrets(w http.ResponseWriter, r *http.Request) error {
	run, p, err := s.jobRun(r)
	if err != nil {
		return err
	}
	var names []string
	if err := readJSON(r, &names); err != nil {
		return err
	}
	values := map[string]string{}
	if s.opts.Secrets != nil && len(names) > 0 {
		if values, err = s.opts.Secrets.Resolve(r.Context(), run.Project, "", names); err != nil {
			return err
		}
	}
	s.audit(r.Context(), &gantry.AuditEvent{Actor: "agent:" + p.Agent, Action: "secret.read", Target: run.Project,
		Outcome: "success", Remote: remote(r), Detail: map[string]string{"run": string(run.ID), "names": strings.Join(names, ",")}})
	writeJSON(w, http.StatusOK, values)
	return nil
}

// putBlob stores an artifact the agent uploads, under its digest: the
// bytes must have that digest and stay under the size limit.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) error {
	_, want, err := s.blobRequest(r, "upload")
	if err != nil {
		return err
	}
	if r.ContentLength > s.opts.MaxArtifact {
		return gantry.Errorf(gantry.EInvalid, "artifact of %d bytes: the limit is %d", r.ContentLength, s.opts.MaxArtifact)
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxArtifact)
	got, n, err := s.opts.Blobs.Put(r.Context(), body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return gantry.Errorf(gantry.EInvalid, "artifact over the limit of %d bytes", s.opts.MaxArtifact)
		}
		return err
	}
	if got != want {
		// The blob store keeps content by its digest: what was stored is
		// harmless, but it is not what the agent claimed.
		return gantry.Errorf(gantry.EInvalid, "artifact digest is %s, not %s", got, want)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"digest": got, "size": n})
	return nil
}

// blobRequest authenticates a job token and reads the digest in the path.
func (s *Server) blobRequest(r *http.Request, verb string) (*Principal, gantry.Digest, error) {
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return nil, "", err
	}
	if p.RunID == "" {
		return nil, "", gantry.Errorf(gantry.EForbidden, "only a job token may %s artifacts here", verb)
	}
	d := gantry.Digest(r.PathValue("digest"))
	if !store.ValidDigest(d) {
		return nil, "", gantry.Errorf(gantry.EInvalid, "malformed digest %q", d)
	}
	return p, d, nil
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) error {
	p, d, err := s.blobRequest(r, "download")
	if err != nil {
		return err
	}
	// A job token is good for its run only: it reads that run's outputs
	// (made by an earlier attempt, on another agent), not those of other
	// runs and projects whose digests it may know.
	arts, err := s.opts.Store.Artifacts(r.Context(), gantry.ArtifactFilter{RunID: p.RunID, Digest: d})
	if err != nil {
		return err
	}
	if len(arts) == 0 {
		return gantry.Errorf(gantry.EForbidden, "%s is not an output of run %s", d, p.RunID)
	}
	rc, err := s.opts.Blobs.Open(r.Context(), d)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, err = io.Copy(w, rc)
	return err
}

// CheckoutTokenName is the project secret agents clone private
// repositories with: a read-only token of the forge.
const CheckoutTokenName = "GANTRY_CHECKOUT_TOKEN"

// checkout returns the read-only credential a job clones with, or nil.
func (s *Server) checkout(ctx context.Context, pr *gantry.Project, run *gantry.Run) *agentproto.Checkout {
	if s.opts.Secrets == nil {
		return nil
	}
	v, err := s.opts.Secrets.Resolve(ctx, pr.Name, "", []string{CheckoutTokenName})
	if err != nil || v[CheckoutTokenName] == "" {
		return nil
	}
	f := run.Trigger.Forge
	if f == "" {
		f = guessForge(pr.RepoURL)
	}
	return &agentproto.Checkout{Forge: f, Token: v[CheckoutTokenName]}
}

// guessForge names the forge of a repository URL by its host: github or
// gitlab when the host says so, else gitea.
func guessForge(repo string) string {
	host := strings.ToLower(repo)
	switch {
	case strings.Contains(host, "github"):
		return "github"
	case strings.Contains(host, "gitlab"):
		return "gitlab"
	}
	return "gitea"
}
