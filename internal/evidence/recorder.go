package evidence

import (
	"context"
	"fmt"
	"io"
	"sync"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/spec"
)

// A Keeper keeps signed attestations: appends their digests to a ledger
// and stores them. LedgerKeeper does it here; an agent's keeper sends them
// to its server, which checks them before it keeps them.
type Keeper interface {
	// Keep keeps attestations, setting their LedgerIndex.
	Keep(ctx context.Context, as []*gantry.Attestation) error
	// Seal makes what was kept provable: a signed checkpoint.
	Seal(ctx context.Context, run gantry.RunID) error
}

// LedgerKeeper keeps attestations in a ledger and a store.
type LedgerKeeper struct {
	Log   *ledger.Log
	Store gantry.AttestationStore
}

var _ Keeper = LedgerKeeper{}

// Keep appends the attestations' digests to the ledger, then stores them
// with their entries' indexes. A crash between the two leaves ledger
// entries without attestations, which verify; never an attestation the
// ledger does not hold.
func (k LedgerKeeper) Keep(ctx context.Context, as []*gantry.Attestation) error {
	if len(as) == 0 {
		return nil
	}
	leaves := make([]ledger.Leaf, len(as))
	for i, a := range as {
		leaves[i] = ledger.Leaf{Kind: ledger.KindAttestation, Digest: a.Digest}
	}
	idx, err := k.Log.Append(ctx, leaves...)
	if err != nil {
		return fmt.Errorf("append to the ledger: %w", err)
	}
	for i, a := range as {
		a.LedgerIndex = idx[i]
	}
	if err := k.Store.PutAttestations(ctx, as); err != nil {
		return fmt.Errorf("store attestations: %w", err)
	}
	return nil
}

// Seal signs a checkpoint of the ledger and stores the inclusion proof of
// each entry added since the last.
func (k LedgerKeeper) Seal(ctx context.Context, _ gantry.RunID) error {
	if _, err := k.Log.Checkpoint(ctx); err != nil {
		return fmt.Errorf("checkpoint the ledger: %w", err)
	}
	return nil
}

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	Signer gantry.Signer
	// Findings are read for scanners' attestations.
	Findings gantry.FindingStore
	Blobs    gantry.BlobStore // where test reports are read from
	Keeper   Keeper
	// Repo is the source repository's URI and BuilderID what runs the
	// steps, as provenance names them.
	Repo      string
	BuilderID string
}

// Recorder makes the signed evidence of runs and keeps it: each
// attestation in the store and its digest in the ledger. It is the
// engine's Attester.
//
// A step's attestation is signed when the step ends, so that a step whose
// evidence cannot be made fails; it is kept, with the rest of its stage's,
// when the stage's gate decision is attested: one ledger append and one
// store transaction per stage rather than per step. Should keeping them
// fail, the gate denies.
type Recorder struct {
	opts RecorderOptions

	mu      sync.Mutex
	pending map[gantry.RunID][]*gantry.Attestation // signed, not yet kept
}

// NewRecorder returns a Recorder.
func NewRecorder(opts RecorderOptions) *Recorder {
	return &Recorder{opts: opts, pending: map[gantry.RunID][]*gantry.Attestation{}}
}

// Pending returns the attestations of run signed but not kept yet: the
// current stage's, which a gate's policies weigh with those kept.
func (r *Recorder) Pending(run gantry.RunID) []*gantry.Attestation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*gantry.Attestation(nil), r.pending[run]...)
}

// maxTestReport bounds what is read of a test report artifact.
const maxTestReport = MaxTestReportSize

// AttestStep attests a step that ran.
func (r *Recorder) AttestStep(ctx context.Context, run *gantry.Run, step *spec.PlanStep, res *gantry.StepResult, kind string) error {
	in := &StepInput{
		Run: run, Step: res, Kind: kind, Repo: r.opts.Repo, BuilderID: r.opts.BuilderID, Script: step.Script,
	}
	switch kind {
	case gantry.KindVulns, gantry.KindScan:
		recs, err := r.opts.Findings.Findings(ctx, run.ID, res.Name)
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
	r.mu.Lock()
	r.pending[run.ID] = append(r.pending[run.ID], a)
	r.mu.Unlock()
	return nil
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

// AttestGate attests a stage's gate decision, whose subjects are the
// attestations of the stage's steps, and keeps them all.
func (r *Recorder) AttestGate(ctx context.Context, run *gantry.Run, stage *gantry.StageResult, _ []*gantry.StepResult) error {
	r.mu.Lock()
	pending := r.pending[run.ID]
	r.mu.Unlock()
	var steps []*gantry.Attestation
	for _, a := range pending {
		if a.Stage == stage.Name {
			steps = append(steps, a)
		}
	}
	a, err := AttestGate(ctx, r.opts.Signer, &GateInput{Run: run, Stage: stage, Attestations: steps})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.pending[run.ID] = append(r.pending[run.ID], a)
	r.mu.Unlock()
	return r.flush(ctx, run.ID)
}

// flush keeps a run's pending attestations.
func (r *Recorder) flush(ctx context.Context, run gantry.RunID) error {
	r.mu.Lock()
	as := r.pending[run]
	delete(r.pending, run)
	r.mu.Unlock()
	return r.opts.Keeper.Keep(ctx, as)
}

// Seal keeps what is left of the run's evidence, then signs a checkpoint
// of the ledger that covers it and stores the inclusion proof of each of
// its entries.
func (r *Recorder) Seal(ctx context.Context, run *gantry.Run) error {
	// A cancelled stage attests no gate: its steps' evidence is kept
	// here.
	if err := r.flush(ctx, run.ID); err != nil {
		return err
	}
	return r.opts.Keeper.Seal(ctx, run.ID)
}
