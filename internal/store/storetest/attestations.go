package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// attestationTests check the AttestationStore part.
var attestationTests = []storeTest{
	{"Attestations/RoundTripAndOrder", testAttestationsRoundTrip},
	{"Attestations/BySubject", testAttestationsBySubject},
	{"Attestations/Duplicate", testAttestationsDuplicate},
	{"Attestations/UnknownRun", testAttestationsUnknownRun},
	{"Attestations/Invalid", testAttestationsInvalid},
	{"Attestations/AllOrNothing", testAttestationsAllOrNothing},
}

func newAttestation(run gantry.RunID, step string, index int64, subjects ...gantry.Subject) *gantry.Attestation {
	env := []byte(fmt.Sprintf(`{"payloadType":"application/vnd.in-toto+json","payload":%q,"signatures":[{"sig":"c2ln"}]}`, string(run)+"/"+step))
	return &gantry.Attestation{
		Digest:        gantry.DigestBytes(env),
		RunID:         run,
		Stage:         "commit",
		Step:          step,
		Kind:          gantry.KindProvenance,
		PredicateType: "https://slsa.dev/provenance/v1",
		Subjects:      subjects,
		Envelope:      env,
		KeyHint:       "5e0c7d6f2a1b",
		LedgerIndex:   index,
		CreatedAt:     t0.Add(time.Duration(index) * time.Second),
	}
}

func testAttestationsRoundTrip(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-a", t0)
	mustCreate(t, s, r)
	bin := gantry.Subject{Name: "bin/app", Digest: digest("app")}
	a := newAttestation(r.ID, "build", 0, bin, gantry.Subject{Name: "bin/app-copy", Digest: digest("app")})
	b := newAttestation(r.ID, "test", 1, gantry.Subject{Name: "test.log", Digest: digest("log")})
	g := newAttestation(r.ID, "", 2, gantry.Subject{Name: "attestation/build", Digest: a.Digest})
	g.Kind, g.PredicateType = gantry.KindGate, "https://gantry.dev/attestation/gate/v1"
	for _, x := range []*gantry.Attestation{a, b, g} {
		if err := s.PutAttestations(ctx, []*gantry.Attestation{x}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attestations(ctx, gantry.AttestationFilter{RunID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*gantry.Attestation{a, b, g}, got, cmpOpts...); diff != "" {
		t.Errorf("Attestations by run (-want +got):\n%s", diff)
	}
	one, err := s.Attestation(ctx, b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, one, cmpOpts...); diff != "" {
		t.Errorf("Attestation (-want +got):\n%s", diff)
	}
	if _, err := s.Attestation(ctx, digest("nothing")); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("Attestation of an unknown digest: %v, want ErrNotFound", err)
	}
	empty := newRun("run-empty", t0)
	mustCreate(t, s, empty)
	if got, err := s.Attestations(ctx, gantry.AttestationFilter{RunID: empty.ID}); err != nil || len(got) != 0 {
		t.Errorf("Attestations of a run without any = %v, %v", got, err)
	}
}

func testAttestationsBySubject(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	old, new := newRun("run-old", t0), newRun("run-new", t0.Add(time.Hour))
	mustCreate(t, s, old, new)
	bin := gantry.Subject{Name: "bin/app", Digest: digest("app")}
	a1 := newAttestation(old.ID, "build", 0, bin)
	a2 := newAttestation(new.ID, "build", 1, bin)
	other := newAttestation(new.ID, "lint", 2, gantry.Subject{Name: "lint.log", Digest: digest("lint")})
	for _, x := range []*gantry.Attestation{a1, a2, other} {
		if err := s.PutAttestations(ctx, []*gantry.Attestation{x}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attestations(ctx, gantry.AttestationFilter{Subject: bin.Digest})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*gantry.Attestation{a2, a1}, got, cmpOpts...); diff != "" {
		t.Errorf("Attestations by subject, newest run first (-want +got):\n%s", diff)
	}
	got, err = s.Attestations(ctx, gantry.AttestationFilter{Subject: bin.Digest, RunID: old.ID})
	if err != nil || len(got) != 1 || got[0].Digest != a1.Digest {
		t.Errorf("Attestations by subject and run = %v, %v", got, err)
	}
	if got, err := s.Attestations(ctx, gantry.AttestationFilter{Subject: digest("none")}); err != nil || len(got) != 0 {
		t.Errorf("Attestations of an unattested digest = %v, %v", got, err)
	}
}

func testAttestationsDuplicate(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-d", t0)
	mustCreate(t, s, r)
	a := newAttestation(r.ID, "build", 0, gantry.Subject{Name: "x", Digest: digest("x")})
	if err := s.PutAttestations(ctx, []*gantry.Attestation{a}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAttestations(ctx, []*gantry.Attestation{a}); gantry.ErrorKind(err) != gantry.EConflict {
		t.Errorf("second PutAttestations: %v, want EConflict", err)
	}
}

func testAttestationsUnknownRun(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	a := newAttestation("nosuch", "build", 0, gantry.Subject{Name: "x", Digest: digest("x")})
	if err := s.PutAttestations(ctx, []*gantry.Attestation{a}); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("PutAttestations of an unknown run: %v, want ErrNotFound", err)
	}
	if _, err := s.Attestations(ctx, gantry.AttestationFilter{RunID: "nosuch"}); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("Attestations of an unknown run: %v, want ErrNotFound", err)
	}
}

func testAttestationsInvalid(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-i", t0)
	mustCreate(t, s, r)
	sub := gantry.Subject{Name: "x", Digest: digest("x")}
	for name, mutate := range map[string]func(a *gantry.Attestation){
		"no run":          func(a *gantry.Attestation) { a.RunID = "" },
		"no stage":        func(a *gantry.Attestation) { a.Stage = "" },
		"no kind":         func(a *gantry.Attestation) { a.Kind = "" },
		"no subject":      func(a *gantry.Attestation) { a.Subjects = nil },
		"subject digest":  func(a *gantry.Attestation) { a.Subjects = []gantry.Subject{{Name: "x", Digest: upperHex(digest("x"))}} },
		"subject name":    func(a *gantry.Attestation) { a.Subjects = []gantry.Subject{{Digest: digest("x")}} },
		"digest mismatch": func(a *gantry.Attestation) { a.Digest = digest("another envelope") },
		"no envelope":     func(a *gantry.Attestation) { a.Envelope = nil },
		"no key hint":     func(a *gantry.Attestation) { a.KeyHint = "" },
		"negative index":  func(a *gantry.Attestation) { a.LedgerIndex = -1 },
		"no time":         func(a *gantry.Attestation) { a.CreatedAt = time.Time{} },
	} {
		a := newAttestation(r.ID, "build", 0, sub)
		mutate(a)
		if err := s.PutAttestations(ctx, []*gantry.Attestation{a}); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("%s: PutAttestations = %v, want EInvalid", name, err)
		}
	}
	if got, err := s.Attestations(ctx, gantry.AttestationFilter{RunID: r.ID}); err != nil || len(got) != 0 {
		t.Errorf("after invalid puts: %v, %v; want nothing stored", got, err)
	}
	for _, f := range []gantry.AttestationFilter{{}, {Subject: "sha256:zz"}} {
		if _, err := s.Attestations(ctx, f); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("Attestations(%+v) = %v, want EInvalid", f, err)
		}
	}
}

func testAttestationsAllOrNothing(t *testing.T, s gantry.Store) {
	ctx := context.Background()
	r := newRun("run-all", t0)
	mustCreate(t, s, r)
	sub := gantry.Subject{Name: "x", Digest: digest("x")}
	a, b := newAttestation(r.ID, "a", 0, sub), newAttestation(r.ID, "b", 1, sub)
	if err := s.PutAttestations(ctx, []*gantry.Attestation{a, b}); err != nil {
		t.Fatal(err)
	}
	c := newAttestation(r.ID, "c", 2, sub)
	if err := s.PutAttestations(ctx, []*gantry.Attestation{c, b}); gantry.ErrorKind(err) != gantry.EConflict {
		t.Fatalf("a batch with a stored digest: %v, want EConflict", err)
	}
	orphan := newAttestation("nosuch", "d", 3, sub)
	if err := s.PutAttestations(ctx, []*gantry.Attestation{c, orphan}); !errors.Is(err, gantry.ErrNotFound) {
		t.Fatalf("a batch with an unknown run: %v, want ErrNotFound", err)
	}
	got, err := s.Attestations(ctx, gantry.AttestationFilter{RunID: r.ID})
	if err != nil || len(got) != 2 {
		t.Errorf("after failed batches: %d attestations, %v; want the first two only", len(got), err)
	}
	if err := s.PutAttestations(ctx, nil); err != nil {
		t.Errorf("an empty batch: %v", err)
	}
}
