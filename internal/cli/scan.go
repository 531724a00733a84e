package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scan/deps"
	"gantry.dev/gantry/internal/scan/iac"
	"gantry.dev/gantry/internal/scan/license"
	"gantry.dev/gantry/internal/scan/sast"
	"gantry.dev/gantry/internal/scan/sbom"
	"gantry.dev/gantry/internal/scan/secrets"
	"gantry.dev/gantry/internal/scan/testcode"
	"gantry.dev/gantry/internal/scanstep"
)

// scanConfig is what the built-in scanners are set up with.
type scanConfig struct {
	vulnDB string // the offline vulnerability database directory
}

// scanners returns how to make each of this build's scanners.
func scanners(cfg scanConfig) []scanstep.Factory {
	return []scanstep.Factory{
		{Name: "sast", New: func() (scan.Scanner, error) { return sast.New(sast.DefaultOptions()) }},
		{Name: "secrets", New: func() (scan.Scanner, error) { return secrets.New(secrets.Options{}) }},
		{Name: "deps", Kind: gantry.KindVulns, New: func() (scan.Scanner, error) { return deps.New(deps.Options{DB: cfg.vulnDB}) }},
		{Name: "sbom", New: func() (scan.Scanner, error) { return sbom.New(sbom.Options{ToolVersion: Version}) }},
		{Name: "license", New: func() (scan.Scanner, error) { return license.New(license.Options{}) }},
		{Name: "iac", New: func() (scan.Scanner, error) { return iac.New(iac.Options{}) }},
		{Name: "test-code", New: func() (scan.Scanner, error) { return testcode.New(testcode.Options{}) }},
	}
}

// scanKinds lists the kinds `gantry scan` knows, for messages.
func scanKinds(list []scanstep.Factory) string {
	names := make([]string, len(list))
	for i, f := range list {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

type scanFlags struct {
	format  string
	output  string
	failOn  string
	history bool
	with    []string
	vulnDB  string
}

func newScanCmd(e *env, g *globals) *cobra.Command {
	f := &scanFlags{}
	cmd := &cobra.Command{
		Use:   "scan KIND [PATH]",
		Short: "Run one security scanner on a directory (default: the repository)",
		Long: `Run a built-in security scanner, as a pipeline step with "uses: KIND" would:
the findings that stand, the waived ones with their waivers
(.gantry/waivers.yml in PATH), and what the scanner could not cover.
The exit code is 1 when the gate threshold (--fail-on, default high) is
crossed or the scan could not be done.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd.Context(), e, g, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "table", "output `FORMAT`: table, sarif or json")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "", "lowest `SEVERITY` that fails: info, low, medium, high, critical or none")
	fl.BoolVar(&f.history, "history", false, "secrets: scan the git history too")
	fl.StringArrayVar(&f.with, "with", nil, "a scanner input as `KEY=VALUE`, as in a step's with: (repeatable)")
	fl.StringVar(&f.vulnDB, "vulndb", "", "deps: the offline vulnerability database `DIR`")
	return cmd
}

func runScan(ctx context.Context, e *env, g *globals, f *scanFlags, args []string) error {
	root := ""
	if len(args) == 2 {
		abs, err := filepath.Abs(args[1])
		if err != nil {
			return gantry.Errorf(gantry.EInvalid, "scan %s: %w", args[1], err)
		}
		root = abs
	} else {
		dir, err := g.repo(e)
		if err != nil {
			return err
		}
		root = dir
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return gantry.Errorf(gantry.EInvalid, "scan %s: not a directory", root)
	}
	with := map[string]string{}
	for _, kv := range f.with {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return gantry.Errorf(gantry.EInvalid, "--with %q: expected KEY=VALUE", kv)
		}
		with[k] = v
	}
	if f.failOn != "" {
		with["fail-on"] = f.failOn
	}
	if f.history {
		with["history"] = "true"
	}
	th, err := scan.ParseThreshold(with)
	if err != nil {
		return err
	}
	list := scanners(scanConfig{vulnDB: vulnDBDir(e, f.vulnDB)})
	var sc scan.Scanner
	for _, s := range list {
		if s.Name == args[0] {
			made, err := s.New()
			if err != nil {
				return err
			}
			sc = made
		}
	}
	if sc == nil {
		return gantry.Errorf(gantry.EInvalid, "no scanner %q in this build (there are: %s)", args[0], scanKinds(list))
	}
	waivers, err := scan.LoadWaivers(filepath.Join(root, scanstep.WaiversFile))
	if err != nil {
		return err
	}

	res, scanErr := sc.Scan(ctx, &scan.Request{Root: root, With: scanstep.ScannerInputs(with), History: f.history, Progress: e.stderr})
	if scanErr == nil && res != nil {
		scan.MarkNew(res.Findings, nil)
		res.Findings, _ = waivers.Apply(res.Findings, time.Now())
	}
	out := e.stdout
	if f.output != "" {
		file, err := os.Create(f.output)
		if err != nil {
			return fmt.Errorf("create %s: %w", f.output, err)
		}
		defer file.Close()
		out = file
	}
	if res != nil {
		if err := writeReport(out, f.format, res, termWidth(e)); err != nil {
			return err
		}
	}
	verdict := th.Check(res, scanErr)
	if !verdict.Passed() {
		for _, r := range verdict.Reasons() {
			fmt.Fprintf(e.stderr, "gate: %s\n", r)
		}
		if scanErr != nil {
			return scanErr
		}
		return exitError{ExitFailed}
	}
	return nil
}

func writeReport(w io.Writer, format string, res *scan.Result, width int) error {
	switch format {
	case "table":
		return scan.WriteTable(w, []*scan.Result{res}, scan.TableOptions{Width: width})
	case "sarif":
		return scan.WriteSARIF(w, []*scan.Result{res}, scan.ToolInfo{Version: Version})
	case "json":
		return writeJSON(w, res)
	}
	return gantry.Errorf(gantry.EInvalid, "unknown format %q (want table, sarif or json)", format)
}

// vulnDBDir is the vulnerability database to use: the flag, then
// GANTRY_VULNDB, then the user's cache directory.
func vulnDBDir(e *env, flag string) string {
	if flag != "" {
		return flag
	}
	for _, kv := range e.environ {
		if v, ok := strings.CutPrefix(kv, "GANTRY_VULNDB="); ok && v != "" {
			return v
		}
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "gantry", "vulndb")
	}
	return filepath.Join(os.TempDir(), "gantry-vulndb")
}
