// Package cli is Gantry's command line: one cobra command per subcommand,
// and Main, which returns the process exit code so that the whole CLI can
// be tested end to end.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
)

// Exit codes. One place maps error kinds to them.
const (
	ExitOK          = 0
	ExitFailed      = 1   // the run, lint or check found a failure
	ExitInvalid     = 2   // bad usage or input
	ExitUnavailable = 3   // something Gantry needs is not there
	ExitNotFound    = 4   // the run, step or file asked for does not exist
	ExitInternal    = 70  // a bug
	ExitCancelled   = 130 // interrupted
)

// Version is set at build time with -ldflags "-X gantry.dev/gantry/internal/cli.Version=…".
var Version = "dev"

// env is what a command may touch of the process it runs in.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	getwd          func() (string, error)
	isTerminal     func(io.Writer) bool
}

// exitError carries an exit code for a failure that has already been
// reported to the user.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line in os.Args and returns the exit code.
func Main() int {
	return run(context.Background(), os.Args[1:], &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		environ: os.Environ(), getwd: os.Getwd, isTerminal: isTerminal,
	})
}

func run(ctx context.Context, args []string, e *env) int {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(e.stderr, "gantry: %s\n", gantry.ErrorMessageOrText(err))
	return exitCode(err)
}

// exitCode maps an error's kind to an exit code.
func exitCode(err error) int {
	switch gantry.ErrorKind(err) {
	case gantry.EInvalid, gantry.EConflict:
		return ExitInvalid
	case gantry.EUnavailable:
		return ExitUnavailable
	case gantry.ENotFound:
		return ExitNotFound
	case gantry.EUnauthorized, gantry.EForbidden:
		return ExitFailed
	}
	return ExitInternal
}

// globals are the flags every command shares.
type globals struct {
	dir      string // -C: the repository
	file     string // -f: the pipeline file, relative to dir
	stateDir string

	cpuProfile  string
	stopProfile func()
}

// repo returns the absolute repository directory.
func (g *globals) repo(e *env) (string, error) {
	dir := g.dir
	if dir == "" {
		wd, err := e.getwd()
		if err != nil {
			return "", fmt.Errorf("find working directory: %w", err)
		}
		dir = wd
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", gantry.Errorf(gantry.EInvalid, "repository directory %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", gantry.Errorf(gantry.EInvalid, "repository directory %s does not exist", dir)
	}
	return abs, nil
}

// pipelinePath returns the pipeline file's path.
func (g *globals) pipelinePath(e *env) (string, error) {
	dir, err := g.repo(e)
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(g.file) {
		return g.file, nil
	}
	return filepath.Join(dir, g.file), nil
}

// state returns the local state directory.
func (g *globals) state(e *env) (string, error) {
	if g.stateDir != "" {
		return filepath.Abs(g.stateDir)
	}
	dir, err := g.repo(e)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ".gantry", "state"), nil
}

func newRoot(e *env) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "gantry",
		Short: "Gantry delivers changes from commit to production with security built in",
		Long: `Gantry runs your pipeline (.gantry.yml) the same way on your machine and in CI:
isolated steps, live logs with secrets masked, artifacts kept by digest,
security gates, signed evidence of every step in a transparency log, and a
gate after every stage. 'gantry server' runs the same for a team, with
agents, webhooks, access control and a web UI.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.PersistentFlags().StringVarP(&g.dir, "dir", "C", "", "run as if started in `DIR` (the repository)")
	root.PersistentFlags().StringVarP(&g.file, "file", "f", ".gantry.yml", "the pipeline `FILE`, relative to the repository")
	root.PersistentFlags().StringVar(&g.stateDir, "state", "", "local state `DIR` (default: .gantry/state in the repository)")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE` (for Gantry's developers)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		g.stopProfile = func() {
			pprof.StopCPUProfile()
			f.Close()
		}
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if g.stopProfile != nil {
			g.stopProfile()
		}
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return gantry.Errorf(gantry.EInvalid, "%v (see 'gantry %s --help')", err, c.Name())
	})
	root.AddCommand(
		newInitCmd(e, g),
		newLintCmd(e, g),
		newRunCmd(e, g),
		newRunsCmd(e, g),
		newLogsCmd(e, g),
		newFindingsCmd(e, g),
		newScanCmd(e, g),
		newVulnDBCmd(e),
		newSchemaCmd(e),
		newKeysCmd(e, g),
		newLedgerCmd(e, g),
		newVerifyCmd(e, g),
		newEvidenceCmd(e, g),
		newChangeCmd(e, g),
		newApproveCmd(e, g),
		newReportCmd(e, g),
		newServerCmd(e),
		newAgentCmd(e),
		newTriggerCmd(e),
		newProjectCmd(e),
		newSecretsCmd(e),
		newPolicyCmd(e, g),
	)
	return root
}
