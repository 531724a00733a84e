package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/engine"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/gate"
)

// remote is the engine's store, blob store and evidence keeper for one
// job: everything goes to the server with the job token, and a write
// returns only once the server has kept it.
type remote struct {
	c     *client
	run   gantry.RunID
	local *cas.Store // artifacts, kept here as well as on the server
}

var (
	_ engine.Store     = (*remote)(nil)
	_ gantry.BlobStore = (*remote)(nil)
	_ evidence.Keeper  = (*remote)(nil)
	_ gate.Changes     = (*remote)(nil)
)

func (r *remote) path(suffix string) string {
	return "/api/v1/agent/runs/" + url.PathEscape(string(r.run)) + suffix
}

func (r *remote) CreateRun(ctx context.Context, run *gantry.Run) error {
	_, err := r.c.do(ctx, "POST", r.path("/start"), run, nil)
	return err
}

func (r *remote) UpdateRun(ctx context.Context, run *gantry.Run) error {
	_, err := r.c.do(ctx, "PUT", r.path(""), run, nil)
	return err
}

func (r *remote) PutStage(ctx context.Context, s *gantry.StageResult) error {
	_, err := r.c.do(ctx, "PUT", r.path("/stages"), s, nil)
	return err
}

func (r *remote) PutStep(ctx context.Context, s *gantry.StepResult) error {
	_, err := r.c.do(ctx, "PUT", r.path("/steps"), s, nil)
	return err
}

func (r *remote) AppendLogs(ctx context.Context, _ gantry.RunID, lines []gantry.LogLine) error {
	_, err := r.c.do(ctx, "POST", r.path("/logs"), lines, nil)
	return err
}

func (r *remote) PutFindings(ctx context.Context, _ gantry.RunID, step string, findings []gantry.Finding) error {
	if findings == nil {
		findings = []gantry.Finding{}
	}
	_, err := r.c.do(ctx, "PUT", r.path("/findings?step="+url.QueryEscape(step)), findings, nil)
	return err
}

// Findings returns what the run's steps found, as the recorder attests
// them: this agent recorded them through PutFindings moments before.
func (r *remote) Findings(ctx context.Context, run gantry.RunID, step string) ([]gantry.FindingRecord, error) {
	var out []gantry.FindingRecord
	_, err := r.c.do(ctx, "GET", r.path("/findings?step="+url.QueryEscape(step)), nil, &out)
	return out, err
}

// Run, Steps and Attestations read the run's evidence so far, for the
// job's gate.
func (r *remote) Run(ctx context.Context, _ gantry.RunID) (*gantry.Run, error) {
	var run gantry.Run
	_, err := r.c.do(ctx, "GET", r.path(""), nil, &run)
	return &run, err
}

func (r *remote) Steps(ctx context.Context, _ gantry.RunID) ([]*gantry.StepResult, error) {
	var steps []*gantry.StepResult
	_, err := r.c.do(ctx, "GET", r.path("/steps"), nil, &steps)
	return steps, err
}

func (r *remote) Attestations(ctx context.Context, _ gantry.AttestationFilter) ([]*gantry.Attestation, error) {
	var as []*gantry.Attestation
	_, err := r.c.do(ctx, "GET", r.path("/attestations"), nil, &as)
	return as, err
}

// Put stores an artifact here, then uploads it under its digest.
func (r *remote) Put(ctx context.Context, rd io.Reader) (gantry.Digest, int64, error) {
	d, n, err := r.local.Put(ctx, rd)
	if err != nil {
		return "", 0, err
	}
	f, err := r.local.Open(ctx, d)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if _, err := r.c.do(ctx, "PUT", "/api/v1/agent/blobs/"+string(d), f, nil); err != nil {
		return "", 0, fmt.Errorf("upload artifact %s: %w", d.Short(), err)
	}
	return d, n, nil
}

// Open reads an artifact from here, or from the server (an earlier
// attempt of the run on another agent made it).
func (r *remote) Open(ctx context.Context, d gantry.Digest) (io.ReadCloser, error) {
	if rc, err := r.local.Open(ctx, d); err == nil {
		return rc, nil
	}
	var buf bytes.Buffer
	if _, err := r.c.do(ctx, "GET", "/api/v1/agent/blobs/"+string(d), nil, &buf); err != nil {
		return nil, err
	}
	if _, _, err := r.local.Put(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		return nil, err
	}
	return r.local.Open(ctx, d)
}

func (r *remote) Has(ctx context.Context, d gantry.Digest) (bool, error) {
	rc, err := r.Open(ctx, d)
	if err != nil {
		return false, nil
	}
	rc.Close()
	return true, nil
}

// Keep sends signed attestations to the server, which checks them against
// this agent's enrolled key and keeps them in its ledger.
func (r *remote) Keep(ctx context.Context, as []*gantry.Attestation) error {
	if len(as) == 0 {
		return nil
	}
	up := make([]agentproto.AttestationUpload, len(as))
	for i, a := range as {
		up[i] = agentproto.AttestationUpload{Attestation: *a, Envelope: a.Envelope}
	}
	var idx []int64
	if _, err := r.c.do(ctx, "POST", r.path("/attestations"), up, &idx); err != nil {
		return err
	}
	if len(idx) != len(as) {
		return fmt.Errorf("the server kept %d of %d attestations", len(idx), len(as))
	}
	for i, a := range as {
		a.LedgerIndex = idx[i]
	}
	return nil
}

func (r *remote) Seal(ctx context.Context, _ gantry.RunID) error {
	_, err := r.c.do(ctx, "POST", r.path("/seal"), nil, nil)
	return err
}

// secrets fetches the values of the secrets the pipeline names.
func (r *remote) secrets(ctx context.Context, names []string) (map[string]string, error) {
	values := map[string]string{}
	if len(names) == 0 {
		return values, nil
	}
	_, err := r.c.do(ctx, "POST", r.path("/secrets"), names, &values)
	return values, err
}

// ChangeState reads the run's change with its approvals and its
// project's recent past, which the server looks back on as far as the
// project's rules say: the job's run has one change, so project, id and
// since are the server's to know.
func (r *remote) ChangeState(ctx context.Context, _, _ string, _ time.Time) (*change.State, error) {
	var cs agentproto.ChangeState
	if _, err := r.c.do(ctx, "GET", r.path("/change"), nil, &cs); err != nil {
		return nil, err
	}
	if cs.Change == nil {
		return nil, gantry.Errorf(gantry.ENotFound, "the server sent no change for run %s", r.run)
	}
	return &change.State{Change: cs.Change, Approvals: cs.Approvals, Incidents: cs.Incidents,
		History:      change.History{Changes: cs.History.Changes, Failed: cs.History.Failed},
		BaseCoverage: cs.BaseCoverage}, nil
}

// PutChange records the run's change: as the checkout shows it, or with
// the classification a gate just made.
func (r *remote) PutChange(ctx context.Context, c *gantry.Change) error {
	_, err := r.c.do(ctx, "PUT", r.path("/change"), c, nil)
	return err
}

// unrecorded is the change management of a job whose change could not be
// recorded: every stage that deploys is refused, with the reason.
type unrecorded struct{ err error }

func (u unrecorded) ChangeState(context.Context, string, string, time.Time) (*change.State, error) {
	return nil, gantry.Errorf(gantry.EUnavailable, "the run's change could not be recorded: %s", gantry.ErrorMessageOrText(u.err))
}

func (u unrecorded) PutChange(context.Context, *gantry.Change) error {
	return gantry.Errorf(gantry.EUnavailable, "the run's change could not be recorded: %s", gantry.ErrorMessageOrText(u.err))
}

// removeAll is os.RemoveAll, which tests replace.
var removeAll = os.RemoveAll
