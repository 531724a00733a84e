package secrets

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gantry.dev/gantry/internal/scan"
)

func benchmarkScan(b *testing.B, root string) {
	s := newScanner(b, Options{})
	req := &scan.Request{Root: root}
	res, err := s.Scan(context.Background(), req) // warm the page cache
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(res.Scanned["bytes"]))
	for b.Loop() {
		if _, err := s.Scan(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(res.Findings)), "findings")
}

// BenchmarkScanCorpus scans the labelled corpus.
func BenchmarkScanCorpus(b *testing.B) { benchmarkScan(b, corpus) }

// BenchmarkScanGoroot scans Go's own source tree, as bench/secrets does
// against gitleaks. GANTRY_BENCH_GOROOT=1 enables it.
func BenchmarkScanGoroot(b *testing.B) {
	if os.Getenv("GANTRY_BENCH_GOROOT") != "1" {
		b.Skip("set GANTRY_BENCH_GOROOT=1 to scan $(go env GOROOT)/src")
	}
	benchmarkScan(b, filepath.Join(goroot(b), "src"))
}

// goroot returns $(go env GOROOT), or skips the test without it.
func goroot(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		tb.Skipf("go env GOROOT: %v", err)
	}
	return string(bytes.TrimSpace(out))
}

// BenchmarkNew measures compiling the rules.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
