package evidence

import (
	"context"
	"fmt"
	"io"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/spec"
)

// RecorderStore is what a Recorder keeps evidence in and reads findings
// from.
type RecorderStore interface {
	gantry.AttestationStore
	gantry.FindingStore
}

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	Signer gantry.Signer
	Store  RecorderStore
	Blobs  gantry.BlobStore // where test reports are read from
	Log    *ledger.Log
	// Repo is the source repository's URI and BuilderID what runs the
	// steps, as provenance names them.
	Repo      string
	BuilderID string
}

// Recorder makes the signed evidence of runs and keeps it: each
// attestation in the store and its digest in the ledger. It is the
// engine's Attester.
type Recorder struct {
	opts RecorderOptions
}

// NewRecorder returns a Recorder.
func NewRecorder(opts RecorderOptions) *Recorder { return &Recorder{opts: opts} }

// maxTestReport bounds what is read of a test report artifact.
const maxTestReport = MaxTestReportSize

// AttestStep attests a step that ran.
func (r *Recorder) AttestStep(ctx context.Context, run *gantry.Run, step *spec.PlanStep, res *gantry.StepResult, kind string) error {
	in := &StepInput{
		Run: run, Step: res, Kind: kind, Repo: r.opts.Repo, BuilderID: r.opts.BuilderID, Script: step.Script,
	}
	switch kind {
	case gantry.KindVulns, gantry.KindScan:
		recs, err := r.opts.Store.Findings(ctx, run.ID, res.Name)
		if err != nil {
			return fmt.Errorf("read the findings of step %s: %w", res.Name, err)
		}
		for _, rec := range recs {
			in.Findings = append(in.Findings, rec.Finding)
		}
	case gantry.KindTestResult:
		if step.TestReport != "" {
			tests, err := r.testReport(ctx, step.TestReport, res.Outputs)
			if err != nil {
				return err
			}
			in.Tests = tests
		}
	}
	a, err := AttestStep(ctx, r.opts.Signer, in)
	if err != nil {
		return err
	}
	return r.keep(ctx, a)
}

// testReport reads and parses the test report among a step's outputs. A
// step that failed before writing one has none: its exit status speaks.
func (r *Recorder) testReport(ctx context.Context, path string, outputs []gantry.Artifact) (*TestReport, error) {
	for _, o := range outputs {
		if o.Path != path {
			continue
		}
		rc, err := r.opts.Blobs.Open(ctx, o.Digest)
		if err != nil {
			return nil, fmt.Errorf("read test report %s: %w", path, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxTestReport+1))
		if err != nil {
			return nil, fmt.Errorf("read test report %s: %w", path, err)
		}
		t, err := ParseTestReport(b)
		if err != nil {
			return nil, fmt.Errorf("test report %s: %w", path, err)
		}
		return t, nil
	}
	return nil, nil
}

// AttestGate attests a stage's gate decision; its subjects are the
// attestations of the stage's steps.
func (r *Recorder) AttestGate(ctx context.Context, run *gantry.Run, stage *gantry.StageResult, _ []*gantry.StepResult) error {
	all, err := r.opts.Store.Attestations(ctx, gantry.AttestationFilter{RunID: run.ID})
	if err != nil {
		return fmt.Errorf("read the attestations of stage %s: %w", stage.Name, err)
	}
	var steps []*gantry.Attestation
	for _, a := range all {
		if a.Stage == stage.Name && a.Kind != gantry.KindGate {
			steps = append(steps, a)
		}
	}
	a, err := AttestGate(ctx, r.opts.Signer, &GateInput{Run: run, Stage: stage, Attestations: steps})
	if err != nil {
		return err
	}
	return r.keep(ctx, a)
}

// keep appends the attestation's digest to the ledger, then stores it
// with its entry's index. A crash between the two leaves a ledger entry
// without its attestation, which verifies; never the reverse.
func (r *Recorder) keep(ctx context.Context, a *gantry.Attestation) error {
	idx, err := r.opts.Log.Append(ctx, ledger.Leaf{Kind: ledger.KindAttestation, Digest: a.Digest})
	if err != nil {
		return fmt.Errorf("append to the ledger: %w", err)
	}
	a.LedgerIndex = idx[0]
	if err := r.opts.Store.PutAttestation(ctx, a); err != nil {
		return fmt.Errorf("store attestation: %w", err)
	}
	return nil
}

// Seal signs a checkpoint of the ledger that covers the run's evidence
// and stores the inclusion proof of each of its entries.
func (r *Recorder) Seal(ctx context.Context, _ *gantry.Run) error {
	if _, err := r.opts.Log.Checkpoint(ctx); err != nil {
		return fmt.Errorf("checkpoint the ledger: %w", err)
	}
	return nil
}
