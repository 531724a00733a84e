package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/spec"
)

func specOptions() spec.Options {
	return spec.Options{Actions: action.Builtins().Names()}
}

// loadPipeline loads and validates the pipeline file. Validation errors
// are printed, one per line with file:line:col, and turned into an exit
// code; other errors are returned.
func loadPipeline(e *env, g *globals) (*spec.Pipeline, error) {
	path, err := g.pipelinePath(e)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, gantry.Errorf(gantry.ENotFound, "no pipeline file at %s (create one with 'gantry init')", displayPath(path))
	}
	// Errors name the file as the user would: relative to where they are.
	p, err := spec.Load(displayPath(path), specOptions())
	if err != nil {
		if reportSpecErrors(e, err) {
			return nil, exitError{ExitInvalid}
		}
		return nil, err
	}
	p.File = path
	return p, nil
}

// loadPlan loads the pipeline file and expands it into a plan, reporting
// validation errors as loadPipeline does.
func loadPlan(e *env, g *globals) (*spec.Pipeline, *spec.Plan, error) {
	p, err := loadPipeline(e, g)
	if err != nil {
		return nil, nil, err
	}
	plan, err := p.Plan()
	if err != nil {
		if reportSpecErrors(e, err) {
			return nil, nil, exitError{ExitInvalid}
		}
		return nil, nil, err
	}
	return p, plan, nil
}

// loadChangeRules loads the repository's change rules
// (.gantry/changes.yml, or the defaults), reporting mistakes in the file as
// loadPipeline does.
func loadChangeRules(e *env, repo string) (*change.Config, error) {
	cfg, err := change.LoadConfig(repo)
	if err != nil {
		if reportSpecErrors(e, err) {
			return nil, exitError{ExitInvalid}
		}
		return nil, err
	}
	return cfg, nil
}

// reportSpecErrors prints validation errors and reports whether err was
// one.
func reportSpecErrors(e *env, err error) bool {
	var list spec.ErrorList
	var one *spec.Error
	switch {
	case errors.As(err, &list):
		for _, se := range list {
			fmt.Fprintln(e.stderr, se.Error())
		}
		fmt.Fprintf(e.stderr, "%d %s\n", len(list), plural(len(list), "error", "errors"))
		return true
	case errors.As(err, &one):
		fmt.Fprintln(e.stderr, one.Error())
		return true
	}
	return false
}

// displayPath shortens an absolute path under the working directory.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && len(rel) < len(p) {
			return rel
		}
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func newLintCmd(e *env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lint",
		Short: "Check the pipeline file and report every mistake with file:line:col",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, plan, err := loadPlan(e, g)
			if err != nil {
				return err
			}
			steps := 0
			for _, st := range plan.Stages {
				steps += len(st.Steps)
			}
			repo, err := g.repo(e)
			if err != nil {
				return err
			}
			rules, err := loadChangeRules(e, repo)
			if err != nil {
				return err
			}
			// A stage that deploys to an environment the rules do not
			// define would be refused at every run: say so now.
			var unknown int
			for _, st := range p.Stages {
				if _, ok := rules.Environment(st.Environment); st.Environment != "" && !ok {
					unknown++
					fmt.Fprintf(e.stderr, "%s:%d:%d: stage %q deploys to %q, which the change rules (%s) do not define: they have %s\n",
						displayPath(p.File), st.Pos.Line, st.Pos.Col, st.Name, st.Environment, change.ConfigPath, strings.Join(rules.EnvironmentNames(), ", "))
				}
			}
			if unknown > 0 {
				return exitError{ExitInvalid}
			}
			fmt.Fprintf(e.stdout, "%s: ok (%d %s, %d %s)\n", displayPath(p.File), len(plan.Stages),
				plural(len(plan.Stages), "stage", "stages"), steps, plural(steps, "step", "steps"))
			if _, err := os.Stat(filepath.Join(repo, filepath.FromSlash(change.ConfigPath))); err == nil {
				fmt.Fprintf(e.stdout, "%s: ok (%d %s)\n", change.ConfigPath, len(rules.Environments),
					plural(len(rules.Environments), "environment", "environments"))
			}
			return nil
		},
	}
}

func newSchemaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of .gantry.yml, for editors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := spec.Schema()
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
}
