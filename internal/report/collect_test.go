package report

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/store/sqlite"
)

// TestCollect builds a report from a store: two changes in the period and
// one before it, a run's gates with the policy digest, approvals with an
// exception, and attestations under a checkpoint or, for the one appended
// after it, left out and counted.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	skey, vkey, err := note.GenerateKey(rand.Reader, "gantry.test/collect")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	log, err := ledger.Open(ctx, st, signer, &ledger.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}

	policyDigest := digest("policies")
	var want []Change
	for i, id := range []string{"old", "c1", "c2"} {
		opened := t0.Add(time.Duration(i-1) * 24 * time.Hour) // "old" opens the day before the period
		run := &gantry.Run{ID: gantry.RunID("run-" + id), Pipeline: ".gantry.yml", PipelineDigest: digest("p"), Status: gantry.StatusSucceeded,
			Trigger: gantry.Trigger{Event: "local", Branch: "main", Change: id}, CreatedAt: opened, StartedAt: opened, FinishedAt: opened.Add(time.Minute)}
		if err := st.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		gates := []*gantry.StageResult{
			{RunID: run.ID, Index: 0, Name: "commit", Status: gantry.StatusSucceeded, StartedAt: opened, FinishedAt: opened.Add(30 * time.Second),
				Gate: gantry.Gate{Allowed: true, Decider: "steps+policy " + string(policyDigest)}},
			{RunID: run.ID, Index: 1, Name: "production", Status: gantry.StatusFailed, StartedAt: opened, FinishedAt: opened.Add(time.Minute),
				Gate: gantry.Gate{Reasons: []string{"needs 1 approval"}, Decider: "environment production"}},
		}
		for _, g := range gates {
			if err := st.PutStage(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		var atts []*gantry.Attestation
		for _, kind := range []string{gantry.KindProvenance, gantry.KindGate} {
			env := []byte(`{"payload":"` + id + "/" + kind + `"}`)
			a := &gantry.Attestation{Digest: gantry.DigestBytes(env), RunID: run.ID, Stage: "commit", Kind: kind,
				PredicateType: "p", Envelope: env, KeyHint: "k", CreatedAt: opened,
				Subjects: []gantry.Subject{{Name: "bin/app", Digest: digest(id)}}}
			if kind == gantry.KindProvenance {
				a.Step = "build"
			}
			idx, err := log.Append(ctx, ledger.Leaf{Kind: ledger.KindAttestation, Digest: a.Digest})
			if err != nil {
				t.Fatal(err)
			}
			a.LedgerIndex = idx[0]
			atts = append(atts, a)
		}
		if err := st.PutAttestations(ctx, atts); err != nil {
			t.Fatal(err)
		}
		c := &gantry.Change{ID: id, Title: "change " + id, Author: "alice", Branch: "main", Opened: opened, UpdatedAt: opened,
			Commits: []gantry.Commit{{SHA: "abc" + id, Author: "alice"}}, Runs: []gantry.RunID{run.ID},
			Classification: &gantry.Classification{Class: gantry.ClassNormal, Score: 45, Threshold: 40, At: opened,
				Factors: []gantry.RiskFactor{{Name: "size", Weight: 20, Score: 5, Detail: "32 lines"}}}}
		if err := st.PutChange(ctx, c); err != nil {
			t.Fatal(err)
		}
		approval := &gantry.Approval{Change: id, Environment: "production", Kind: gantry.ApprovalDeploy, Approver: "alice",
			Role: gantry.RoleAdmin, Exception: "one maintainer", At: opened.Add(time.Hour)}
		if err := st.PutApproval(ctx, approval); err != nil {
			t.Fatal(err)
		}
		// The approval's audit event, in the ledger as the CLI and the
		// server put it there.
		ev := &gantry.AuditEvent{Time: opened.Add(time.Hour), Actor: "alice", Action: ApproveAction, Target: id, Outcome: "success",
			Detail: map[string]string{"environment": "production", "kind": gantry.ApprovalDeploy, "exception": "one maintainer"}}
		if err := st.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		record, _ := json.Marshal(ev) // LedgerIndex is -1 until appended
		idx, err := log.Append(ctx, ledger.Leaf{Kind: ledger.KindAudit, Digest: gantry.DigestBytes(record)})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetAuditLedgerIndex(ctx, ev.ID, idx[0]); err != nil {
			t.Fatal(err)
		}
		want = append(want, Change{ID: id, Title: "change " + id, Opened: opened, Commits: []string{"abc" + id}, Author: "alice",
			Branch: "main", ProtectedBranch: true,
			Classification: Classification{Class: Normal, Score: 45, Factors: []Factor{{Name: "size", Score: 5, Detail: "32 lines"}}},
			Approvals:      []Approval{{Who: "alice", Role: "admin", At: opened.Add(time.Hour), Env: "production", Exception: "one maintainer"}},
			Gates: []GateDecision{
				{Stage: "commit", Allowed: true, PolicyDigest: policyDigest, At: opened.Add(30 * time.Second)},
				{Stage: "production", Reasons: []string{"needs 1 approval"}, At: opened.Add(time.Minute)},
			},
			Runs: []Run{{ID: string(run.ID), Status: "succeeded", Started: opened, Finished: opened.Add(time.Minute), URL: "/runs/" + string(run.ID)}},
		})
		if id == "c1" {
			// The checkpoint covers everything up to c1; c2's evidence is not
			// under one yet.
			if _, err := log.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	r, unproven, err := Collect(ctx, st, CollectOptions{
		From: t0, To: t0.Add(7 * 24 * time.Hour), System: "shop", ProtectedBranches: []string{"main"},
		RunURL: func(id gantry.RunID) string { return "/runs/" + string(id) }, Now: t0.Add(8 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if unproven != 3 {
		t.Errorf("unproven = %d, want c2's 2 attestations and its approval", unproven)
	}
	if len(r.Changes) != 2 || len(r.Changes[0].Evidence) != 3 || len(r.Changes[1].Evidence) != 0 {
		t.Fatalf("changes %+v", r.Changes)
	}
	if l := r.Changes[0].Evidence[0]; l.Kind != KindApproval || !json.Valid(l.Record) || l.Digest != gantry.DigestBytes(l.Record) {
		t.Errorf("approval link %+v", l)
	}
	for i := range r.Changes {
		r.Changes[i].Evidence = nil
	}
	if diff := cmp.Diff(want[1:], r.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}

	// What it collected verifies.
	r, _, err = Collect(ctx, st, CollectOptions{From: t0, To: t0.Add(24 * time.Hour), Now: t0.Add(8 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	out := writeOSCAL(t, r)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := oscalSchema(t).Validate(inst); err != nil {
		t.Fatalf("a collected report's OSCAL does not validate: %v", err)
	}
	res, err := Verify(ctx, out, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if res.Links != 3 || res.Changes != 1 {
		t.Errorf("verified %+v", res)
	}
	// An approval's audit event is checked against its digest: altered,
	// the report fails.
	forged := bytes.Replace(out, []byte(base64.StdEncoding.EncodeToString(r.Changes[0].Evidence[0].Record)),
		[]byte(base64.StdEncoding.EncodeToString(bytes.Replace(r.Changes[0].Evidence[0].Record, []byte(`"alice"`), []byte(`"bobby"`), 1))), 1)
	if _, err := Verify(ctx, forged, verifier); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Errorf("a forged approval record: %v", err)
	}

	if _, _, err := Collect(ctx, st, CollectOptions{From: t0, To: t0}); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("an empty period: %v", err)
	}
}
