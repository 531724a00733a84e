package gantry

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// RunID identifies a run. It sorts by creation time.
type RunID string

// NewRunID returns a new RunID made of the time t and random bits, so that
// IDs sort in the order runs were created and never collide.
func NewRunID(t time.Time) RunID {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return RunID(t.UTC().Format("20060102-150405.000")[:19] + "-" + hex.EncodeToString(b[:]))
}

// Trigger says what started a run and for which revision.
type Trigger struct {
	Event   string   `json:"event"`             // push, pull_request, manual, local
	Branch  string   `json:"branch,omitempty"`  // the branch the change is on
	Commit  string   `json:"commit,omitempty"`  // the commit the pipeline ran at
	Changed []string `json:"changed,omitempty"` // paths the change touches, relative to the repository
	Dirty   bool     `json:"dirty,omitempty"`   // the working tree had uncommitted changes
	// Forge is where a webhook came from (github, gitlab, gitea), and
	// ForgeAPI and Repo where the run's commit status goes back to.
	Forge    string `json:"forge,omitempty"`
	ForgeAPI string `json:"forge_api,omitempty"`
	Repo     string `json:"repo,omitempty"`
	// Actor is who started the run: a user, "webhook:FORGE" with the
	// pusher, or the git user in local mode.
	Actor string `json:"actor,omitempty"`
	// Change is the ID of the change the run belongs to, within its
	// project.
	Change string `json:"change,omitempty"`
	// PullRequest is the pull request's number, when a pull request
	// started the run.
	PullRequest int `json:"pull_request,omitempty"`
}

// Run is one execution of a pipeline.
type Run struct {
	ID             RunID     `json:"id"`
	Project        string    `json:"project,omitempty"`
	Pipeline       string    `json:"pipeline"`        // path of the pipeline file
	PipelineDigest Digest    `json:"pipeline_digest"` // digest of the pipeline file's bytes
	Trigger        Trigger   `json:"trigger"`
	Status         Status    `json:"status"`
	Reason         string    `json:"reason,omitempty"` // why the run ended as it did, when not succeeded
	CreatedAt      time.Time `json:"created_at"`
	StartedAt      time.Time `json:"started_at,omitzero"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
}

// Duration is how long the run took, or zero while it has not finished.
func (r *Run) Duration() time.Duration {
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// StageResult is what happened to one stage of a run.
type StageResult struct {
	RunID      RunID     `json:"run_id"`
	Index      int       `json:"index"`
	Name       string    `json:"name"`
	Status     Status    `json:"status"`
	Gate       Gate      `json:"gate"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Gate is the decision taken at the end of a stage: may the run go on?
type Gate struct {
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons,omitempty"` // why it denied, one line each
	// Notes explain a decision either way, without being reasons to deny:
	// the change's class and risk factors, an exception that counted.
	Notes   []string `json:"notes,omitempty"`
	Decider string   `json:"decider,omitempty"` // what decided: "steps", "steps+policy DIGEST", "environment NAME"
	// Environment is the environment a stage that deploys was admitted
	// to: set on such a stage's gate once its steps ran, so that a failed
	// one is a failed deployment.
	Environment string `json:"environment,omitempty"`
}

// StepResult is what happened to one step: the unit of evidence. Later
// parts attach signed attestations to it.
type StepResult struct {
	RunID      RunID             `json:"run_id"`
	Stage      string            `json:"stage"`
	Name       string            `json:"name"`           // unique within the run; matrix steps carry their values
	Uses       string            `json:"uses,omitempty"` // the built-in action, if any
	Executor   string            `json:"executor"`
	Image      string            `json:"image,omitempty"`
	Status     Status            `json:"status"`
	ExitCode   int               `json:"exit_code"` // -1 when the process did not exit by itself
	Attempts   int               `json:"attempts"`
	Reason     string            `json:"reason,omitempty"` // why it did not succeed, or why it was skipped
	AllowFail  bool              `json:"allow_failure,omitempty"`
	StartedAt  time.Time         `json:"started_at,omitzero"`
	FinishedAt time.Time         `json:"finished_at,omitzero"`
	Command    Digest            `json:"command_digest,omitempty"` // digest of the script that ran
	EnvDigest  Digest            `json:"env_digest,omitempty"`     // digest of the environment given (secrets masked)
	Inputs     []Artifact        `json:"inputs,omitempty"`         // artifacts of earlier steps it consumed
	Outputs    []Artifact        `json:"outputs,omitempty"`        // artifacts it produced
	Log        Digest            `json:"log_digest,omitempty"`     // digest of its stored (masked) log
	Sandbox    string            `json:"sandbox,omitempty"`        // how it was isolated, in words
	Meta       map[string]string `json:"meta,omitempty"`           // executor facts, such as the image digest
}

// MetaCoverage is the StepResult.Meta key of a step's total test
// coverage, in percent with one decimal, read from its coverage report.
const MetaCoverage = "coverage"

// Duration is how long the step took.
func (s *StepResult) Duration() time.Duration {
	if s.StartedAt.IsZero() || s.FinishedAt.IsZero() {
		return 0
	}
	return s.FinishedAt.Sub(s.StartedAt)
}

// Passed reports whether the step lets the run go on: it succeeded, or it
// failed but was allowed to.
func (s *StepResult) Passed() bool {
	return s.Status == StatusSucceeded || s.Status == StatusSkipped ||
		(s.AllowFail && (s.Status == StatusFailed || s.Status == StatusTimedOut))
}
