package report

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func digest(s string) gantry.Digest {
	sum := sha256.Sum256([]byte(s))
	return gantry.NewDigest(sum[:])
}

// testLedger appends an attestation leaf for each digest to a real
// ledger on SQLite, checkpoints it and returns the inclusion proofs and
// the ledger's key.
func testLedger(t *testing.T, digests []gantry.Digest) ([]*ledger.Inclusion, note.Verifier) {
	t.Helper()
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, "gantry.test/report")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log, err := ledger.Open(ctx, st, signer, &ledger.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	// An audit entry first, so that no attestation is entry 0.
	leaves := []ledger.Leaf{{Kind: ledger.KindAudit, Digest: digest("login")}}
	for _, d := range digests {
		leaves = append(leaves, ledger.Leaf{Kind: ledger.KindAttestation, Digest: d})
	}
	idx, err := log.Append(ctx, leaves...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var out []*ledger.Inclusion
	for _, i := range idx[1:] {
		in, err := ledger.ProveInclusion(ctx, st, i, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, in)
	}
	return out, verifier
}

// testReport is a report of four changes over two weeks, with real
// ledger evidence: most standard, one normal, one urgent.
func testReport(t *testing.T) (*Report, note.Verifier) {
	t.Helper()
	type spec struct {
		id     string
		class  Class
		kinds  []string
		approv []Approval
		gates  []GateDecision
		opened time.Time
	}
	allow := []GateDecision{{Stage: "commit", Allowed: true, PolicyDigest: digest("policy"), At: t0}}
	full := []string{gantry.KindProvenance, gantry.KindTestResult, gantry.KindVulns, gantry.KindGate}
	specs := []spec{
		{id: "c1", class: Standard, kinds: full, gates: allow, opened: t0},
		{id: "c2", class: Standard, kinds: full, gates: allow, opened: t0.Add(26 * time.Hour)},
		{id: "c3", class: Normal, kinds: full, opened: t0.Add(8 * 24 * time.Hour),
			approv: []Approval{{Who: "bob", Role: "maintainer", At: t0.Add(8*24*time.Hour + 3*time.Hour), Env: "production"}},
			gates: []GateDecision{
				{Stage: "commit", Allowed: false, Reasons: []string{"coverage fell from 81% to 74%", "no review by someone other than the author"}, PolicyDigest: digest("policy")},
				{Stage: "commit", Allowed: true, PolicyDigest: digest("policy")},
			}},
		{id: "c4", class: Urgent, kinds: full, gates: allow, opened: t0.Add(10 * 24 * time.Hour),
			approv: []Approval{{Who: "carol", Role: "maintainer", At: t0.Add(12 * 24 * time.Hour)}}},
	}
	var digests []gantry.Digest
	for _, s := range specs {
		for _, k := range s.kinds {
			digests = append(digests, digest(s.id+"/"+k))
		}
	}
	incs, v := testLedger(t, digests)
	r := &Report{From: t0, To: t0.Add(14 * 24 * time.Hour), System: "shop", GeneratedAt: t0.Add(15 * 24 * time.Hour)}
	n := 0
	for _, s := range specs {
		c := Change{
			ID: s.id, Title: "change " + s.id, Opened: s.opened, Author: "alice",
			Commits: []string{fmt.Sprintf("%040x", n)}, PullRequest: "https://forge.example/pr/" + s.id,
			Branch: "main", ProtectedBranch: true,
			Classification: Classification{Class: s.class, Score: 12.5, Factors: []Factor{{Name: "size", Score: 5, Detail: "120 lines in 4 files"}, {Name: "sensitive-paths", Score: 7.5, Detail: "migrations/"}}},
			Approvals:      s.approv, Gates: s.gates,
			Runs: []Run{{ID: "run-" + s.id, Status: "passed", Started: s.opened, Finished: s.opened.Add(time.Minute)}},
		}
		for _, k := range s.kinds {
			in := incs[n]
			c.Evidence = append(c.Evidence, EvidenceLink{Kind: k, Digest: digests[n], Index: in.Index, Inclusion: in})
			n++
		}
		r.Changes = append(r.Changes, c)
	}
	return r, v
}

func TestAssess(t *testing.T) {
	r, _ := testReport(t)
	for _, a := range Assess(r) {
		if !a.Satisfied {
			t.Errorf("%s not satisfied: %v", a.Control.Label, a.Failures)
		}
	}
	// Break it: the author approves a normal change, an urgent change
	// lacks its review, a change has no tests and no protected branch.
	r.Changes[2].Approvals = []Approval{{Who: "alice", At: t0}}
	r.Changes[3].Approvals = nil
	r.Changes[1].Evidence = r.Changes[1].Evidence[:1]
	r.Changes[0].ProtectedBranch = false
	want := map[string][]Failure{
		"CM-3":  {{"c4", "an urgent change whose retrospective review is not done"}},
		"CM-5":  {{"c3", "approved by its author alice without a recorded exception"}},
		"SA-10": {{"c1", "built from branch main, which is not protected"}},
		"SA-11": {{"c2", "no test-result attestation"}},
		"RA-5":  {{"c2", "no vulns or scan attestation"}},
		"AU-10": {{"c2", "no attested gate decision"}},
		"CC8.1": {{"c2", "SA-11: no test-result attestation"}, {"c3", "CM-5: approved by its author alice without a recorded exception"}, {"c4", "CM-3: an urgent change whose retrospective review is not done"}},
	}
	for _, a := range Assess(r) {
		w := want[a.Control.Label]
		if fmt.Sprint(a.Failures) != fmt.Sprint(w) || a.Satisfied != (len(w) == 0) {
			t.Errorf("%s: satisfied %v, failures %v; want %v", a.Control.Label, a.Satisfied, a.Failures, w)
		}
	}
	// The single-maintainer exception, recorded, stands.
	r.Changes[2].Approvals[0].Exception = "single-maintainer project"
	for _, a := range Assess(r) {
		if a.Control.Label == "CM-5" && !a.Satisfied {
			t.Errorf("CM-5 with a recorded exception: %v", a.Failures)
		}
	}
	if as := Assess(&Report{}); as[0].Satisfied {
		t.Error("a period without changes satisfies CM-3")
	}
}
