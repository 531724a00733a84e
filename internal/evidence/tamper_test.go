package evidence

import (
	"bytes"
	"context"
	"crypto"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/spec"
	"gantry.dev/gantry/internal/store/sqlite"
)

// world is a store with the evidence of runs, the keys that signed it,
// and a verifier's memory of checkpoints.
type world struct {
	t      *testing.T
	dir    string
	store  *sqlite.Store
	db     *sql.DB // the same file, to tamper with it
	keys   *PublicKeys
	signer gantry.Signer
	log    *ledger.Log
	trust  *ledger.Trust
	n      int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", filepath.Join(dir, "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := GenerateKeys(filepath.Join(dir, "keys"), GenerateOptions{LedgerName: "test.example/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(filepath.Join(dir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir, store: st, db: db, keys: keys, signer: signer, trust: ledger.NewTrust(filepath.Join(dir, "trusted"))}
	w.log = w.openLog(filepath.Join(dir, "keys"))
	return w
}

func (w *world) openLog(keyDir string) *ledger.Log {
	ls, err := LoadLedgerSigner(keyDir, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	log, err := ledger.Open(context.Background(), w.store, ls, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return log
}

// build records the evidence of a run that builds bin/app from the source
// and packages it into app.tar, and returns the two artifacts' digests.
func (w *world) build(signer gantry.Signer, content string) (bin, tarball gantry.Digest) {
	w.t.Helper()
	ctx := context.Background()
	w.n++
	t0 := time.Date(2026, 11, 22, 10, w.n, 0, 0, time.UTC)
	r := &gantry.Run{ID: gantry.NewRunID(t0), Pipeline: ".gantry.yml", PipelineDigest: gantry.DigestBytes([]byte("pipeline")),
		Trigger: gantry.Trigger{Event: "push", Branch: "main", Commit: strings.Repeat("ab", 20)},
		Status:  gantry.StatusRunning, CreatedAt: t0, StartedAt: t0}
	if err := w.store.CreateRun(ctx, r); err != nil {
		w.t.Fatal(err)
	}
	rec := NewRecorder(RecorderOptions{Signer: signer, Findings: w.store, Keeper: LedgerKeeper{Log: w.log, Store: w.store}, Repo: "https://git.example/shop", BuilderID: "https://gantry.dev/builders/test/v1"})
	bin = gantry.DigestBytes([]byte("binary " + content))
	tarball = gantry.DigestBytes([]byte("tarball " + content))
	steps := []*gantry.StepResult{
		{Name: "build", Outputs: []gantry.Artifact{{Path: "bin/app", Digest: bin, Size: 7}}},
		{Name: "package", Inputs: []gantry.Artifact{{Path: "bin/app", Digest: bin, Size: 7}},
			Outputs: []gantry.Artifact{{Path: "app.tar", Digest: tarball, Size: 8}}},
	}
	var results []*gantry.StepResult
	for _, s := range steps {
		s.RunID, s.Stage, s.Executor, s.Status = r.ID, "commit", "local", gantry.StatusSucceeded
		s.StartedAt, s.FinishedAt = t0, t0.Add(time.Second)
		s.Command, s.EnvDigest, s.Log = gantry.DigestBytes([]byte("cmd")), gantry.DigestBytes([]byte("env")), gantry.DigestBytes([]byte("log "+s.Name))
		if err := w.store.PutStep(ctx, s); err != nil {
			w.t.Fatal(err)
		}
		if err := rec.AttestStep(ctx, r, &spec.PlanStep{Name: s.Name, Script: "make " + s.Name}, s, gantry.KindProvenance); err != nil {
			w.t.Fatal(err)
		}
		results = append(results, s)
	}
	stage := &gantry.StageResult{RunID: r.ID, Name: "commit", Status: gantry.StatusSucceeded,
		Gate: gantry.Gate{Allowed: true, Decider: "steps"}, StartedAt: t0, FinishedAt: t0.Add(2 * time.Second)}
	if err := rec.AttestGate(ctx, r, stage, results); err != nil {
		w.t.Fatal(err)
	}
	if err := rec.Seal(ctx, r); err != nil {
		w.t.Fatal(err)
	}
	return bin, tarball
}

func (w *world) exec(q string, args ...any) {
	w.t.Helper()
	res, err := w.db.Exec(q, args...)
	if err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		w.t.Fatalf("%s changed nothing", q)
	}
}

func (w *world) opts(keys ...crypto.PublicKey) VerifyOptions {
	if len(keys) == 0 {
		keys = []crypto.PublicKey{w.keys.Signing}
	}
	return VerifyOptions{Keys: keys, Ledger: w.keys.Ledger, Trust: w.trust}
}

func (w *world) verify(d gantry.Digest) error {
	_, err := VerifyArtifact(context.Background(), StoreSource{Store: w.store}, "app.tar", d, w.opts())
	return err
}

func (w *world) verifyLedger() error {
	_, err := ledger.Verify(context.Background(), w.store, w.keys.Ledger, nil)
	return err
}

func TestVerifyArtifactChain(t *testing.T) {
	w := newWorld(t)
	bin, tarball := w.build(w.signer, "v1")
	ch, err := VerifyArtifact(context.Background(), StoreSource{Store: w.store}, "app.tar", tarball, w.opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Steps) != 2 || ch.Steps[0].Step != "package" || ch.Steps[1].Step != "build" {
		t.Fatalf("chain steps = %+v, want package then build", ch.Steps)
	}
	if ch.Steps[1].Commit != strings.Repeat("ab", 20) || !strings.HasPrefix(ch.Steps[1].Source, "git+https://git.example/shop") {
		t.Errorf("build's source = %q at %q", ch.Steps[1].Source, ch.Steps[1].Commit)
	}
	if len(ch.Gates) != 1 || !ch.Gates[0].Allowed || ch.Gates[0].Stage != "commit" {
		t.Errorf("gates = %+v", ch.Gates)
	}
	if _, err := VerifyArtifact(context.Background(), StoreSource{Store: w.store}, "bin/app", bin, w.opts()); err != nil {
		t.Errorf("verify bin/app: %v", err)
	}
	if err := w.verifyLedger(); err != nil {
		t.Errorf("ledger verify: %v", err)
	}
}

// TestTampering alters the evidence in every way an attacker with write
// access to the store could, and checks that verification names what
// failed.
func TestTampering(t *testing.T) {
	for _, tc := range []struct {
		name string
		// tamper changes the evidence of one run of app (its tarball's
		// digest given) and returns the digest to verify.
		tamper func(w *world, tarball gantry.Digest) gantry.Digest
		// artifact is what VerifyArtifact must say; ledger what
		// ledger.Verify must say ("": the log itself is sound).
		artifact, ledger string
	}{
		{
			name: "envelope byte altered",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				w.exec(`UPDATE attestations SET envelope = CAST(replace(CAST(envelope AS TEXT), '"payloadType"', '"payloadTYPE"') AS BLOB) WHERE step = 'package'`)
				return d
			},
			artifact: `of step "package": its envelope was altered`,
		},
		{
			name: "statement rewritten and digest recomputed",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				var env []byte
				if err := w.db.QueryRow(`SELECT envelope FROM attestations WHERE step = 'package'`).Scan(&env); err != nil {
					w.t.Fatal(err)
				}
				var e map[string]any
				if err := json.Unmarshal(env, &e); err != nil {
					w.t.Fatal(err)
				}
				payload, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
				e["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(`"stage":"commit"`), []byte(`"stage":"release"`), 1))
				forged, _ := json.Marshal(e)
				w.exec(`UPDATE attestations SET envelope = ?, digest = ? WHERE step = 'package'`, forged, gantry.DigestBytes(forged))
				return d
			},
			artifact: "does not verify with any trusted key",
		},
		{
			name: "artifact altered",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				return gantry.DigestBytes([]byte("tarball v1 with a backdoor"))
			},
			artifact: "no attestation names app.tar",
		},
		{
			name: "ledger entry altered",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				w.exec(`UPDATE ledger_entries SET data = CAST(replace(CAST(data AS TEXT), 'sha256:', 'sha256:0') AS BLOB) WHERE idx = 1`)
				w.exec(`UPDATE ledger_entries SET data = CAST(substr(CAST(data AS TEXT), 1, length(data) - 2) || char(10) AS BLOB) WHERE idx = 1`)
				return d
			},
			artifact: "ledger entry 1 records",
			ledger:   "entry 1",
		},
		{
			name: "checkpoint altered",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				w.exec(`UPDATE ledger_checkpoints SET note = CAST(replace(CAST(note AS TEXT), char(10) || '3' || char(10), char(10) || '2' || char(10)) AS BLOB)`)
				return d
			},
			artifact: "signature",
			ledger:   "signature",
		},
		{
			name: "entry deleted",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				w.exec(`DELETE FROM ledger_entries WHERE idx = 0`)
				return d
			},
			artifact: "ledger entry 0 is missing",
			ledger:   "entry 0 is missing",
		},
		{
			name: "entries reordered",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				w.exec(`UPDATE ledger_entries SET idx = -1 WHERE idx = 0`)
				w.exec(`UPDATE ledger_entries SET idx = 0 WHERE idx = 1`)
				w.exec(`UPDATE ledger_entries SET idx = 1 WHERE idx = -1`)
				return d
			},
			artifact: "ledger entry 1 records",
			ledger:   "entry 0",
		},
		{
			name: "signed with another key",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				other, err := GenerateKeys(filepath.Join(w.dir, "other"), GenerateOptions{LedgerName: "other.example/ledger"})
				if err != nil || other == nil {
					w.t.Fatal(err)
				}
				s, err := LoadSigner(filepath.Join(w.dir, "other"), nil)
				if err != nil {
					w.t.Fatal(err)
				}
				_, evil := w.build(s, "evil")
				return evil
			},
			artifact: "does not verify with any trusted key",
		},
		{
			name: "older checkpoint",
			tamper: func(w *world, d gantry.Digest) gantry.Digest {
				w.build(w.signer, "v2")
				if err := w.verify(d); err != nil { // the verifier now trusts the newer checkpoint
					w.t.Fatal(err)
				}
				w.exec(`DELETE FROM ledger_checkpoints WHERE size = (SELECT max(size) FROM ledger_checkpoints)`)
				return d
			},
			artifact: "older than checkpoint 6, which this verifier trusted before",
		},
		{
			name: "forked log",
			tamper: func(w *world, _ gantry.Digest) gantry.Digest {
				// The log is rewritten from the start with other
				// evidence, signed with the log's own key, and grows
				// past what the verifier saw.
				for _, table := range []string{"attestations", "ledger_entries", "ledger_hashes", "ledger_checkpoints", "ledger_proofs"} {
					w.exec(`DELETE FROM ` + table)
				}
				w.log = w.openLog(filepath.Join(w.dir, "keys"))
				w.build(w.signer, "fork")
				_, d := w.build(w.signer, "fork 2")
				return d
			},
			artifact: "is not consistent with checkpoint 3, which this verifier trusted before",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			_, tarball := w.build(w.signer, "v1")
			if err := w.verify(tarball); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			d := tc.tamper(w, tarball)
			err := w.verify(d)
			switch {
			case err == nil:
				t.Errorf("verify artifact: passed, want an error saying %q", tc.artifact)
			case !strings.Contains(gantry.ErrorMessageOrText(err), tc.artifact):
				t.Errorf("verify artifact: %v\nwant it to say %q", err, tc.artifact)
			}
			if tc.ledger != "" {
				err := w.verifyLedger()
				if err == nil || !strings.Contains(gantry.ErrorMessageOrText(err), tc.ledger) {
					t.Errorf("ledger verify: %v\nwant it to say %q", err, tc.ledger)
				}
			}
		})
	}
}
