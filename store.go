package gantry

import (
	"context"
	"io"
)

// The rules every Store keeps, checked by internal/store/storetest:
//
//   - invalid input (no ID or name, an unknown status, a malformed digest,
//     an unknown stream) is an EInvalid error and stores nothing;
//   - a call about a run that does not exist returns ErrNotFound; a known
//     run with nothing in a list returns an empty list;
//   - times round-trip to the nanosecond and zero times stay zero;
//   - Close may be called twice; calls after it return errors.

// RunStore keeps runs.
type RunStore interface {
	// CreateRun records a new run; an existing ID is an EConflict error.
	CreateRun(ctx context.Context, r *Run) error
	UpdateRun(ctx context.Context, r *Run) error
	Run(ctx context.Context, id RunID) (*Run, error)
	// Runs lists runs newest first (by CreatedAt, then ID), at most
	// filter.Limit of them (0: no limit).
	Runs(ctx context.Context, filter RunFilter) ([]*Run, error)
}

// RunFilter narrows Runs.
type RunFilter struct {
	Project string
	Status  Status
	Branch  string // the trigger's branch
	Limit   int
}

// StepStore keeps stage and step results.
type StepStore interface {
	// PutStage creates or replaces a stage, identified by run and name.
	PutStage(ctx context.Context, s *StageResult) error
	Stages(ctx context.Context, run RunID) ([]*StageResult, error)
	// PutStep creates or replaces the result of one step of a run.
	PutStep(ctx context.Context, s *StepResult) error
	// Steps lists a run's step results in the order they started, then
	// in the order first put; steps that never started come last. A
	// replaced step keeps its place.
	Steps(ctx context.Context, run RunID) ([]*StepResult, error)
}

// LogStore keeps steps' log lines.
type LogStore interface {
	// AppendLogs stores a batch of lines whole or not at all.
	AppendLogs(ctx context.Context, run RunID, lines []LogLine) error
	// Logs returns a step's lines in the order appended, or every step's
	// when step is "".
	Logs(ctx context.Context, run RunID, step string) ([]LogLine, error)
}

// FindingRecord is a finding with the run and step that found it.
type FindingRecord struct {
	RunID RunID  `json:"run_id"`
	Step  string `json:"step"`
	Finding
}

// FindingStore keeps what security scanners found.
type FindingStore interface {
	// PutFindings replaces the findings of one step of a run.
	PutFindings(ctx context.Context, run RunID, step string, findings []Finding) error
	// Findings lists a run's findings, of one step when step is set, most
	// severe first, then by tool, path and line.
	Findings(ctx context.Context, run RunID, step string) ([]FindingRecord, error)
}

// Store is the whole persistence contract; each part can be used alone.
type Store interface {
	RunStore
	StepStore
	LogStore
	ArtifactIndex
	FindingStore
	AttestationStore
	LedgerStore
	ChangeStore
	io.Closer
}

// BlobStore keeps content-addressed bytes: artifacts.
type BlobStore interface {
	// Put stores r's bytes and returns their digest and size.
	Put(ctx context.Context, r io.Reader) (Digest, int64, error)
	// Open returns the bytes stored under d, or ErrNotFound.
	Open(ctx context.Context, d Digest) (io.ReadCloser, error)
	Has(ctx context.Context, d Digest) (bool, error)
}

// ArtifactRecord is an artifact with the run that produced it.
type ArtifactRecord struct {
	RunID RunID `json:"run_id"`
	Artifact
}

// ArtifactIndex finds the artifacts that step results recorded. PutStep
// indexes a step's Outputs.
type ArtifactIndex interface {
	// Artifacts lists a run's artifacts, or, when digest is set, every
	// recorded artifact with that digest across runs (newest first).
	Artifacts(ctx context.Context, filter ArtifactFilter) ([]ArtifactRecord, error)
}

// ArtifactFilter narrows Artifacts. At least one field must be set.
type ArtifactFilter struct {
	RunID  RunID
	Digest Digest
}
