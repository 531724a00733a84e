// Package scanstep turns Gantry's security scanners into pipeline steps:
// `uses: sast` and the like. A scan step runs its scanner on the step's
// directory, marks what is new against the base branch, applies the
// repository's waivers, prints a table, stores the findings and a SARIF
// report, and fails when its threshold is crossed or the scan could not
// be done: no evidence is not a pass.
package scanstep

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/glob"
	"gantry.dev/gantry/internal/scan"
)

// WaiversFile is where a repository keeps its waivers.
const WaiversFile = ".gantry/waivers.yml"

// Options configure the scan steps.
type Options struct {
	// Baseline returns the fingerprints found by the step of this name in
	// the last successful run on the base branch, or nil when there is no
	// such run (then every finding is new).
	Baseline func(ctx context.Context, step string) (map[string]bool, error)
	// ChangeBase returns the revision the change started from (the
	// merge-base with the base branch), or "" when there is none: the
	// secrets step then scans the change's commits as well as the tree.
	ChangeBase func(ctx context.Context, dir string) string
	// Waivers is the waivers file; default WaiversFile in the workspace.
	Waivers string
	Now     func() time.Time
	Version string
}

// Factory makes a scanner. Scanners are made when a step first uses one:
// some load hundreds of rules, which a run without that step should not
// pay for.
type Factory struct {
	Name string
	// Kind is what the step's attestation says it is: gantry.KindVulns
	// for a dependency scanner; default gantry.KindScan.
	Kind string
	New  func() (scan.Scanner, error)
}

// Register makes each scanner the action of its name in reg, replacing
// the entry that only named it.
func Register(reg *action.Registry, factories []Factory, opts Options) {
	for _, f := range factories {
		summary := ""
		if e, ok := reg.Lookup(f.Name); ok {
			summary = e.Summary
		}
		kind := cmp.Or(f.Kind, gantry.KindScan)
		reg.Register(action.Entry{Name: f.Name, Summary: summary, Kind: kind, Action: &step{factory: f, opts: opts}})
	}
}

type step struct {
	factory Factory
	opts    Options

	once sync.Once
	sc   scan.Scanner
	err  error
}

// Run scans the step's directory and returns 0 when the threshold passes.
func (s *step) Run(ctx context.Context, env *action.Env) (int, error) {
	s.once.Do(func() { s.sc, s.err = s.factory.New() })
	if s.err != nil {
		return -1, s.err
	}
	th, err := scan.ParseThreshold(env.With)
	if err != nil {
		return -1, err
	}
	now := time.Now
	if s.opts.Now != nil {
		now = s.opts.Now
	}
	waiversPath := s.opts.Waivers
	if waiversPath == "" {
		waiversPath = filepath.Join(env.Workspace, WaiversFile)
	}
	waivers, err := scan.LoadWaivers(waiversPath)
	if err != nil {
		return -1, err
	}

	req := &scan.Request{
		Root:     env.Workspace,
		With:     ScannerInputs(env.With),
		History:  env.With["history"] == "true",
		Progress: env.Stderr,
	}
	// A secret added and removed again within the change is still a leak:
	// the secrets step reads the change's commits unless told not to.
	if s.sc.Name() == "secrets" && env.With["history"] != "false" && !req.History && s.opts.ChangeBase != nil {
		if base := s.opts.ChangeBase(ctx, env.Workspace); base != "" {
			req.History, req.Base = true, base
			fmt.Fprintf(env.Stdout, "scanning the commits of the change since %.12s too\n", base)
		}
	}
	res, scanErr := s.sc.Scan(ctx, req)
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if scanErr == nil && res != nil {
		if n := exclude(res, env.With["exclude"]); n > 0 {
			fmt.Fprintf(env.Stdout, "%d %s in excluded paths (%s) not counted\n", n, plural(n, "finding", "findings"), env.With["exclude"])
		}
		if s.opts.Baseline != nil {
			baseline, err := s.opts.Baseline(ctx, env.Step)
			if err != nil {
				return -1, fmt.Errorf("read the base branch's findings: %w", err)
			}
			scan.MarkNew(res.Findings, baseline)
		} else {
			scan.MarkNew(res.Findings, nil)
		}
		var report scan.WaiverReport
		res.Findings, report = waivers.Apply(res.Findings, now())
		writeWaiverReport(env, report)
		if err := scan.WriteTable(env.Stdout, []*scan.Result{res}, scan.TableOptions{}); err != nil {
			return -1, err
		}
		if err := env.Findings(ctx, res.Findings); err != nil {
			return -1, err
		}
		var sarif bytes.Buffer
		if err := scan.WriteSARIF(&sarif, []*scan.Result{res}, scan.ToolInfo{Version: s.opts.Version}); err != nil {
			return -1, err
		}
		if _, err := env.Artifact(ctx, env.Step+".sarif", &sarif); err != nil {
			return -1, err
		}
		// What the scan made (an SBOM) is an artifact of the run too.
		for _, out := range res.Outputs {
			if err := storeOutput(ctx, env, out); err != nil {
				return -1, err
			}
			fmt.Fprintf(env.Stdout, "stored %s\n", out)
		}
	}
	verdict := th.Check(res, scanErr)
	if verdict.Passed() {
		fmt.Fprintf(env.Stdout, "gate passed (%s)\n", th)
		return 0, nil
	}
	for _, r := range verdict.Reasons() {
		fmt.Fprintf(env.Stdout, "gate: %s\n", r)
	}
	return 1, nil
}

// storeOutput stores a file the scan wrote, relative to the workspace, as
// an artifact of the step.
func storeOutput(ctx context.Context, env *action.Env, rel string) error {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return fmt.Errorf("scan output %q is not inside the workspace", rel)
	}
	f, err := os.Open(filepath.Join(env.Workspace, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("store scan output: %w", err)
	}
	defer f.Close()
	_, err = env.Artifact(ctx, rel, f)
	return err
}

// stepInputs are the inputs the step itself reads; the scanner gets the
// others, and may refuse those it does not know.
var stepInputs = []string{"fail-on", "fail-on-new-only", "fail-on-gap", "history"}

// ScannerInputs returns a step's inputs without those the step itself
// reads.
func ScannerInputs(with map[string]string) map[string]string {
	out := make(map[string]string, len(with))
	for k, v := range with {
		if !slices.Contains(stepInputs, k) {
			out[k] = v
		}
	}
	return out
}

// exclude drops the findings under the comma-separated path globs of a
// step's `exclude` input (fixtures planted on purpose, say) and returns
// how many it dropped.
func exclude(res *scan.Result, patterns string) int {
	var globs []string
	for _, p := range strings.Split(patterns, ",") {
		if p = strings.TrimSpace(p); p != "" {
			globs = append(globs, p)
		}
	}
	if len(globs) == 0 {
		return 0
	}
	kept := res.Findings[:0]
	for _, f := range res.Findings {
		if !slices.ContainsFunc(globs, func(g string) bool { return glob.Match(g, f.Location.Path) }) {
			kept = append(kept, f)
		}
	}
	n := len(res.Findings) - len(kept)
	res.Findings = kept
	return n
}

// writeWaiverReport says which waivers were in force and which expired.
func writeWaiverReport(env *action.Env, r scan.WaiverReport) {
	for _, u := range r.InForce {
		fmt.Fprintf(env.Stdout, "waiver in force: %s (%d %s; owner %s; until %s): %s\n",
			waiverName(u.Waiver), u.Count, plural(u.Count, "finding", "findings"), u.Waiver.Owner, scan.FormatExpiry(u.Waiver.Expires), u.Waiver.Reason)
	}
	for _, u := range r.ExpiredMatched {
		fmt.Fprintf(env.Stdout, "waiver expired: %s (expired %s; %d %s it matched count again)\n",
			waiverName(u.Waiver), scan.FormatExpiry(u.Waiver.Expires), u.Count, plural(u.Count, "finding", "findings"))
	}
}

func waiverName(w gantry.Waiver) string {
	if w.Fingerprint != "" {
		return "fingerprint " + w.Fingerprint
	}
	if w.Path != "" {
		return "rule " + w.RuleID + " in " + w.Path
	}
	return "rule " + w.RuleID
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
