package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

// copyExamples copies the named examples and the vulnerability snapshot
// they share into a temporary directory, so that runs leave the source
// tree as it was.
func copyExamples(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range append(names, "vulndb") {
		src := filepath.Join("..", "..", "examples", name)
		if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(src)); err != nil {
			t.Fatalf("copy %s: %v", src, err)
		}
		// A developer's local runs of the example are not part of it.
		for _, local := range []string{".gantry/state", "bin", "coverage.out"} {
			if err := os.RemoveAll(filepath.Join(dir, name, local)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// gantry runs the CLI in-process and returns its exit code and output.
func gantryIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb, environ: os.Environ(),
		getwd: os.Getwd, isTerminal: func(io.Writer) bool { return false },
	})
	return code, out.String(), errb.String()
}

// TestVulnerableExampleFails is the security gates end to end: the planted
// problems of examples/vulnerable are found by sast, secrets, deps and
// iac, the pipeline fails, and no secret value is printed or stored.
func TestVulnerableExampleFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and scans an example")
	}
	dir := copyExamples(t, "vulnerable")
	ex := filepath.Join(dir, "vulnerable")
	code, out, errOut := gantryIn(t, "run", "--plain", "-C", ex)
	if code != ExitFailed {
		t.Fatalf("gantry run exited %d, want %d\n%s%s", code, ExitFailed, out, errOut)
	}
	for _, step := range []string{"sast", "secrets", "deps", "iac"} {
		if !strings.Contains(out, "✗ "+step+" failed") {
			t.Errorf("step %s did not fail:\n%s", step, out)
		}
	}
	code, js, errOut := gantryIn(t, "findings", "--format", "json", "-C", ex)
	if code != 0 {
		t.Fatalf("gantry findings: %d %s", code, errOut)
	}
	found := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(js), "\n") {
		var rec gantry.FindingRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("findings JSON %q: %v", line, err)
		}
		found[rec.Tool+" "+rec.RuleID] = true
	}
	for _, want := range []string{
		"sast G701", "sast G702", "sast G402",
		"secrets aws-access-token", "secrets connection-string-password",
		"deps GO-2021-0113",
		"iac GIAC-DF-001", "iac GIAC-DF-002", "iac GIAC-DF-003", "iac GIAC-DF-004", "iac GIAC-K8S-001", "iac GIAC-K8S-002",
	} {
		if !found[want] {
			t.Errorf("no %s finding; found %v", want, found)
		}
	}

	// The planted values: never in what gantry printed, logged, reported
	// or stored. The build's own output is the user's binary, with the
	// planted constant compiled in; everything else is Gantry's.
	st, err := sqlite.Open(context.Background(), filepath.Join(ex, ".gantry", "state", "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(context.Background(), gantry.RunFilter{Limit: 1})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	steps, err := st.Steps(context.Background(), runs[0].ID)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	userOutputs := map[string]bool{}
	for _, s := range steps {
		if s.Uses == "" {
			for _, a := range s.Outputs {
				userOutputs[a.Digest.Hex()] = true
			}
		}
	}
	_, logs, _ := gantryIn(t, "logs", "-C", ex, "latest")
	_, sarif, _ := gantryIn(t, "findings", "--format", "sarif", "-C", ex)
	for _, secret := range []string{"AKIA2VQ7LZ3MHQ5SXKRT", "Vq7pLz3mHq5sXkRt"} {
		for name, text := range map[string]string{"run output": out, "logs": logs, "findings": js, "SARIF": sarif} {
			if strings.Contains(text, secret) {
				t.Errorf("%s carries the planted secret %s", name, secret)
			}
		}
		_ = filepath.WalkDir(filepath.Join(ex, ".gantry", "state"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || userOutputs[d.Name()] {
				return err
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
				t.Errorf("stored file %s carries the planted secret %s", p, secret)
			}
			return nil
		})
	}
}

// TestWebappExamplePasses runs the example service's whole pipeline,
// security gates included: it must pass.
func TestWebappExamplePasses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds, tests and scans an example")
	}
	dir := copyExamples(t, "webapp")
	code, out, errOut := gantryIn(t, "run", "--plain", "-C", filepath.Join(dir, "webapp"))
	if code != 0 {
		t.Fatalf("gantry run exited %d\n%s%s", code, out, errOut)
	}
	for _, step := range []string{"build", "test", "sast", "secrets", "deps", "sbom", "license", "iac", "test-code"} {
		if !strings.Contains(out, "✓ "+step+" succeeded") {
			t.Errorf("step %s did not succeed:\n%s", step, out)
		}
	}
	// The SBOM is an artifact of the run, and covers the built binary.
	ex := filepath.Join(dir, "webapp")
	st, err := sqlite.Open(context.Background(), filepath.Join(ex, ".gantry", "state", "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.Runs(context.Background(), gantry.RunFilter{Limit: 1})
	arts, err := st.Artifacts(context.Background(), gantry.ArtifactFilter{RunID: runs[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	var bom gantry.Artifact
	for _, a := range arts {
		if a.Path == "sbom.cdx.json" {
			bom = a.Artifact
		}
	}
	b, err := os.ReadFile(filepath.Join(ex, "sbom.cdx.json"))
	if err != nil || gantry.DigestBytes(b) != bom.Digest {
		t.Fatalf("the SBOM artifact %+v does not match the file written (%v)", bom, err)
	}
	for _, want := range []string{`"specVersion": "1.6"`, `"artifact:bin/webapp"`, `"pkg:golang/modernc.org/sqlite@v`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("SBOM lacks %s", want)
		}
	}

	// The binary's provenance verifies here, and from an exported bundle
	// and the public key in a directory with no .gantry at all.
	t.Setenv("GANTRY_TRUST_DIR", t.TempDir())
	bin := filepath.Join(ex, "bin", "webapp")
	if code, out, errOut := gantryIn(t, "verify", "-C", ex, bin); code != 0 || !strings.Contains(out, "step        build") {
		t.Fatalf("gantry verify exited %d\n%s%s", code, out, errOut)
	}
	away := t.TempDir()
	bundle, pub := filepath.Join(away, "evidence.tar"), filepath.Join(away, "signing.pub")
	if code, _, errOut := gantryIn(t, "evidence", "export", "-C", ex, "-o", bundle); code != 0 {
		t.Fatalf("gantry evidence export exited %d: %s", code, errOut)
	}
	code, key, errOut := gantryIn(t, "keys", "public", "-C", ex)
	if code != 0 {
		t.Fatalf("gantry keys public exited %d: %s", code, errOut)
	}
	if err := os.WriteFile(pub, []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(away, "webapp")
	if err := os.CopyFS(filepath.Join(away, "bin"), os.DirFS(filepath.Join(ex, "bin"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(away, "bin", "webapp"), copied); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GANTRY_TRUST_DIR", t.TempDir()) // another machine
	code, out, errOut = gantryIn(t, "verify", "-C", away, "--bundle", bundle, "--key", pub, "webapp")
	if code != 0 || !strings.Contains(out, "webapp  sha256:") || !strings.Contains(out, ": verified") {
		t.Fatalf("gantry verify --bundle exited %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(away, ".gantry")); !os.IsNotExist(err) {
		t.Errorf("verifying from a bundle made %s/.gantry (%v)", away, err)
	}
}
