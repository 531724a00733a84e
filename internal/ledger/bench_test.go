package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

// The benchmarks of the targets. The large log is built once per
// process in a temporary directory, or once for good in
// $GANTRY_LEDGER_BENCH_CACHE when that is set (bench/ledger/run sets it).
const (
	benchEntries         = 1_000_000
	benchCheckpointEvery = 1000
	benchCacheEnv        = "GANTRY_LEDGER_BENCH_CACHE"
)

// benchKey is the benchmarks' key: made from a fixed seed, so that a
// cached log stays verifiable by later runs. (Tests use random keys.)
var benchKey = func() keyPair {
	seed := sha256.Sum256([]byte("gantry ledger benchmarks"))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), "gantry.bench/ledger")
	if err != nil {
		panic(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return keyPair{s, v, vkey}
}()

var (
	bigLogOnce sync.Once
	bigLogPath string
	bigLogErr  error
	benchTemp  string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTemp != "" {
		os.RemoveAll(benchTemp)
	}
	os.Exit(code)
}

// bigLog returns the path of a SQLite store that holds a log of
// benchEntries entries with a checkpoint every benchCheckpointEvery, each
// entry with its inclusion proof, as Log makes them.
func bigLog(b *testing.B) string {
	bigLogOnce.Do(func() {
		dir := os.Getenv(benchCacheEnv)
		if dir == "" {
			if benchTemp, bigLogErr = os.MkdirTemp("", "gantry-ledger-bench-"); bigLogErr != nil {
				return
			}
			dir = benchTemp
		}
		bigLogPath = filepath.Join(dir, fmt.Sprintf("ledger-%d-%d.db", benchEntries, benchCheckpointEvery))
		done := bigLogPath + ".done"
		if _, err := os.Stat(done); err == nil {
			// A log cached by an older Gantry whose schema this one
			// cannot open is built again.
			st, err := sqlite.Open(context.Background(), bigLogPath)
			if err == nil {
				st.Close()
				return
			}
			fmt.Fprintf(os.Stderr, "rebuilding the cached ledger: %v\n", err)
			os.Remove(done)
		}
		os.Remove(bigLogPath)
		start := time.Now()
		if bigLogErr = buildLog(bigLogPath, benchEntries, benchCheckpointEvery); bigLogErr != nil {
			return
		}
		bigLogErr = os.WriteFile(done, nil, 0o644)
		fmt.Fprintf(os.Stderr, "built a ledger of %d entries in %v: %s\n", benchEntries, time.Since(start).Round(time.Millisecond), bigLogPath)
	})
	if bigLogErr != nil {
		b.Fatal(bigLogErr)
	}
	return bigLogPath
}

func buildLog(path string, n, every int) error {
	ctx := context.Background()
	st, err := openSQLite(path)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := Open(ctx, st, benchKey.signer, nil)
	if err != nil {
		return err
	}
	for i := 0; i < n; i += every {
		if _, err := l.Append(ctx, leaves(i, min(every, n-i))...); err != nil {
			return err
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkAppend appends one leaf per call from many goroutines at once,
// as the steps of concurrent runs do: the Log batches them.
func BenchmarkAppend(b *testing.B) {
	l, _, _ := newBenchLog(b)
	b.SetParallelism(32) // 64 goroutines on 2 cores
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := l.Append(ctx, leaf(int(next.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkAppendSerial appends one leaf per call from one goroutine:
// each append is a transaction of its own.
func BenchmarkAppendSerial(b *testing.B) {
	l, _, _ := newBenchLog(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := l.Append(ctx, leaf(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// benchBatch is the batch of BenchmarkAppendBatch and its baseline.
const benchBatch = 100

// BenchmarkAppendBatch appends benchBatch leaves per call.
func BenchmarkAppendBatch(b *testing.B) {
	l, _, _ := newBenchLog(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i += benchBatch {
		if _, err := l.Append(ctx, leaves(i, min(benchBatch, b.N-i))...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkRawInsertBatch is the baseline of BenchmarkAppendBatch: the
// same rows (entries and the tree hashes they complete, computed before
// the timer starts) inserted into the same schema with plain
// database/sql, one prepared INSERT per row, one transaction per batch.
func BenchmarkRawInsertBatch(b *testing.B) {
	path := filepath.Join(b.TempDir(), "raw.db")
	st, err := openSQLite(path) // for the schema
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file://"+path+"?_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	var e edge
	type row struct {
		data []byte
		hs   []tlog.Hash
	}
	rows := make([]row, b.N)
	for i := range rows {
		d, _ := leaf(i).Encode()
		rows[i] = row{d, e.push(tlog.RecordHash(d), nil)}
	}
	insEntry, err := db.PrepareContext(ctx, `INSERT INTO ledger_entries (idx, data, created_at) VALUES (?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	insHash, err := db.PrepareContext(ctx, `INSERT INTO ledger_hashes (idx, hash) VALUES (?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += benchBatch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		ie, ih := tx.StmtContext(ctx, insEntry), tx.StmtContext(ctx, insHash)
		now := time.Now().UnixNano()
		for j := i; j < min(b.N, i+benchBatch); j++ {
			if _, err := ie.ExecContext(ctx, j, rows[j].data, now); err != nil {
				b.Fatal(err)
			}
			x := storedIndex(0, int64(j))
			for k, h := range rows[j].hs {
				if _, err := ih.ExecContext(ctx, x+int64(k), h[:]); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

func newBenchLog(b *testing.B) (*Log, gantry.LedgerStore, string) {
	path := filepath.Join(b.TempDir(), "gantry.db")
	st, err := openSQLite(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	l, err := Open(context.Background(), st, benchKey.signer, nil)
	if err != nil {
		b.Fatal(err)
	}
	return l, st, path
}

// BenchmarkProve1M proves one random entry of a log of 1,000,000 entries
// in its latest checkpoint (computed from the stored hashes: an entry's
// stored proof is in an earlier one) and checks the proof.
func BenchmarkProve1M(b *testing.B) {
	st, err := openSQLite(bigLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		i := r.Int64N(benchEntries)
		in, err := ProveInclusion(ctx, st, i, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := in.Check(benchKey.verifier); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/proof")
}

// BenchmarkVerify1M verifies a whole log of 1,000,000 entries.
func BenchmarkVerify1M(b *testing.B) {
	st, err := openSQLite(bigLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		res, err := Verify(ctx, st, benchKey.verifier, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Entries != benchEntries || res.Proofs != benchEntries {
			b.Fatalf("verified %d entries and %d proofs, want %d", res.Entries, res.Proofs, benchEntries)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/verify")
}

// BenchmarkWriteTiles1M writes the C2SP tiles of a log of 1,000,000
// entries into a new directory.
func BenchmarkWriteTiles1M(b *testing.B) {
	st, err := openSQLite(bigLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := WriteTiles(ctx, st, b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/write")
}
