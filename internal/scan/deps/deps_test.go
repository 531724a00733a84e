package deps

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// offlineGoEnv keeps the go command govulncheck runs away from the
// network: the fixture module's dependency is vendored.
func offlineGoEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=vendor", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
}

func newScanner(t *testing.T, opts Options) *Scanner {
	t.Helper()
	if opts.DB == "" {
		opts.DB = filepath.Join("testdata", "db")
	}
	if opts.GoEnv == nil {
		opts.GoEnv = offlineGoEnv()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scanProjects(t *testing.T, s *Scanner, with map[string]string) *scan.Result {
	t.Helper()
	res, err := s.Scan(context.Background(), &scan.Request{Root: filepath.Join("testdata", "projects"), With: with})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// defaultScan is the scan of the fixture projects with default options,
// shared by the tests that only read it: each scan runs govulncheck.
var (
	defaultOnce sync.Once
	defaultRes  *scan.Result
)

func defaultScan(t *testing.T) *scan.Result {
	t.Helper()
	defaultOnce.Do(func() { defaultRes = scanProjects(t, newScanner(t, Options{}), nil) })
	if defaultRes == nil {
		t.Fatal("the default scan failed")
	}
	return defaultRes
}

// messagePackage reads "ID: name@version" at the start of a message.
var messagePackage = regexp.MustCompile(`^(\S+): (\S+@\S+?):? `)

// labelOf turns a finding into the form of testdata/projects/labels.json:
// "path package@version ID".
func labelOf(t *testing.T, f gantry.Finding) string {
	t.Helper()
	m := messagePackage.FindStringSubmatch(f.Message)
	if m == nil || m[1] != f.RuleID {
		t.Fatalf("message %q does not start with %s: name@version", f.Message, f.RuleID)
	}
	return f.Location.Path + " " + m[2] + " " + f.RuleID
}

// TestScanFixtures measures the scanner against the labelled fixture
// projects: every vulnerable package version must be found (recall) and
// nothing else reported (precision).
func TestScanFixtures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "projects", "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var labels struct {
		Vulnerable []string `json:"vulnerable"`
	}
	if err := json.Unmarshal(b, &labels); err != nil {
		t.Fatal(err)
	}
	res := defaultScan(t)

	want := map[string]bool{}
	for _, l := range labels.Vulnerable {
		want[l] = true
	}
	got := map[string]bool{}
	for _, f := range res.Findings {
		l := labelOf(t, f)
		if got[l] {
			t.Errorf("reported twice: %s", l)
		}
		got[l] = true
	}
	tp := 0
	for l := range got {
		if want[l] {
			tp++
		} else {
			t.Errorf("false positive: %s", l)
		}
	}
	for l := range want {
		if !got[l] {
			t.Errorf("false negative: %s", l)
		}
	}
	precision := float64(tp) / float64(len(got))
	recall := float64(tp) / float64(len(want))
	t.Logf("fixtures: %d labelled, %d reported, %d true positives: precision %.2f, recall %.2f", len(want), len(got), tp, precision, recall)
	if precision != 1 || recall != 1 {
		t.Errorf("precision %.2f, recall %.2f; want 1.00 and 1.00", precision, recall)
	}

	wantGaps := []string{
		"file: broken/cargo/Cargo.lock",
		"file: broken/npm/package-lock.json",
		"file: broken/yarn/yarn.lock",
		"file: python-req/requirements.txt",
		"file: nolock/package.json",
	}
	if diff := cmp.Diff(wantGaps, gapWhats(res.Gaps)); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"manifests": 6, "packages": 21, "go-modules": 1}, res.Scanned); diff != "" {
		t.Errorf("scanned (-want +got):\n%s", diff)
	}
	if res.Tool != "deps" {
		t.Errorf("tool = %q", res.Tool)
	}
}

func findingByRule(t *testing.T, fs []gantry.Finding, id string) (int, gantry.Finding) {
	t.Helper()
	for i, f := range fs {
		if f.RuleID == id {
			return i, f
		}
	}
	t.Fatalf("no finding for %s", id)
	return 0, gantry.Finding{}
}

// TestScanFindingDetails checks what one finding says: severity from CVSS
// (taken from an alias), CWE, help, location and fingerprint.
func TestScanFindingDetails(t *testing.T) {
	res := defaultScan(t)
	tests := []struct {
		id       string
		severity gantry.Severity
		path     string
		line     int
		help     string
		cwe      []string
		key      string
		message  []string
	}{
		{"GO-2099-0001", gantry.SeverityCritical, "gomod/go.mod", 7, "upgrade to v1.2.0", []string{"CWE-400"}, "example.com/vulnlib@v1.0.0",
			[]string{"CVSS 7.5", "aliases CVE-2099-0001, GHSA-2099-gant-0001", "reachable: example.com/vulnlib.Parse called from example.com/app (main.go:15)"}},
		{"GANTRY-TEST-0040", gantry.SeverityCritical, "maven/pom.xml", 11, "upgrade to 2.15.0", []string{"CWE-502", "CWE-917"}, "com.acme:acme-log4@2.14.1", []string{"CVSS 10.0"}},
		{"GANTRY-TEST-0003", gantry.SeverityHigh, "npm/package-lock.json", 23, "upgrade to a version after 0.5.0", []string{"CWE-78"}, "acme-devtool@0.5.0", []string{"CVSS 7.8"}},
		{"GANTRY-TEST-0020", gantry.SeverityHigh, "poetry/poetry.lock", 13, "no fixed version is known: remove or replace acme-django", []string{"CWE-89"}, "acme-django@3.2.1", []string{"advisory: high"}},
		{"GANTRY-TEST-0010", gantry.SeverityMedium, "python-req/requirements.txt", 2, "upgrade to 2.20.0", []string{"CWE-522"}, "acme-requests@2.19.0", []string{"CVSS 6.1", "aliases PYSEC-2099-10"}},
		{"GANTRY-TEST-0033", gantry.SeverityMedium, "cargo/Cargo.lock", 6, "upgrade to 2.4.2", nil, "acme-memchr@2.4.1", []string{"CVSS 5.3"}},
		{"GANTRY-TEST-0022", gantry.SeverityMedium, "poetry/poetry.lock", 34, "upgrade to 7.0.1", []string{"CWE-379"}, "acme-pytest@7.0.0", []string{"no CVSS"}},
		{"GANTRY-TEST-0004", gantry.SeverityLow, "npm/package-lock.json", 37, "upgrade to 1.0.0", nil, "acme-core@1.0.0-beta.2", []string{"CVSS 3.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			_, f := findingByRule(t, res.Findings, tt.id)
			if f.Tool != "deps" || f.Severity != tt.severity || f.Location.Path != tt.path || f.Location.Line != tt.line || f.Help != tt.help {
				t.Errorf("finding = %+v\nwant severity %s at %s:%d, help %q", f, tt.severity, tt.path, tt.line, tt.help)
			}
			if diff := cmp.Diff(tt.cwe, f.CWE); diff != "" {
				t.Errorf("CWE (-want +got):\n%s", diff)
			}
			if want := scan.Fingerprint("deps", tt.id, tt.path, tt.key); f.Fingerprint != want {
				t.Errorf("fingerprint = %s, want %s", f.Fingerprint, want)
			}
			for _, m := range tt.message {
				if !strings.Contains(f.Message, m) {
					t.Errorf("message %q lacks %q", f.Message, m)
				}
			}
		})
	}
}

// TestScanReachability checks how govulncheck's call-level analysis rates
// the Go findings and orders them: a called vulnerable symbol raises the
// severity one level, an imported package keeps it, a module whose
// vulnerable package is not imported lowers it; within one severity,
// called comes before imported.
func TestScanReachability(t *testing.T) {
	res := defaultScan(t)
	type row struct {
		ID       string
		Severity gantry.Severity
		Reach    string
	}
	var got []row
	for _, f := range res.Findings {
		if f.Location.Path != "gomod/go.mod" {
			continue
		}
		reach := "none"
		for _, r := range []string{"reachable: ", "imported (", "required, "} {
			if strings.Contains(f.Message, "; "+r) {
				reach = strings.TrimRight(r, " :(,")
			}
		}
		got = append(got, row{f.RuleID, f.Severity, reach})
	}
	want := []row{
		{"GO-2099-0001", gantry.SeverityCritical, "reachable"}, // high, called
		{"GO-2099-0006", gantry.SeverityHigh, "reachable"},     // medium, called
		{"GO-2099-0007", gantry.SeverityHigh, "reachable"},     // medium, called; in the Go database only
		{"GO-2099-0002", gantry.SeverityHigh, "imported"},      // high, package imported, Decode not called
		{"GO-2099-0003", gantry.SeverityLow, "required"},       // medium, module never imported
		{"GO-2099-0005", gantry.SeverityLow, "required"},       // medium, package xmlish not imported
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Go findings in order (-want +got):\n%s", diff)
	}
	// Across the whole result, severities never increase.
	for i := 1; i < len(res.Findings); i++ {
		if res.Findings[i].Severity.Rank() > res.Findings[i-1].Severity.Rank() {
			t.Errorf("finding %d (%s) is more severe than finding %d (%s)", i, res.Findings[i].RuleID, i-1, res.Findings[i-1].RuleID)
		}
	}
	_, f := findingByRule(t, res.Findings, "GO-2099-0002")
	if !strings.Contains(f.Message, "imported (example.com/vulnlib/codec), no vulnerable symbol called") {
		t.Errorf("imported message = %q", f.Message)
	}
}

func TestScanWithoutReachability(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		with map[string]string
	}{
		"option": {opts: Options{NoReachability: true}},
		"with":   {with: map[string]string{"reachability": "false"}},
	} {
		t.Run(name, func(t *testing.T) {
			res := scanProjects(t, newScanner(t, tc.opts), tc.with)
			want := map[string]gantry.Severity{
				"GO-2099-0001": gantry.SeverityHigh,
				"GO-2099-0002": gantry.SeverityHigh,
				"GO-2099-0003": gantry.SeverityMedium,
				"GO-2099-0005": gantry.SeverityMedium,
				"GO-2099-0006": gantry.SeverityMedium,
			}
			got := map[string]gantry.Severity{}
			for _, f := range res.Findings {
				if f.Location.Path == "gomod/go.mod" {
					got[f.RuleID] = f.Severity
					if strings.Contains(f.Message, "reachable") || strings.Contains(f.Message, "imported") {
						t.Errorf("message without analysis: %q", f.Message)
					}
				}
			}
			// GO-2099-0007 is only in the Go database: without govulncheck
			// it is not seen.
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Go findings (-want +got):\n%s", diff)
			}
			if res.Scanned["go-modules"] != 0 {
				t.Errorf("go-modules = %d, want 0", res.Scanned["go-modules"])
			}
		})
	}
}

func TestScanBadWith(t *testing.T) {
	s := newScanner(t, Options{})
	_, err := s.Scan(context.Background(), &scan.Request{Root: t.TempDir(), With: map[string]string{"reachability": "maybe"}})
	if gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Scan error = %v, want kind invalid", err)
	}
}

func TestNewWithoutDB(t *testing.T) {
	if _, err := New(Options{}); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("New(no DB) error = %v, want kind invalid", err)
	}
}

func TestScanMissingDB(t *testing.T) {
	s := newScanner(t, Options{DB: filepath.Join(t.TempDir(), "none")})
	_, err := s.Scan(context.Background(), &scan.Request{Root: filepath.Join("testdata", "projects")})
	if gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("Scan without a database: error = %v, want kind not-found", err)
	}
}

// copyDB copies the fixture database, zipping each ecosystem named in
// zipped into an all.zip as OSV's export ships it, and leaving out the
// ecosystems in drop and, if noGo, the Go database.
func copyDB(t *testing.T, zipped, drop []string, noGo bool) string {
	t.Helper()
	src := filepath.Join("testdata", "db")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if noGo && parts[0] == "go" {
			return filepath.SkipDir
		}
		if len(parts) >= 2 && parts[0] == "osv" && slices.Contains(drop, parts[1]) {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(parts) == 3 && parts[0] == "osv" && slices.Contains(zipped, parts[1]) {
			zp := filepath.Join(dst, "osv", parts[1], "all.zip")
			return appendZip(zp, parts[2], b)
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func appendZip(zp, name string, b []byte) error {
	files := map[string][]byte{name: b}
	if zr, err := zip.OpenReader(zp); err == nil {
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			c, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			files[f.Name] = c
		}
		zr.Close()
	}
	out, err := os.Create(zp)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	for n, c := range files {
		w, err := zw.Create(n)
		if err != nil {
			return err
		}
		w.Write(c)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}

func TestScanZippedDB(t *testing.T) {
	// The same findings from OSV's all.zip form of the database.
	loose := defaultScan(t)
	db := copyDB(t, []string{"Go", "npm", "PyPI", "crates.io", "Maven"}, nil, false)
	zipped := scanProjects(t, newScanner(t, Options{DB: db}), nil)
	if diff := cmp.Diff(loose.Findings, zipped.Findings); diff != "" {
		t.Errorf("findings from zips differ from findings from loose files (-loose +zipped):\n%s", diff)
	}
}

func TestScanMissingData(t *testing.T) {
	db := copyDB(t, nil, []string{"PyPI", "Maven"}, true)
	res := scanProjects(t, newScanner(t, Options{DB: db}), nil)
	var whats []string
	for _, g := range res.Gaps {
		if strings.HasPrefix(g.What, "vulnerabilities: ") || strings.HasPrefix(g.What, "reachability: ") {
			whats = append(whats, g.What)
		}
	}
	want := []string{"vulnerabilities: Maven", "vulnerabilities: PyPI", "reachability: gomod/go.mod"}
	if diff := cmp.Diff(want, whats); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Location.Path, "poetry/") || strings.HasPrefix(f.Location.Path, "maven/") {
			t.Errorf("finding without data: %s", f.Message)
		}
	}
}

func TestScanReachabilityFailureIsAGap(t *testing.T) {
	// A go command that cannot load the module (the vendor directory is
	// ignored and the proxy is off): the OSV findings stay, the analysis
	// is a gap.
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOMODCACHE="+t.TempDir())
	res := scanProjects(t, newScanner(t, Options{GoEnv: env}), nil)
	found := false
	for _, g := range res.Gaps {
		if g.What == "reachability: gomod/go.mod" {
			found = true
		}
	}
	if !found {
		t.Errorf("no reachability gap in %+v", res.Gaps)
	}
	_, f := findingByRule(t, res.Findings, "GO-2099-0001")
	if f.Severity != gantry.SeverityHigh {
		t.Errorf("GO-2099-0001 without analysis: %s, want high", f.Severity)
	}
}

func TestScanDatabaseAge(t *testing.T) {
	// The fixture database was never updated: its age is unknown.
	res := scanProjects(t, newScanner(t, Options{MaxAge: 24 * time.Hour, NoReachability: true}), nil)
	found := false
	for _, g := range res.Gaps {
		if g.What == "vulnerability database" {
			found = true
		}
	}
	if !found {
		t.Errorf("no database age gap in %+v", res.Gaps)
	}
}

func TestName(t *testing.T) {
	if got := newScanner(t, Options{}).Name(); got != "deps" {
		t.Errorf("Name = %q", got)
	}
}
