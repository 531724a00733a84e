// Package action is the registry of Gantry's built-in actions: the steps a
// pipeline names with `uses:` instead of `run:`.
package action

import (
	"context"
	"io"
	"sort"

	"gantry.dev/gantry"
)

// Env is what a built-in action gets to work with.
type Env struct {
	RunID     gantry.RunID
	Step      string
	Workspace string
	With      map[string]string // the step's inputs
	Env       map[string]string // the step's environment, secrets included
	Stdout    io.Writer
	Stderr    io.Writer

	// Findings records what a scanning action found, replacing what it
	// recorded before in this run.
	Findings func(ctx context.Context, findings []gantry.Finding) error
	// Artifact stores a file the action made (a SARIF report, an SBOM)
	// as an artifact of the step, under name.
	Artifact func(ctx context.Context, name string, r io.Reader) (gantry.Artifact, error)
	// Trigger is what started the run: its branch and changed paths.
	Trigger gantry.Trigger
}

// Action is a built-in step. It returns the exit code the step reports
// (0 for success) or an error when it could not do its work at all.
type Action interface {
	Run(ctx context.Context, env *Env) (code int, err error)
}

// Func adapts a function to an Action.
type Func func(ctx context.Context, env *Env) (int, error)

// Run calls f.
func (f Func) Run(ctx context.Context, env *Env) (int, error) { return f(ctx, env) }

// Entry describes one built-in action.
type Entry struct {
	Name    string
	Summary string
	// Kind is what a step that uses the action is, for its attestation
	// (gantry.KindScan, KindVulns, …); "" lets the engine choose.
	Kind string
	// Action is nil for an action that is named but not built yet: a step
	// that uses it fails, since a missing check is never a pass.
	Action Action
}

// Registry holds built-in actions by name.
type Registry struct {
	entries map[string]Entry
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]Entry{}} }

// Register adds or replaces an entry.
func (r *Registry) Register(e Entry) { r.entries[e.Name] = e }

// Lookup returns the entry named name.
func (r *Registry) Lookup(name string) (Entry, bool) {
	e, ok := r.entries[name]
	return e, ok
}

// Names lists the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Builtins returns the registry of the actions this version of Gantry knows.
// The security scanners are named so that pipelines can already refer to
// them; until they are built, a step that uses one fails with a reason.
func Builtins() *Registry {
	r := NewRegistry()
	for _, e := range []Entry{
		{Name: "sast", Summary: "static analysis of the source code"},
		{Name: "secrets", Summary: "secrets in the working tree and history"},
		{Name: "deps", Summary: "dependency inventory and known vulnerabilities"},
		{Name: "sbom", Summary: "CycloneDX software bill of materials"},
		{Name: "license", Summary: "dependency licences against allow and deny lists"},
		{Name: "iac", Summary: "Dockerfiles, Kubernetes manifests and shell scripts"},
		{Name: "test-code", Summary: "suspicious API calls in test code"},
	} {
		r.Register(e)
	}
	return r
}
