package scanstep

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/scan"
)

// fakeScanner returns what it is told to.
type fakeScanner struct {
	res *scan.Result
	err error
}

func (f *fakeScanner) Name() string { return "fake" }
func (f *fakeScanner) Scan(ctx context.Context, req *scan.Request) (*scan.Result, error) {
	if f.res == nil {
		return nil, f.err
	}
	c := *f.res
	c.Findings = append([]gantry.Finding(nil), f.res.Findings...)
	return &c, f.err
}

func finding(rule string, sev gantry.Severity, path string) gantry.Finding {
	return gantry.Finding{Tool: "fake", RuleID: rule, Severity: sev, Confidence: "high",
		Location: gantry.Location{Path: path, Line: 3}, Message: rule + " here",
		Fingerprint: scan.Fingerprint("fake", rule, path, "x")}
}

type recorded struct {
	out       bytes.Buffer
	findings  []gantry.Finding
	artifacts map[string]string
}

func run(t *testing.T, sc scan.Scanner, with map[string]string, waivers string, baseline map[string]bool) (int, *recorded, error) {
	t.Helper()
	ws := t.TempDir()
	if waivers != "" {
		if err := os.MkdirAll(filepath.Join(ws, ".gantry"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, WaiversFile), []byte(waivers), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := action.NewRegistry()
	Register(reg, []Factory{{Name: sc.Name(), New: func() (scan.Scanner, error) { return sc, nil }}}, Options{
		Now: func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
		Baseline: func(context.Context, string) (map[string]bool, error) {
			return baseline, nil
		},
	})
	entry, _ := reg.Lookup("fake")
	rec := &recorded{artifacts: map[string]string{}}
	code, err := entry.Action.Run(context.Background(), &action.Env{
		Step: "scan", Workspace: ws, With: with, Stdout: &rec.out, Stderr: io.Discard,
		Findings: func(_ context.Context, f []gantry.Finding) error { rec.findings = f; return nil },
		Artifact: func(_ context.Context, name string, r io.Reader) (gantry.Artifact, error) {
			b, _ := io.ReadAll(r)
			rec.artifacts[name] = string(b)
			return gantry.Artifact{Path: name, Digest: gantry.DigestBytes(b)}, nil
		},
	})
	return code, rec, err
}

func TestThresholdAndReport(t *testing.T) {
	sc := &fakeScanner{res: &scan.Result{Tool: "fake", Scanned: map[string]int{"files": 2}, Findings: []gantry.Finding{
		finding("R-HIGH", gantry.SeverityHigh, "a.go"), finding("R-LOW", gantry.SeverityLow, "b.go"),
	}}}
	code, rec, err := run(t, sc, nil, "", nil)
	if err != nil || code != 1 {
		t.Fatalf("default threshold: code %d, err %v\n%s", code, err, rec.out.String())
	}
	if !strings.Contains(rec.out.String(), "gate: 1 finding blocking: 1 high") {
		t.Errorf("no gate reason:\n%s", rec.out.String())
	}
	if len(rec.findings) != 2 || !rec.findings[0].New {
		t.Errorf("stored findings %+v: want both, new (no baseline)", rec.findings)
	}
	if !strings.Contains(rec.artifacts["scan.sarif"], `"version": "2.1.0"`) && !strings.Contains(rec.artifacts["scan.sarif"], `"version":"2.1.0"`) {
		t.Errorf("no SARIF artifact: %v", rec.artifacts)
	}

	code, rec, _ = run(t, sc, map[string]string{"fail-on": "critical"}, "", nil)
	if code != 0 || !strings.Contains(rec.out.String(), "gate passed") {
		t.Errorf("fail-on critical: code %d\n%s", code, rec.out.String())
	}
}

func TestWaiverSuppressesExactlyItsFinding(t *testing.T) {
	a, b := finding("R1", gantry.SeverityHigh, "a.go"), finding("R1", gantry.SeverityHigh, "b.go")
	sc := &fakeScanner{res: &scan.Result{Tool: "fake", Scanned: map[string]int{"files": 2}, Findings: []gantry.Finding{a, b}}}
	waivers := "waivers:\n  - fingerprint: " + a.Fingerprint + "\n    reason: a test fixture\n    owner: alice@example.com\n    expires: 2027-01-31\n"
	code, rec, err := run(t, sc, nil, waivers, nil)
	if err != nil || code != 1 {
		t.Fatalf("code %d err %v: b.go still blocks\n%s", code, err, rec.out.String())
	}
	for _, f := range rec.findings {
		if (f.Waiver != nil) != (f.Location.Path == "a.go") {
			t.Errorf("%s waived = %v", f.Location.Path, f.Waiver != nil)
		}
	}
	if !strings.Contains(rec.out.String(), "waiver in force: fingerprint "+a.Fingerprint) {
		t.Errorf("waiver not reported:\n%s", rec.out.String())
	}

	sc.res.Findings = []gantry.Finding{a}
	code, _, _ = run(t, sc, nil, waivers, nil)
	if code != 0 {
		t.Errorf("the only finding is waived, code %d", code)
	}
	expired := strings.Replace(waivers, "2027-01-31", "2026-01-31", 1)
	code, rec, _ = run(t, sc, nil, expired, nil)
	if code != 1 || !strings.Contains(rec.out.String(), "waiver expired") {
		t.Errorf("an expired waiver must not apply: code %d\n%s", code, rec.out.String())
	}
}

func TestNewOnly(t *testing.T) {
	old, fresh := finding("OLD", gantry.SeverityHigh, "a.go"), finding("NEW", gantry.SeverityHigh, "b.go")
	sc := &fakeScanner{res: &scan.Result{Tool: "fake", Scanned: map[string]int{"files": 2}, Findings: []gantry.Finding{old}}}
	baseline := map[string]bool{old.Fingerprint: true}
	if code, rec, _ := run(t, sc, map[string]string{"fail-on-new-only": "true"}, "", baseline); code != 0 {
		t.Errorf("only an existing finding, new-only: code %d\n%s", code, rec.out.String())
	}
	sc.res.Findings = []gantry.Finding{old, fresh}
	if code, _, _ := run(t, sc, map[string]string{"fail-on-new-only": "true"}, "", baseline); code != 1 {
		t.Errorf("a new high finding must block: code %d", code)
	}
}

func TestScanErrorFailsClosed(t *testing.T) {
	code, rec, err := run(t, &fakeScanner{err: errors.New("cannot load packages")}, nil, "", nil)
	if err != nil || code != 1 || !strings.Contains(rec.out.String(), "the scan failed: cannot load packages") {
		t.Errorf("code %d err %v\n%s", code, err, rec.out.String())
	}
}

func TestBadInputs(t *testing.T) {
	sc := &fakeScanner{res: &scan.Result{Tool: "fake"}}
	if _, _, err := run(t, sc, map[string]string{"fail-on": "severe"}, "", nil); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("bad fail-on: %v", err)
	}
	if _, _, err := run(t, sc, nil, "waivers:\n  - reason: x\n", nil); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("bad waivers file: %v", err)
	}
}

func TestExclude(t *testing.T) {
	sc := &fakeScanner{res: &scan.Result{Tool: "fake", Scanned: map[string]int{"files": 2}, Findings: []gantry.Finding{
		finding("R1", gantry.SeverityHigh, "testdata/planted.go"), finding("R1", gantry.SeverityHigh, "examples/vulnerable/main.go"),
	}}}
	code, rec, err := run(t, sc, map[string]string{"exclude": "**/testdata/**, examples/vulnerable/**"}, "", nil)
	if err != nil || code != 0 || len(rec.findings) != 0 || !strings.Contains(rec.out.String(), "2 findings in excluded paths") {
		t.Errorf("code %d err %v findings %v\n%s", code, err, rec.findings, rec.out.String())
	}
}
