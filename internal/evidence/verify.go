package evidence

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protojson"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
)

// A Source is where verification reads evidence: the local store and
// ledger (StoreSource), or an exported evidence bundle (Bundle). Nothing
// it returns is trusted: every attestation is checked against the trusted
// keys and every ledger entry against a signed checkpoint.
type Source interface {
	// Checkpoint returns the signed note of the latest checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	// Consistency proves that the latest checkpoint extends the one of
	// size older.
	Consistency(ctx context.Context, older int64) (*ledger.Consistency, error)
	// Inclusion proves that ledger entry index is in the latest
	// checkpoint's tree.
	Inclusion(ctx context.Context, index int64) (*ledger.Inclusion, error)
	// Attestations lists the attestations of a subject digest, or of a
	// run; the filter is as for gantry.AttestationStore.
	Attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error)
}

// VerifyOptions say what verification trusts.
type VerifyOptions struct {
	// Keys are the trusted signing keys.
	Keys []crypto.PublicKey
	// Ledger is the ledger's public key.
	Ledger note.Verifier
	// Trust remembers the latest checkpoint this verifier accepted; nil
	// remembers nothing.
	Trust *ledger.Trust
}

// Link is one verified attestation of a chain.
type Link struct {
	Digest        gantry.Digest // of the envelope
	PredicateType string
	Kind          string
	Run           gantry.RunID
	Stage         string
	Step          string // empty for a gate
	KeyHint       string // the key that signed it
	LedgerIndex   int64
	Subjects      []gantry.Subject
	// What the signed predicate says, for a step: its status and, for a
	// build, where its source came from.
	Status string
	Source string // repository URI and ref
	Commit string
	// For a gate: the decision.
	Allowed bool
	Reasons []string
	Decider string
	// Inputs are the digests of what the step consumed (materials,
	// resolved dependencies) that were made by earlier steps.
	Inputs []gantry.Subject
}

// Chain is what verifying an artifact proved: the steps that made it from
// source, newest first, and every gate decision of its run.
type Chain struct {
	Artifact   gantry.Subject
	Steps      []*Link
	Gates      []*Link
	Checkpoint ledger.Checkpoint
	// Trusted is the checkpoint this verifier trusted before, if any.
	Trusted *ledger.Checkpoint
}

// VerifyArtifact verifies the evidence that an artifact with digest d was
// built by Gantry: the attestations naming it as subject and, through the
// inputs each consumed, those of the steps before, back to the source
// commit; and the gate decisions of the run. Each attestation's signature
// must verify with a trusted key and its ledger entry must be included in
// the source's signed checkpoint, which must be consistent with the one
// trusted before. The error says precisely what failed.
func VerifyArtifact(ctx context.Context, src Source, name string, d gantry.Digest, opts VerifyOptions) (*Chain, error) {
	ch := &Chain{Artifact: gantry.Subject{Name: name, Digest: d}}
	cp, err := checkCheckpoint(ctx, src, opts, ch)
	if err != nil {
		return nil, err
	}
	v := &verifier{src: src, opts: opts, checkpoint: cp, seen: map[gantry.Digest]bool{}}
	atts, err := src.Attestations(ctx, gantry.AttestationFilter{Subject: d})
	if err != nil {
		return nil, fmt.Errorf("find attestations of %s: %w", name, err)
	}
	if len(atts) == 0 {
		return nil, gantry.Errorf(gantry.ENotFound,
			"no attestation names %s (%s) as its subject: Gantry did not build this file, or it was altered since", name, d)
	}
	// The newest run's build is the chain shown; every attestation of the
	// file must verify all the same: a tampered one is never skipped.
	for i, a := range atts {
		l, err := v.check(ctx, a, d)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			ch.Steps = append(ch.Steps, l)
		}
	}
	if err := v.walk(ctx, ch, ch.Steps[0]); err != nil {
		return nil, err
	}
	run := ch.Steps[0].Run
	all, err := src.Attestations(ctx, gantry.AttestationFilter{RunID: run})
	if err != nil {
		return nil, fmt.Errorf("find the gate decisions of run %s: %w", run, err)
	}
	for _, a := range all {
		if a.Kind != gantry.KindGate {
			continue
		}
		l, err := v.check(ctx, a, "")
		if err != nil {
			return nil, err
		}
		if l.Run != run {
			return nil, gantry.Errorf(gantry.EConflict, "gate attestation %s is of run %s, not of run %s", a.Digest.Short(), l.Run, run)
		}
		ch.Gates = append(ch.Gates, l)
	}
	return ch, nil
}

// checkCheckpoint verifies the source's checkpoint and that it extends
// the one trusted before, which it then trusts.
func checkCheckpoint(ctx context.Context, src Source, opts VerifyOptions, ch *Chain) ([]byte, error) {
	if opts.Ledger == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "verify: no ledger key")
	}
	msg, err := src.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the ledger's checkpoint: %w", err)
	}
	c, err := ledger.OpenCheckpoint(msg, opts.Ledger)
	if err != nil {
		return nil, fmt.Errorf("ledger checkpoint: %w", err)
	}
	ch.Checkpoint = c
	if opts.Trust == nil {
		return msg, nil
	}
	old, err := opts.Trust.Trusted(opts.Ledger)
	if err != nil {
		return nil, err
	}
	var proof []tlog.Hash
	if old != nil {
		ch.Trusted = &old.Checkpoint
		if old.Size < c.Size {
			cs, err := src.Consistency(ctx, old.Size)
			if err != nil {
				return nil, gantry.Errorf(gantry.EConflict,
					"cannot show that checkpoint %d extends checkpoint %d, which this verifier trusted before: %v", c.Size, old.Size, gantry.ErrorMessageOrText(err))
			}
			if !bytes.Equal(cs.Newer, msg) {
				return nil, gantry.Errorf(gantry.EConflict, "the consistency proof is not for checkpoint %d", c.Size)
			}
			proof = cs.Proof
		}
	}
	if _, err := opts.Trust.Update(opts.Ledger, msg, proof); err != nil {
		return nil, err
	}
	return msg, nil
}

type verifier struct {
	src        Source
	opts       VerifyOptions
	checkpoint []byte
	seen       map[gantry.Digest]bool
}

// check verifies one attestation: its signature with a trusted key, that
// its signed statement names subject (when given), and that the ledger
// entry it claims records its envelope and is in the checkpoint.
func (v *verifier) check(ctx context.Context, a *gantry.Attestation, subject gantry.Digest) (*Link, error) {
	what := fmt.Sprintf("attestation %s", a.Digest.Short())
	if a.Step != "" {
		what += fmt.Sprintf(" of step %q", a.Step)
	} else {
		what += fmt.Sprintf(" of the gate of stage %q", a.Stage)
	}
	env := a.Envelope
	if gantry.DigestBytes(env) != a.Digest {
		return nil, gantry.Errorf(gantry.EConflict, "%s: its envelope was altered: its digest is now %s", what, gantry.DigestBytes(env).Short())
	}
	ver, err := VerifyEnvelope(ctx, env, v.opts.Keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// An exported bundle also holds each attestation as a Sigstore bundle,
	// which other tools verify: it must hold the same envelope.
	if sb, ok := v.src.(interface{ SigstoreBundle(gantry.Digest) []byte }); ok {
		data := sb.SigstoreBundle(a.Digest)
		if data == nil {
			return nil, gantry.Errorf(gantry.EConflict, "%s: its Sigstore bundle is missing", what)
		}
		benv, _, err := ParseBundle(data)
		if err != nil {
			return nil, fmt.Errorf("%s: bundle: %w", what, err)
		}
		if !sameEnvelope(benv, env) {
			return nil, gantry.Errorf(gantry.EConflict, "%s: its Sigstore bundle holds another envelope", what)
		}
	}
	l, err := linkOf(ver.Statement)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	l.Digest, l.KeyHint, l.LedgerIndex = a.Digest, ver.KeyHint, a.LedgerIndex
	// Predicates that do not name their run or stage (link, tests,
	// scans) are placed by the record: what they say is signed, where
	// they belong is not.
	l.Run, l.Stage, l.Step = cmp.Or(l.Run, a.RunID), cmp.Or(l.Stage, a.Stage), cmp.Or(l.Step, a.Step)
	if subject != "" && !slices.ContainsFunc(l.Subjects, func(s gantry.Subject) bool { return s.Digest == subject }) {
		return nil, gantry.Errorf(gantry.EConflict, "%s: its signed statement does not name %s as a subject", what, subject)
	}

	in, err := v.src.Inclusion(ctx, a.LedgerIndex)
	if err != nil {
		return nil, fmt.Errorf("%s: ledger entry %d: %w", what, a.LedgerIndex, err)
	}
	want, err := ledger.Leaf{Kind: ledger.KindAttestation, Digest: a.Digest}.Encode()
	if err != nil {
		return nil, err
	}
	if in.Index != a.LedgerIndex || !bytes.Equal(in.Entry, want) {
		got := strings.TrimSpace(string(in.Entry))
		if leaf, err := ledger.ParseLeaf(in.Entry); err == nil {
			got = leaf.String()
		}
		return nil, gantry.Errorf(gantry.EConflict, "%s: ledger entry %d records %q, not this attestation", what, a.LedgerIndex, got)
	}
	if !bytes.Equal(in.Checkpoint, v.checkpoint) {
		return nil, gantry.Errorf(gantry.EConflict, "%s: its inclusion proof is for another checkpoint", what)
	}
	if _, err := in.Check(v.opts.Ledger); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return l, nil
}

// walk follows a step's inputs to the steps of its run that made them.
func (v *verifier) walk(ctx context.Context, ch *Chain, l *Link) error {
	for _, in := range l.Inputs {
		if v.seen[in.Digest] {
			continue
		}
		v.seen[in.Digest] = true
		atts, err := v.src.Attestations(ctx, gantry.AttestationFilter{Subject: in.Digest, RunID: l.Run})
		if err != nil {
			return fmt.Errorf("find attestations of input %s: %w", in.Name, err)
		}
		for _, a := range atts {
			if a.Kind == gantry.KindGate {
				continue
			}
			prev, err := v.check(ctx, a, in.Digest)
			if err != nil {
				return err
			}
			if prev.Run != l.Run {
				return gantry.Errorf(gantry.EConflict, "attestation %s of input %s is of run %s, not %s", a.Digest.Short(), in.Name, prev.Run, l.Run)
			}
			ch.Steps = append(ch.Steps, prev)
			if err := v.walk(ctx, ch, prev); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameEnvelope reports whether two DSSE envelopes say the same, whatever
// their JSON spelling.
func sameEnvelope(a, b []byte) bool {
	type sig struct {
		Sig string `json:"sig"`
	}
	type envelope struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []sig  `json:"signatures"`
	}
	var x, y envelope
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return x.PayloadType == y.PayloadType && x.Payload == y.Payload && slices.Equal(x.Signatures, y.Signatures)
}

// linkOf reads what a chain shows from a signed statement.
func linkOf(st *intoto.Statement) (*Link, error) {
	l := &Link{PredicateType: st.GetPredicateType()}
	for _, s := range st.GetSubject() {
		if h := s.GetDigest()["sha256"]; h != "" {
			l.Subjects = append(l.Subjects, gantry.Subject{Name: s.GetName(), Digest: gantry.Digest("sha256:" + h)})
		}
	}
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("read predicate: %w", err)
	}
	var p predicateView
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("read predicate: %w", err)
	}
	switch l.PredicateType {
	case PredicateProvenance:
		l.Kind = gantry.KindProvenance
		ext := p.BuildDefinition.ExternalParameters
		l.Stage, l.Step, l.Source = ext.Stage, ext.Step, ext.Source
		l.Run = runOf(p.RunDetails.Metadata.InvocationID)
		for _, b := range p.RunDetails.Byproducts {
			if b.Annotations.Status != "" {
				l.Status = b.Annotations.Status
			}
		}
		for _, dep := range p.BuildDefinition.ResolvedDependencies {
			if c := dep.Digest["gitCommit"]; c != "" {
				l.Commit = c
			} else if h := dep.Digest["sha256"]; h != "" && dep.Name != "" {
				l.Inputs = append(l.Inputs, gantry.Subject{Name: dep.Name, Digest: gantry.Digest("sha256:" + h)})
			}
		}
	case PredicateGate:
		l.Kind = gantry.KindGate
		l.Run, l.Stage, l.Allowed, l.Reasons, l.Decider = gantry.RunID(p.Run), p.Stage, p.Allowed, p.Reasons, p.Decider
	case PredicateLink, PredicateTestResult, PredicateVulns, PredicateScan:
		l.Kind = map[string]string{PredicateLink: gantry.KindLink, PredicateTestResult: gantry.KindTestResult,
			PredicateVulns: gantry.KindVulns, PredicateScan: gantry.KindScan}[l.PredicateType]
		l.Step, l.Status = p.Name, cmp.Or(p.Byproducts.Status, p.Status, p.Result)
		for _, m := range p.Materials {
			if h := m.Digest["sha256"]; h != "" {
				l.Inputs = append(l.Inputs, gantry.Subject{Name: m.Name, Digest: gantry.Digest("sha256:" + h)})
			}
		}
	default:
		return nil, gantry.Errorf(gantry.EInvalid, "unknown predicate type %q", l.PredicateType)
	}
	return l, nil
}

// runOf takes the run ID out of an invocation ID "RUN/STEP".
func runOf(invocation string) gantry.RunID {
	run, _, _ := strings.Cut(invocation, "/")
	return gantry.RunID(run)
}

// predicateView is the part of every predicate a chain shows.
type predicateView struct {
	BuildDefinition struct {
		ExternalParameters struct {
			Stage  string `json:"stage"`
			Step   string `json:"step"`
			Source string `json:"source"`
		} `json:"externalParameters"`
		ResolvedDependencies []struct {
			Name   string            `json:"name"`
			URI    string            `json:"uri"`
			Digest map[string]string `json:"digest"`
		} `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Metadata struct {
			InvocationID string `json:"invocationId"`
		} `json:"metadata"`
		Byproducts []struct {
			Annotations struct {
				Status string `json:"status"`
			} `json:"annotations"`
		} `json:"byproducts"`
	} `json:"runDetails"`
	// gate
	Run     string   `json:"run"`
	Stage   string   `json:"stage"`
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons"`
	Decider string   `json:"decider"`
	// link, scans, tests
	Name      string `json:"name"`
	Status    string `json:"status"`
	Result    string `json:"result"`
	Materials []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"materials"`
	Byproducts struct {
		Status string `json:"status"`
	} `json:"byproducts"`
}
