package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/executor/local"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/spec"
	"gantry.dev/gantry/internal/store/sqlite"
)

// chain is a pipeline of n `true` steps, each needing the one before.
func chain(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nstages:\n  - name: s\n    steps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - name: s%d\n        run: \"true\"\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "        needs: [s%d]\n", i-1)
		}
	}
	return b.String()
}

// BenchmarkSequentialSteps runs 100 chained `true` steps on the local
// executor, sandbox on, with real SQLite state, and reports the time per
// step; BenchmarkShTrue is the baseline it is measured against.
func BenchmarkSequentialSteps(b *testing.B) {
	ex, err := local.New(local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if ok, why := ex.Sandboxed(); !ok {
		b.Logf("sandbox not available (%s): measuring the plain process group", why)
	}
	const steps = 100
	p, err := spec.Parse(".gantry.yml", []byte(chain(steps)), spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plan, err := p.Plan()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gantry.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	blobs, err := cas.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		b.Fatal(err)
	}
	eng := New(Options{
		Executors: map[string]gantry.Executor{"local": ex},
		Store:     st, Blobs: blobs, Workspace: b.TempDir(),
		BaseEnv: map[string]string{"PATH": os.Getenv("PATH")},
	})
	b.ResetTimer()
	for b.Loop() {
		r, err := eng.Run(context.Background(), plan, &gantry.Run{ID: gantry.NewRunID(time.Now()), Trigger: gantry.Trigger{Event: "local"}})
		if err != nil || r.Status != gantry.StatusSucceeded {
			b.Fatalf("run %v: %v", r.Status, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
}

// BenchmarkShTrue is one bare `sh -c true`, the baseline of a step.
func BenchmarkShTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/sh", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineOverhead is BenchmarkSequentialSteps with an executor
// that does nothing: what the engine and the store cost per step.
func BenchmarkEngineOverhead(b *testing.B) {
	const steps = 100
	p, err := spec.Parse(".gantry.yml", []byte(chain(steps)), spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plan, _ := p.Plan()
	dir := b.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gantry.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	blobs, _ := cas.New(filepath.Join(dir, "artifacts"))
	eng := New(Options{Executors: map[string]gantry.Executor{"local": newFake()}, Store: st, Blobs: blobs, Workspace: b.TempDir()})
	for b.Loop() {
		if _, err := eng.Run(context.Background(), plan, &gantry.Run{ID: gantry.NewRunID(time.Now())}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
}

// BenchmarkEvidence is BenchmarkEngineOverhead with evidence off and on:
// with it on, every step is attested (statement, ECDSA signature, bundle),
// stored and appended to the ledger, and the run ends with a signed
// checkpoint and the steps' inclusion proofs. The difference between the
// two is what evidence adds per step.
func BenchmarkEvidence(b *testing.B) {
	const steps = 100
	p, err := spec.Parse(".gantry.yml", []byte(chain(steps)), spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plan, _ := p.Plan()
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gantry.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			blobs, _ := cas.New(filepath.Join(dir, "artifacts"))
			opts := Options{Executors: map[string]gantry.Executor{"local": newFake()}, Store: st, Blobs: blobs, Workspace: b.TempDir()}
			if on {
				opts.Attester = benchRecorder(b, st, blobs, filepath.Join(dir, "keys"))
			}
			eng := New(opts)
			for b.Loop() {
				r, err := eng.Run(context.Background(), plan, &gantry.Run{ID: gantry.NewRunID(time.Now())})
				if err != nil || r.Status != gantry.StatusSucceeded {
					b.Fatalf("run %v: %v", r.Status, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
		})
	}
}

func benchRecorder(b *testing.B, st *sqlite.Store, blobs gantry.BlobStore, keyDir string) Attester {
	if _, err := evidence.GenerateKeys(keyDir, evidence.GenerateOptions{LedgerName: "bench.example/ledger"}); err != nil {
		b.Fatal(err)
	}
	signer, err := evidence.LoadSigner(keyDir, nil)
	if err != nil {
		b.Fatal(err)
	}
	ls, err := evidence.LoadLedgerSigner(keyDir, nil)
	if err != nil {
		b.Fatal(err)
	}
	log, err := ledger.Open(context.Background(), st, ls, nil)
	if err != nil {
		b.Fatal(err)
	}
	return evidence.NewRecorder(evidence.RecorderOptions{Signer: signer, Findings: st, Blobs: blobs, Keeper: evidence.LedgerKeeper{Log: log, Store: st},
		Repo: "https://git.example/bench", BuilderID: "https://gantry.dev/builders/bench/v1"})
}
