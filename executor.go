package gantry

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// Task is one attempt of a step, as an executor sees it.
type Task struct {
	RunID     RunID
	Step      string            // the step's unique name, for labels and messages
	Script    string            // shell script run with `sh -e -c`
	Env       map[string]string // the whole environment: nothing else is passed
	Workspace string            // host directory shared by the run's steps: the repository
	Dir       string            // where the script runs, relative to Workspace ("" for its root)
	Image     string            // container image (docker executor)
	Network   bool              // the step may use the network
	Stdout    io.Writer
	Stderr    io.Writer

	// Kill, when closed, asks for an immediate stop without a grace period:
	// the second Ctrl-C.
	Kill <-chan struct{}
	// Grace is how long a cancelled step may take to stop after it is asked
	// to (SIGTERM) before it is killed.
	Grace time.Duration
}

// CheckDir reports an error when t.Dir is not a relative path inside the
// workspace.
func (t *Task) CheckDir() error {
	if t.Dir == "" {
		return nil
	}
	d := filepath.ToSlash(filepath.Clean(t.Dir))
	if filepath.IsAbs(t.Dir) || d == ".." || strings.HasPrefix(d, "../") {
		return Errorf(EInvalid, "step directory %q must be a relative path inside the workspace", t.Dir)
	}
	return nil
}

// Exit is how a task's process ended.
type Exit struct {
	Code    int               // exit code; -1 when it was killed by a signal
	Signal  string            // the signal that ended it, if any
	Sandbox string            // how the task was isolated, in words
	Meta    map[string]string // executor facts worth keeping (image digest, container id)
}

// Executor runs a task's process somewhere isolated.
//
// Run returns when the process and everything it started are gone. When ctx
// is cancelled, the executor stops the process (SIGTERM, then SIGKILL after
// the task's Grace or at once when Kill is closed) and returns ctx's error.
// An error other than a context error means the task could not be run at
// all: that is a failure of the step, with the error as its reason.
type Executor interface {
	Name() string
	Run(ctx context.Context, t *Task) (Exit, error)
}
