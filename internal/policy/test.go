package policy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Test runs the Rego unit tests (rules named test_*) of the policies in
// dirs, which are files or directories searched recursively, together with
// the built-in library's own tests, and prints the results to w as `opa
// test` does. It reports passed only when every test passed; a policy that
// does not parse or compile fails the run with its errors printed. The
// error is for what kept the tests from running at all.
func Test(ctx context.Context, dirs []string, w io.Writer) (passed bool, err error) {
	srcs, err := load(dirs, true)
	if err != nil {
		return false, err
	}
	srcs = append(srcs, librarySources(true)...)
	slices.SortFunc(srcs, func(a, b Source) int { return strings.Compare(a.Name, b.Name) })

	modules := map[string]*ast.Module{}
	var broken []string
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	for _, s := range srcs {
		m, err := ast.ParseModuleWithOpts(s.Name, string(s.Data), popts)
		if err != nil {
			broken = append(broken, astReasons("parse", err)...)
			continue
		}
		if m != nil {
			modules[s.Name] = m
		}
	}
	if broken != nil {
		return false, printBroken(w, broken)
	}

	// The gates' own capabilities: a test must not pass with a built-in
	// that a gate refuses.
	compiler := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(true)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		SetTimeout(DefaultTimeout).
		CapturePrintOutput(true).
		EnableTracing(false)
	results, err := runner.RunTests(ctx, nil)
	if err != nil {
		return false, printBroken(w, astReasons("compile", err))
	}

	// Count as the results pass to the reporter, which prints them.
	forward := make(chan *tester.Result)
	var ran, bad int
	go func() {
		defer close(forward)
		for r := range results {
			if !r.Skip {
				ran++
				if !r.Pass() {
					bad++
				}
			}
			forward <- r
		}
	}()
	if err := (tester.PrettyReporter{Output: w, FailureLine: true}).Report(forward); err != nil {
		return false, fmt.Errorf("report policy tests: %w", err)
	}
	if ctx.Err() != nil {
		return false, fmt.Errorf("policy tests: %w", ctx.Err())
	}
	return bad == 0 && ran > 0, nil
}

func printBroken(w io.Writer, reasons []string) error {
	for _, r := range reasons {
		if _, err := fmt.Fprintln(w, r); err != nil {
			return fmt.Errorf("report policy tests: %w", err)
		}
	}
	return nil
}
