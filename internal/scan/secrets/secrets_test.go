package secrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Fake credentials, assembled at run time so that this file does not hold
// them whole (Gantry scans its own repository).
var (
	fakeAWS    = "AKIA" + "Q7GANTRYTESTKEY2"
	fakeGitHub = "ghp_" + "Gantry0Test0Token0Not0Real0a1b2c3d4e"
	fakeDBPass = "Tr0ub4dor" + "-and-3"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func scanDir(t *testing.T, s *Scanner, req *scan.Request) *scan.Result {
	t.Helper()
	res, err := s.Scan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// where lists findings as "path:line rule [commit]".
func where(fs []gantry.Finding) []string {
	out := []string{}
	for _, f := range fs {
		w := fmt.Sprintf("%s:%d %s", f.Location.Path, f.Location.Line, f.RuleID)
		if f.Location.Commit != "" {
			w += " " + f.Location.Commit
		}
		out = append(out, w)
	}
	return out
}

func TestName(t *testing.T) {
	if got := newScanner(t, Options{}).Name(); got != "secrets" {
		t.Errorf("Name() = %q", got)
	}
}

func TestFinding(t *testing.T) {
	root := t.TempDir()
	write(t, root, "deploy/app.env", "REGION=eu-west-1\nAWS_ACCESS_KEY_ID="+fakeAWS+"\n")
	s := newScanner(t, Options{})
	res := scanDir(t, s, &scan.Request{Root: root})
	if len(res.Findings) != 1 {
		t.Fatalf("findings: %v", where(res.Findings))
	}
	f := res.Findings[0]
	sum := sha256hex(fakeAWS)
	want := gantry.Finding{
		Tool:       "secrets",
		RuleID:     "aws-access-token",
		Severity:   gantry.SeverityHigh,
		Confidence: "high",
		Location:   gantry.Location{Path: "deploy/app.env", Line: 2, Column: 19, EndLine: 2, EndColumn: 38},
		Message:    `AWS access token "AKIA…" (sha256:` + sum[:8] + `)`,
		CWE:        []string{"CWE-798"},
		// The fingerprint keys on the hash of the value, not the line.
		Fingerprint: scan.Fingerprint("secrets", "aws-access-token", "deploy/app.env", sum),
		Help:        help,
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("finding (-want +got):\n%s", diff)
	}

	// Moved down the file, the secret keeps its fingerprint.
	write(t, root, "deploy/app.env", "# moved\n\nREGION=eu-west-1\nAWS_ACCESS_KEY_ID="+fakeAWS+"\n")
	moved := scanDir(t, s, &scan.Request{Root: root}).Findings
	if len(moved) != 1 || moved[0].Fingerprint != f.Fingerprint || moved[0].Location.Line != 4 {
		t.Errorf("after moving: %v, fingerprint %q, want line 4 and %q", where(moved), moved[0].Fingerprint, f.Fingerprint)
	}
	if res.Scanned["files"] != 1 {
		t.Errorf("scanned %v", res.Scanned)
	}
}

func TestConnectionStrings(t *testing.T) {
	root := t.TempDir()
	lines := []string{
		"a: postgres://app:" + fakeDBPass + "@db:5432/app",        // 1: found
		"b: postgres://app@db:5432/app",                           // no password
		"c: postgresql://app:password@localhost/app",              // placeholder
		"d: mysql://root:${MYSQL_PASSWORD}@db/app",                // variable
		"e: redis://:" + fakeDBPass + "@cache:6379/0",             // 5: found
		"f: mongodb+srv://u:{{ .Values.pw }}@cluster/x",           // template
		"g: amqps://u:" + fakeDBPass + "@mq:5671/",                // 7: found
		"h: http://user:" + fakeDBPass + "@example.com/",          // not a database
		"i: rediss://default:<password>@cache:6380",               // placeholder
		"j: MONGODB://admin:" + fakeDBPass + "@mongo:27017/admin", // 10: found
	}
	write(t, root, "conf.yaml", strings.Join(lines, "\n")+"\n")
	res := scanDir(t, newScanner(t, Options{}), &scan.Request{Root: root})
	want := []string{
		"conf.yaml:1 " + RuleConnectionString,
		"conf.yaml:5 " + RuleConnectionString,
		"conf.yaml:7 " + RuleConnectionString,
		"conf.yaml:10 " + RuleConnectionString,
	}
	if diff := cmp.Diff(want, where(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, f := range res.Findings {
		// A password gets no prefix in the message.
		if !regexp.MustCompile(`^Connection string password \(sha256:[0-9a-f]{8}\)$`).MatchString(f.Message) {
			t.Errorf("message %q", f.Message)
		}
	}
}

func TestAllowlist(t *testing.T) {
	root := t.TempDir()
	env := "AWS_ACCESS_KEY_ID=" + fakeAWS + "\n"
	write(t, root, "app.env", env)
	write(t, root, "fixtures/app.env", env)
	write(t, root, "docs/examples/app.env", env)
	write(t, root, "vendor/lib/app.env", env)
	write(t, root, "inline.env", "AWS_ACCESS_KEY_ID="+fakeAWS+" # gantry:allow\n")
	write(t, root, "github.env", "TOKEN="+fakeGitHub+"\n")
	write(t, root, "db.env", "DATABASE_URL=postgres://app:"+fakeDBPass+"@db/app\n")

	s := newScanner(t, Options{})
	all := where(scanDir(t, s, &scan.Request{Root: root}).Findings)
	if len(all) != 6 {
		t.Fatalf("without an allowlist: %v", all)
	}

	s = newScanner(t, Options{
		Allowlist: Allowlist{
			Paths:     []string{"fixtures", "docs/**"},
			Regexes:   []string{`^ghp_Gantry0`},
			StopWords: []string{"TR0UB4DOR"},
		},
		SkipDirs: []string{"vendor"},
	})
	got := where(scanDir(t, s, &scan.Request{Root: root}).Findings)
	if diff := cmp.Diff([]string{"app.env:1 aws-access-token"}, got); diff != "" {
		t.Errorf("with an allowlist (-want +got):\n%s", diff)
	}

	s = newScanner(t, Options{IgnoreInlineAllow: true, DisableRules: []string{RuleConnectionString, "github-pat"}})
	got = where(scanDir(t, s, &scan.Request{Root: root}).Findings)
	if !contains(got, "inline.env:1 aws-access-token") {
		t.Errorf("ignoring inline markers: %v", got)
	}
	for _, w := range got {
		if strings.Contains(w, "github-pat") || strings.Contains(w, RuleConnectionString) {
			t.Errorf("disabled rule reported: %s", w)
		}
	}

	if _, err := New(Options{DisableRules: []string{"no-such-rule"}}); err == nil {
		t.Error("New accepted an unknown rule to disable")
	}
	if _, err := New(Options{Allowlist: Allowlist{Regexes: []string{"("}}}); err == nil {
		t.Error("New accepted a bad allowlist regex")
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestSkippedFiles(t *testing.T) {
	root := t.TempDir()
	env := "AWS_ACCESS_KEY_ID=" + fakeAWS + "\n"
	write(t, root, "big.env", env+strings.Repeat("# padding\n", 200))
	write(t, root, "big.bin", "\x7fELF\x00"+strings.Repeat("x", 2000)) // large but binary: skipped
	write(t, root, "sub/.gantry/state/run.json", env)
	write(t, root, "blob.dat", "\x00\x01\x02"+env)
	write(t, root, "package-lock.json", `{"token": "`+fakeGitHub+`"}`+"\n")
	write(t, root, "Cargo.lock", env)
	write(t, root, "logo.png", env)
	write(t, root, ".git/config", env)
	write(t, root, ".gantry/state/run.json", env)
	write(t, root, "testdata/keys.env", env) // test data is scanned by default
	write(t, root, "small.env", env)
	if err := os.Symlink(filepath.Join(root, "small.env"), filepath.Join(root, "link.env")); err != nil {
		t.Fatal(err)
	}

	res := scanDir(t, newScanner(t, Options{MaxFileSize: 1024}), &scan.Request{Root: root})
	want := []string{"small.env:1 aws-access-token", "testdata/keys.env:1 aws-access-token"}
	if diff := cmp.Diff(want, where(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(res.Gaps) != 1 || res.Gaps[0].What != "file: big.env" || !strings.Contains(res.Gaps[0].Reason, "1024-byte limit") {
		t.Errorf("gaps: %+v", res.Gaps)
	}
	if res.Scanned["files"] != 2 || res.Scanned["skipped"] < 5 {
		t.Errorf("scanned: %v", res.Scanned)
	}
}

func TestProgress(t *testing.T) {
	root := t.TempDir()
	for i := range 2500 {
		write(t, root, fmt.Sprintf("d%d/f%d.txt", i%10, i), "nothing here\n")
	}
	var progress bytes.Buffer
	scanDir(t, newScanner(t, Options{}), &scan.Request{Root: root, Progress: &progress})
	want := "secrets: 1000 files scanned\nsecrets: 2000 files scanned\n"
	if progress.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", progress.String(), want)
	}
}

func TestCancel(t *testing.T) {
	root := t.TempDir()
	for i := range 200 {
		write(t, root, fmt.Sprintf("f%d.env", i), "AWS_ACCESS_KEY_ID="+fakeAWS+"\n")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newScanner(t, Options{}).Scan(ctx, &scan.Request{Root: root})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Scan after cancel: %v, want context.Canceled", err)
	}
}

func TestBadRequest(t *testing.T) {
	s := newScanner(t, Options{})
	for _, req := range []*scan.Request{nil, {}, {Root: filepath.Join(t.TempDir(), "missing")}} {
		if _, err := s.Scan(context.Background(), req); err == nil {
			t.Errorf("Scan(%+v) succeeded", req)
		}
	}
	file := filepath.Join(t.TempDir(), "f")
	write(t, filepath.Dir(file), "f", "x")
	if _, err := s.Scan(context.Background(), &scan.Request{Root: file}); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Scan of a file: %v, want an invalid-input error", err)
	}
}

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestHistory(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	git(t, root, "init", "-q", "-b", "main")
	write(t, root, "README.md", "# app\n")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "start")
	base := git(t, root, "rev-parse", "HEAD")

	// A secret added, then removed.
	write(t, root, "config/app.env", "REGION=eu-west-1\nAWS_ACCESS_KEY_ID="+fakeAWS+"\n")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "add config")
	added := git(t, root, "rev-parse", "HEAD")
	write(t, root, "config/app.env", "REGION=eu-west-1\n")
	git(t, root, "commit", "-q", "-am", "remove the key")

	// A secret added and still there, in a file with a space in its name.
	write(t, root, "db settings.env", "X=1\nDATABASE_URL=postgres://app:"+fakeDBPass+"@db/app\n")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "add db")

	s := newScanner(t, Options{})
	tree := scanDir(t, s, &scan.Request{Root: root})
	if diff := cmp.Diff([]string{"db settings.env:2 " + RuleConnectionString}, where(tree.Findings)); diff != "" {
		t.Errorf("tree only (-want +got):\n%s", diff)
	}

	res := scanDir(t, s, &scan.Request{Root: root, History: true})
	want := []string{
		"config/app.env:2 aws-access-token " + added,
		"db settings.env:2 " + RuleConnectionString, // reported once, from the tree
	}
	if diff := cmp.Diff(want, where(res.Findings)); diff != "" {
		t.Errorf("with history (-want +got):\n%s", diff)
	}
	if res.Scanned["commits"] != 4 {
		t.Errorf("scanned %v, want 4 commits", res.Scanned)
	}
	// The same secret in the tree and in history shares its fingerprint.
	if len(res.Findings) == 2 && res.Findings[1].Fingerprint != tree.Findings[0].Fingerprint {
		t.Error("the tree's and history's fingerprints differ")
	}

	// Only the commits after the base: the key was added after it; not
	// after the commit that added it.
	res = scanDir(t, s, &scan.Request{Root: root, History: true, Base: base})
	if !contains(where(res.Findings), "config/app.env:2 aws-access-token "+added) {
		t.Errorf("after base %s: %v", base, where(res.Findings))
	}
	res = scanDir(t, s, &scan.Request{Root: root, History: true, Base: added})
	if diff := cmp.Diff([]string{"db settings.env:2 " + RuleConnectionString}, where(res.Findings)); diff != "" {
		t.Errorf("after the commit that added the key (-want +got):\n%s", diff)
	}

	if _, err := s.Scan(context.Background(), &scan.Request{Root: root, History: true, Base: "--output=/tmp/x"}); err == nil {
		t.Error("a base that looks like an option was accepted")
	}
	if _, err := s.Scan(context.Background(), &scan.Request{Root: root, History: true, Base: "no-such-rev"}); err == nil {
		t.Error("an unknown base was accepted")
	}
}

func TestHistoryWithoutRepository(t *testing.T) {
	root := t.TempDir()
	write(t, root, "a.txt", "hello\n")
	res := scanDir(t, newScanner(t, Options{Git: "git"}), &scan.Request{Root: root, History: true})
	if len(res.Gaps) != 1 || res.Gaps[0].What != "git history" {
		t.Errorf("gaps: %+v", res.Gaps)
	}
	res = scanDir(t, newScanner(t, Options{Git: "no-such-git-binary"}), &scan.Request{Root: root, History: true})
	if len(res.Gaps) != 1 || !strings.Contains(res.Gaps[0].Reason, "not installed") {
		t.Errorf("gaps: %+v", res.Gaps)
	}
}

func TestPathRule(t *testing.T) {
	root := t.TempDir()
	store := "\x30\x82\x01\x00\x02\x01\x03" + strings.Repeat("\x00", 32)
	write(t, root, "certs/client.p12", store)
	res := scanDir(t, newScanner(t, Options{}), &scan.Request{Root: root})
	if len(res.Findings) != 1 {
		t.Fatalf("findings: %v", where(res.Findings))
	}
	f := res.Findings[0]
	want := gantry.Location{Path: "certs/client.p12"}
	if f.RuleID != "pkcs12-file" || f.Location != want || f.Message != "PKCS#12 file (sha256:"+sha256hex(store)[:8]+")" {
		t.Errorf("finding: %+v", f)
	}
}
