// Package spec reads .gantry.yml, the pipeline file: it parses the YAML with
// positions, validates it (collecting every error, each with file:line:col
// and what was expected), expands it into an executable Plan, and generates
// the file's JSON Schema for editors.
package spec

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"gantry.dev/gantry"
)

// Limits that keep a hostile or broken pipeline file from costing more than
// a real one ever needs.
const (
	MaxFileSize    = 1 << 20 // bytes in a pipeline file
	MaxNodes       = 100_000 // YAML nodes, counting what aliases repeat
	MaxVariants    = 256     // matrix variants of one step
	MaxPlanSteps   = 4096    // steps of a plan, after matrix expansion
	MaxRetries     = 10      // retries of one step
	MaxTimeout     = 168 * time.Hour
	DefaultTimeout = time.Hour // a step's timeout when neither it nor defaults set one
)

// The executors a step can run on.
const (
	ExecutorLocal  = "local"
	ExecutorDocker = "docker"
)

// The kinds of step, which choose what a step's attestation says.
const (
	KindBuild = "build"
	KindTest  = "test"
	KindScan  = "scan"
	KindOther = "other"
)

// StepKinds are the values of a step's kind.
var StepKinds = []string{KindBuild, KindTest, KindScan, KindOther}

// Events are the trigger events a when.event condition can name.
var Events = []string{"push", "pull_request", "manual", "local"}

// Options are what validation needs to know about the installation.
type Options struct {
	// Actions are the built-in action names a step may use. When nil, any
	// well-formed name ([a-z][a-z0-9-]*) is accepted.
	Actions []string
}

// Pipeline is a parsed and validated pipeline file. Its field tags define
// the file's keys and the JSON Schema.
type Pipeline struct {
	Version  int      `yaml:"version" json:"version" required:"true" const:"1" doc:"The version of the file format. Always 1."`
	Defaults Defaults `yaml:"defaults,omitempty" json:"defaults,omitzero" doc:"Settings every step gets unless it sets its own."`
	Stages   []Stage  `yaml:"stages" json:"stages" required:"true" minItems:"1" doc:"The stages, in the order they run. A stage starts when the one before it passed its gate."`

	File   string        `yaml:"-" json:"-"` // the name the file was parsed under
	Digest gantry.Digest `yaml:"-" json:"-"` // sha256 of the file's bytes
}

// Defaults are settings that apply to every step that does not set its own.
type Defaults struct {
	Executor string   `yaml:"executor,omitempty" json:"executor,omitempty" enum:"local,docker" default:"local" doc:"Where steps run: local (a sandbox on this machine) or docker (a container)."`
	Image    string   `yaml:"image,omitempty" json:"image,omitempty" doc:"The container image of docker steps that do not name one."`
	Env      Env      `yaml:"env,omitempty" json:"env,omitempty" doc:"Environment variables of every step. A step's own env overrides them."`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" default:"1h" doc:"How long a step may run before it is stopped, in Go duration syntax (90s, 10m, 1h30m)."`
}

// Stage is a named group of steps. Stages run one after the other; the
// steps of a stage run as their needs allow.
type Stage struct {
	Name  string     `yaml:"name" json:"name" required:"true" pattern:"^[a-z0-9][a-z0-9_-]*$" maxLength:"63" doc:"The stage's name: lower-case letters, digits, '-' and '_', starting with a letter or digit. Unique in the pipeline."`
	Steps []Step     `yaml:"steps" json:"steps" required:"true" minItems:"1" doc:"The stage's steps."`
	Gate  *StageGate `yaml:"gate,omitempty" json:"gate,omitempty" doc:"What decides, after the stage's steps, whether the run may go on: besides every step passing, the stage's policies."`
	// Environment is where the stage deploys to: before its steps run,
	// the environment's protection rules must admit the run's change.
	Environment string `yaml:"environment,omitempty" json:"environment,omitempty" pattern:"^[a-z0-9][a-z0-9_-]*$" maxLength:"63" doc:"The environment the stage deploys to, such as production. Before its steps run, the environment's protection rules (.gantry/changes.yml, or the project's on a server) must admit the change: who may deploy, approvals, freeze windows, required gates."`

	Pos Pos `yaml:"-" json:"-"`
}

// StageGate is a stage's gate: the policies that must allow the run to go
// on.
type StageGate struct {
	Policies Strings `yaml:"policies" json:"policies" required:"true" minItems:"1" doc:"Rego policy files or directories, relative to the pipeline file's directory: their package gantry.gates.<stage> decides with deny (and warn) rules. A policy that does not compile or fails denies."`
}

// Step is one unit of work: commands to run, or a built-in action to use.
type Step struct {
	Name            string   `yaml:"name" json:"name" required:"true" pattern:"^[A-Za-z0-9]([A-Za-z0-9 ._-]*[A-Za-z0-9._-])?$" maxLength:"100" doc:"The step's name: letters, digits, spaces, '-', '_' and '.', starting with a letter or digit. Unique in the pipeline; it names the step's logs and artifacts."`
	Run             Commands `yaml:"run,omitempty" json:"run,omitempty" doc:"Shell commands, run in order with sh -e; the step stops at the first that fails. ${{ matrix.KEY }} is replaced by the variant's value."`
	Uses            string   `yaml:"uses,omitempty" json:"uses,omitempty" pattern:"^[a-z][a-z0-9-]*$" doc:"A built-in action to run instead of commands, such as sast."`
	With            Inputs   `yaml:"with,omitempty" json:"with,omitempty" doc:"Inputs of the action named by uses."`
	Needs           Strings  `yaml:"needs,omitempty" json:"needs,omitempty" doc:"Steps that must succeed before this one starts: steps of this stage or of an earlier one. Needing a matrix step means needing all its variants."`
	Env             Env      `yaml:"env,omitempty" json:"env,omitempty" doc:"Environment variables of this step, over those of defaults."`
	Secrets         Strings  `yaml:"secrets,omitempty" json:"secrets,omitempty" doc:"Names of the secrets this step receives as environment variables. No other step sees them."`
	When            *When    `yaml:"when,omitempty" json:"when,omitempty" doc:"Conditions under which the step runs; it is skipped otherwise. All given conditions must match."`
	Executor        string   `yaml:"executor,omitempty" json:"executor,omitempty" enum:"local,docker" doc:"Where the step runs: local (a sandbox on this machine) or docker (a container). Defaults to defaults.executor, then local."`
	Image           string   `yaml:"image,omitempty" json:"image,omitempty" doc:"The container image of a docker step. Defaults to defaults.image."`
	Network         bool     `yaml:"network,omitempty" json:"network,omitempty" default:"false" doc:"Whether the step may use the network."`
	Timeout         Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" doc:"How long the step may run before it is stopped, in Go duration syntax (90s, 10m, 1h30m). Defaults to defaults.timeout, then 1h."`
	Retry           *Retry   `yaml:"retry,omitempty" json:"retry,omitempty" doc:"How often to run the step again when it fails."`
	ContinueOnError bool     `yaml:"continue-on-error,omitempty" json:"continue-on-error,omitempty" default:"false" doc:"Whether the run goes on when this step fails."`
	Kind            string   `yaml:"kind,omitempty" json:"kind,omitempty" enum:"build,test,scan,other" doc:"What the step is, which chooses what its attestation says: build (SLSA provenance of its outputs), test (a test result), scan (a security scan) or other (the command and its materials and products). By default: test when it has a test-report, scan for a built-in scanner, build when it has outputs, other otherwise."`
	TestReport      string   `yaml:"test-report,omitempty" json:"test-report,omitempty" doc:"A test report the step writes, relative to the workspace: JUnit XML or the output of go test -json. Its pass and fail counts go into the step's test-result attestation; it makes the step a test."`
	Coverage        string   `yaml:"coverage,omitempty" json:"coverage,omitempty" doc:"A coverage report the step writes, relative to the workspace: a Go cover profile, LCOV or Cobertura XML. Its total is the run's test coverage, which gates (input.coverage, gantry.lib.coverage) compare with the base branch's last successful run, and which the change's classification reads."`
	Outputs         Strings  `yaml:"outputs,omitempty" json:"outputs,omitempty" doc:"Files the step produces, relative to the workspace; globs allowed (* within a directory, ** across directories). They become artifacts."`
	Matrix          Matrix   `yaml:"matrix,omitempty" json:"matrix,omitempty" doc:"Runs the step once for every combination of the values."`

	Pos Pos `yaml:"-" json:"-"`
}

// When holds the conditions of a step. Each is a list of glob patterns and
// matches when any of its patterns does; a When matches when all of its
// conditions do.
type When struct {
	Branch Strings `yaml:"branch,omitempty" json:"branch,omitempty" doc:"Branch name patterns, such as main or release/*."`
	Event  Strings `yaml:"event,omitempty" json:"event,omitempty" doc:"Trigger events: push, pull_request, manual or local (gantry run)."`
	Paths  Strings `yaml:"paths,omitempty" json:"paths,omitempty" doc:"Patterns of changed paths, relative to the repository root; * matches within a directory, ** across directories."`
}

// Retry says how often to run a failed step again.
type Retry struct {
	Count     int   `yaml:"count" json:"count" required:"true" minimum:"0" maximum:"10" doc:"How many times to run the step again after it failed."`
	ExitCodes []int `yaml:"exit-codes,omitempty" json:"exit-codes,omitempty" minimum:"1" maximum:"255" doc:"Retry only when the step exits with one of these codes. Empty: any non-zero exit."`
}

// Commands are the shell commands of a step: one string or a list.
type Commands []string

// Strings is a list of strings that may be written as a single string.
type Strings []string

// Env maps environment variable names to values.
type Env map[string]string

// Inputs are an action's inputs. Numbers and booleans are kept as written.
type Inputs map[string]string

// Matrix maps a key to the values a step is run with. Numbers and booleans
// are kept as written, so 1.10 stays "1.10".
type Matrix map[string][]string

// Duration is a time.Duration written in Go duration syntax (10m, 1h30m).
type Duration time.Duration

// MarshalText writes d in Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// String writes d in Go duration syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// Load reads the pipeline file at path and parses it.
func Load(path string, opts Options) (*Pipeline, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, gantry.Errorf(gantry.ENotFound, "no pipeline file %s: %w", path, err)
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read pipeline: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read pipeline: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse parses and validates a pipeline file. file names it in errors. On
// error it returns a nil Pipeline and an ErrorList holding every problem
// found, sorted by position.
func Parse(file string, data []byte, opts Options) (*Pipeline, error) {
	d := newDecoder(file, data, opts)
	p := d.parse()
	if err := d.Err(); err != nil {
		return nil, err
	}
	p.File = file
	p.Digest = gantry.DigestBytes(data)
	return p, nil
}
