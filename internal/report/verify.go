package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	oscal "github.com/defenseunicorns/go-oscal/src/types/oscal-1-1-3"
	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
)

// MaxReport bounds the size of an OSCAL report Verify reads.
const MaxReport = 256 << 20

// ErrEvidence is wrapped by Verify's errors that say an evidence link
// does not hold: its proof, checkpoint or entry was altered, or it is
// malformed.
var ErrEvidence = errors.New("evidence link does not hold")

// VerifyResult is what Verify checked.
type VerifyResult struct {
	// Links is the number of evidence links checked, Changes the number
	// of changes they belong to.
	Links   int
	Changes int
	// Checkpoints are the distinct signed checkpoints the links' proofs
	// rest on, in the order first met.
	Checkpoints []ledger.Checkpoint
}

// Verify checks every evidence link of an OSCAL report, as WriteOSCAL
// writes it, offline: that its inclusion proof holds in its checkpoint,
// that the checkpoint is signed by ledgerKey, and that the entry records
// the linked attestation digest at the linked index. It returns the first
// link that fails, named by change, digest and ledger entry, in an error
// wrapping ErrEvidence. A report that links no evidence fails too: no
// evidence is not a pass.
func Verify(ctx context.Context, reportJSON []byte, ledgerKey note.Verifier) (*VerifyResult, error) {
	if len(reportJSON) > MaxReport {
		return nil, gantry.Errorf(gantry.EInvalid, "report is %d bytes, more than the %d a report may be", len(reportJSON), MaxReport)
	}
	var doc oscal.OscalCompleteSchema
	if err := json.Unmarshal(reportJSON, &doc); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read oscal report: %v", err)
	}
	if doc.AssessmentResults == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "read oscal report: it holds no assessment-results")
	}
	return VerifyResults(ctx, doc.AssessmentResults, ledgerKey)
}

// VerifyResults is Verify on a decoded OSCAL document.
func VerifyResults(ctx context.Context, ar *oscal.AssessmentResults, ledgerKey note.Verifier) (*VerifyResult, error) {
	if ledgerKey == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "verify report: no ledger key")
	}
	resources := map[string]*oscal.Resource{}
	if ar.BackMatter != nil && ar.BackMatter.Resources != nil {
		for i := range *ar.BackMatter.Resources {
			r := &(*ar.BackMatter.Resources)[i]
			resources[r.UUID] = r
		}
	}
	res := &VerifyResult{}
	changes := map[string]bool{}
	seen := map[ledger.Checkpoint]bool{}
	for _, result := range ar.Results {
		if result.Observations == nil {
			continue
		}
		for _, o := range *result.Observations {
			l, ok, err := readLink(&o)
			if !ok {
				continue
			}
			if err == nil {
				err = ctx.Err()
			}
			var c ledger.Checkpoint
			if err == nil {
				c, err = checkLink(l, &o, resources, ledgerKey)
			}
			if err != nil {
				return nil, &gantry.Error{Kind: gantry.EConflict, Err: errors.Join(ErrEvidence, err),
					Message: fmt.Sprintf("evidence link %d (%s): %s", res.Links+1, l.name(), gantry.ErrorMessageOrText(err))}
			}
			res.Links++
			changes[l.change] = true
			if !seen[c] {
				seen[c] = true
				res.Checkpoints = append(res.Checkpoints, c)
			}
		}
	}
	if res.Links == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "verify report: it links no ledger evidence")
	}
	res.Changes = len(changes)
	return res, nil
}

// link is an evidence link as an observation carries it.
type link struct {
	obs    string
	change string
	kind   string
	digest gantry.Digest
	index  int64
	rawIdx string
}

func (l *link) name() string {
	var parts []string
	if l.change != "" {
		parts = append(parts, "change "+l.change)
	}
	if l.digest != "" {
		parts = append(parts, "attestation "+string(l.digest))
	}
	if l.rawIdx != "" {
		parts = append(parts, "ledger entry "+l.rawIdx)
	}
	if len(parts) == 0 {
		parts = append(parts, "observation "+l.obs)
	}
	return strings.Join(parts, ", ")
}

// readLink reads the evidence link an observation carries; ok is false
// when it carries none (it has no digest prop).
func readLink(o *oscal.Observation) (l *link, ok bool, err error) {
	if o.Props == nil {
		return nil, false, nil
	}
	values := map[string][]string{}
	for _, p := range *o.Props {
		if p.Ns == NS {
			values[p.Name] = append(values[p.Name], p.Value)
		}
	}
	if len(values[PropDigest]) == 0 {
		return nil, false, nil
	}
	l = &link{obs: o.UUID}
	one := func(name string) (string, error) {
		if v := values[name]; len(v) != 1 {
			return "", gantry.Errorf(gantry.EInvalid, "observation %s has %d %q props, not one", o.UUID, len(v), name)
		}
		return values[name][0], nil
	}
	if l.change, err = one(PropChange); err != nil {
		return l, true, err
	}
	if l.kind, err = one(PropKind); err != nil {
		return l, true, err
	}
	d, err := one(PropDigest)
	if err != nil {
		return l, true, err
	}
	l.digest = gantry.Digest(d)
	if l.rawIdx, err = one(PropIndex); err != nil {
		return l, true, err
	}
	if !l.digest.Valid() {
		return l, true, gantry.Errorf(gantry.EInvalid, "digest %q is not sha256:<64 lowercase hex digits>", l.digest)
	}
	if l.index, err = strconv.ParseInt(l.rawIdx, 10, 64); err != nil || l.index < 0 || strconv.FormatInt(l.index, 10) != l.rawIdx {
		return l, true, gantry.Errorf(gantry.EInvalid, "ledger index %q is not a decimal index", l.rawIdx)
	}
	return l, true, nil
}

// checkLink checks one link's inclusion proof and returns the checkpoint
// it rests on.
func checkLink(l *link, o *oscal.Observation, resources map[string]*oscal.Resource, v note.Verifier) (ledger.Checkpoint, error) {
	if o.RelevantEvidence == nil || len(*o.RelevantEvidence) != 1 {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EInvalid, "no inclusion proof: the observation must have one relevant-evidence naming it")
	}
	href := (*o.RelevantEvidence)[0].Href
	id, ok := strings.CutPrefix(href, "#")
	r := resources[id]
	if !ok || r == nil {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EInvalid, "its inclusion proof %q is not a back-matter resource of the report", href)
	}
	if r.Base64 == nil || r.Base64.MediaType != inclusionMediaType {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EInvalid, "back-matter resource %s holds no %s inclusion proof", id, inclusionMediaType)
	}
	js, err := base64.StdEncoding.Strict().DecodeString(r.Base64.Value)
	if err != nil {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EInvalid, "inclusion proof in resource %s is not base64: %v", id, err)
	}
	in, err := decodeInclusion(js)
	if err != nil {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EInvalid, "inclusion proof in resource %s: %v", id, err)
	}
	if in.Index != l.index {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EConflict, "the inclusion proof is of ledger entry %d, not %d", in.Index, l.index)
	}
	c, err := in.Check(v)
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	leaf, err := ledger.ParseLeaf(in.Entry)
	if err != nil {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EConflict, "ledger entry %d: %w", in.Index, err)
	}
	if l.kind == KindApproval {
		if leaf.Kind != ledger.KindAudit || leaf.Digest != l.digest {
			return ledger.Checkpoint{}, gantry.Errorf(gantry.EConflict, "ledger entry %d records %s, not audit event %s", in.Index, leaf, l.digest)
		}
		if err := checkApprovalRecord(l, o, resources); err != nil {
			return ledger.Checkpoint{}, err
		}
		return c, nil
	}
	if leaf.Kind != ledger.KindAttestation || leaf.Digest != l.digest {
		return ledger.Checkpoint{}, gantry.Errorf(gantry.EConflict, "ledger entry %d records %s, not attestation %s", in.Index, leaf, l.digest)
	}
	return c, nil
}

// checkApprovalRecord checks the audit event an approval link carries:
// it hashes to the link's digest, and it is a successful approval of the
// link's change.
func checkApprovalRecord(l *link, o *oscal.Observation, resources map[string]*oscal.Resource) error {
	var rec *oscal.Resource
	if o.Links != nil {
		for _, k := range *o.Links {
			if id, ok := strings.CutPrefix(k.Href, "#"); ok {
				if r := resources[id]; r != nil && r.Base64 != nil && r.Base64.MediaType == recordMediaType {
					rec = r
				}
			}
		}
	}
	if rec == nil {
		return gantry.Errorf(gantry.EInvalid, "no audit event: an approval's observation must link to it")
	}
	js, err := base64.StdEncoding.Strict().DecodeString(rec.Base64.Value)
	if err != nil {
		return gantry.Errorf(gantry.EInvalid, "audit event in resource %s is not base64: %v", rec.UUID, err)
	}
	if d := gantry.DigestBytes(js); d != l.digest {
		return gantry.Errorf(gantry.EConflict, "the audit event in resource %s hashes to %s, not %s", rec.UUID, d, l.digest)
	}
	var ev gantry.AuditEvent
	if err := json.Unmarshal(js, &ev); err != nil {
		return gantry.Errorf(gantry.EInvalid, "audit event in resource %s: %v", rec.UUID, err)
	}
	if ev.Action != ApproveAction || ev.Outcome != "success" || (ev.Target != l.change && !strings.HasSuffix(ev.Target, "/"+l.change)) {
		return gantry.Errorf(gantry.EConflict, "audit event %s is %s %s of %s, not an approval of change %s", l.digest, ev.Action, ev.Outcome, ev.Target, l.change)
	}
	return nil
}

// decodeInclusion decodes an inclusion proof's JSON strictly: one
// object, no unknown fields.
func decodeInclusion(js []byte) (*ledger.Inclusion, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var in ledger.Inclusion
	if err := dec.Decode(&in); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the proof")
	}
	return &in, nil
}
