package report

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	oscal "github.com/defenseunicorns/go-oscal/src/types/oscal-1-1-3"

	"gantry.dev/gantry"
)

// How an OSCAL report carries its evidence links, so that Verify can
// check them with nothing but the report and the ledger's key:
//
//   - each link is an observation with the props, in namespace NS,
//     "attestation-digest" (sha256:…), "ledger-index" (decimal),
//     "evidence-kind" and "change-id";
//   - its one relevant-evidence has the href "#<uuid>" of a back-matter
//     resource whose base64 value is the JSON of the link's
//     ledger.Inclusion (index, entry, signed checkpoint, proof), media
//     type application/json.
//
// Props and back-matter resources are OSCAL's own places for
// extension data and attached content, so the document stays plain OSCAL
// that any tool reads; only Verify needs to know the names.

// NS is the namespace of Gantry's OSCAL props.
const NS = "https://gantry.dev/ns/oscal"

// The names of the props of an evidence link's observation.
const (
	PropDigest = "attestation-digest"
	PropIndex  = "ledger-index"
	PropKind   = "evidence-kind"
	PropChange = "change-id"
)

// inclusionMediaType is the media type of an inclusion resource.
const inclusionMediaType = "application/json"

// recordMediaType is the media type of the resource that carries what an
// evidence link's ledger entry records the digest of: an audit event.
const recordMediaType = "application/vnd.gantry.audit-event+json"

// WriteOSCAL writes r as an OSCAL 1.1 assessment-results document in
// JSON: one result for the period, an observation for each change and for
// each of its evidence links, and a finding for each control.
func WriteOSCAL(w io.Writer, r *Report) error {
	doc, err := AssessmentResults(r)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(oscal.OscalCompleteSchema{AssessmentResults: doc}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode oscal report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write oscal report: %w", err)
	}
	return nil
}

// AssessmentResults returns r as an OSCAL assessment-results model,
// which WriteOSCAL encodes.
func AssessmentResults(r *Report) (*oscal.AssessmentResults, error) {
	if err := check(r); err != nil {
		return nil, err
	}
	b := &builder{r: r, seed: seed(r)}
	return b.build()
}

// check rejects a report that cannot be written truthfully.
func check(r *Report) error {
	if r == nil {
		return gantry.Errorf(gantry.EInvalid, "no report")
	}
	if r.To.Before(r.From) {
		return gantry.Errorf(gantry.EInvalid, "report period ends (%s) before it starts (%s)", r.To.Format(time.RFC3339), r.From.Format(time.RFC3339))
	}
	for _, c := range r.Changes {
		if oneLine(c.ID) == "" {
			return gantry.Errorf(gantry.EInvalid, "a change of the report has no id")
		}
		for _, l := range c.Evidence {
			if !l.Digest.Valid() {
				return gantry.Errorf(gantry.EInvalid, "change %s: evidence digest %q is not sha256:<64 lowercase hex digits>", c.ID, l.Digest)
			}
			if oneLine(l.Kind) == "" {
				return gantry.Errorf(gantry.EInvalid, "change %s: evidence %s has no kind", c.ID, l.Digest)
			}
			if l.Inclusion != nil && l.Inclusion.Index != l.Index {
				return gantry.Errorf(gantry.EInvalid, "change %s: evidence %s is ledger entry %d, but its inclusion proof is of entry %d", c.ID, l.Digest, l.Index, l.Inclusion.Index)
			}
		}
	}
	return nil
}

// seed is what the report's UUIDs are derived from, so that one report
// always gives one document.
func seed(r *Report) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", r.System, r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano), r.GeneratedAt.UTC().Format(time.RFC3339Nano))
	for _, c := range r.Changes {
		fmt.Fprintf(h, "%s\x00", c.ID)
		for _, l := range c.Evidence {
			fmt.Fprintf(h, "%s\x00%d\x00", l.Digest, l.Index)
		}
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

type builder struct {
	r    *Report
	seed [32]byte
}

// uuid returns the UUID of the item name: in the version 4 form OSCAL
// asks for, with bits from a hash of the report and the name rather than
// from a random source.
func (b *builder) uuid(name ...string) string {
	h := sha256.New()
	h.Write(b.seed[:])
	h.Write([]byte(strings.Join(name, "\x00")))
	s := h.Sum(nil)[:16]
	s[6] = s[6]&0x0f | 0x40
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

func (b *builder) build() (*oscal.AssessmentResults, error) {
	r := b.r
	system := oneLine(r.System)
	if system == "" {
		system = "Gantry changes"
	}
	from, to := r.From.UTC(), r.To.UTC()
	generated := r.GeneratedAt.UTC()

	var resources []oscal.Resource
	importAP := r.AssessmentPlan
	if importAP == "" {
		plan := b.uuid("assessment-plan")
		resources = append(resources, oscal.Resource{
			UUID:        plan,
			Title:       "Gantry continuous assessment plan",
			Description: planDescription(),
		})
		importAP = "#" + plan
	}

	var observations []oscal.Observation
	// byControl collects, for each control, the observations bearing on it.
	byControl := map[string][]oscal.RelatedObservation{}
	for ci := range r.Changes {
		c := &r.Changes[ci]
		changeObs := b.uuid("change", c.ID)
		var evidenceLinks []oscal.Link
		var linkObs []oscal.Observation
		for li, l := range c.Evidence {
			obs := b.uuid("evidence", c.ID, strconv.Itoa(li))
			o := oscal.Observation{
				UUID:        obs,
				Title:       fmt.Sprintf("%s attestation %s", l.Kind, l.Digest),
				Description: fmt.Sprintf("A %s attestation of change %s, recorded as ledger entry %d.", oneLine(l.Kind), oneLine(c.ID), l.Index),
				Methods:     []string{"EXAMINE"},
				Collected:   generated,
				Props: &[]oscal.Property{
					prop(PropChange, c.ID),
					prop(PropKind, l.Kind),
					prop(PropDigest, string(l.Digest)),
					prop(PropIndex, strconv.FormatInt(l.Index, 10)),
				},
				Links: &[]oscal.Link{{Href: "#" + changeObs, Rel: "related", Text: "the change"}},
			}
			if l.URL != "" {
				*o.Links = append(*o.Links, oscal.Link{Href: l.URL, Rel: "reference", Text: "the attestation"})
			}
			if l.Record != nil {
				rec := oscal.Resource{
					UUID:        b.uuid("record", c.ID, strconv.Itoa(li)),
					Title:       fmt.Sprintf("The audit event of ledger entry %d", l.Index),
					Description: "What the ledger entry records the digest of, as JSON: its SHA-256 is the linked digest.",
					Base64:      &oscal.Base64{Filename: fmt.Sprintf("audit-%d.json", l.Index), MediaType: recordMediaType, Value: base64.StdEncoding.EncodeToString(l.Record)},
				}
				resources = append(resources, rec)
				*o.Links = append(*o.Links, oscal.Link{Href: "#" + rec.UUID, Rel: "reference", MediaType: recordMediaType, Text: "the audit event"})
				o.Title = fmt.Sprintf("approval audit event %s", l.Digest)
				o.Description = fmt.Sprintf("The audit event that recorded an approval of change %s, ledger entry %d.", oneLine(c.ID), l.Index)
			}
			if l.Inclusion != nil {
				res, err := inclusionResource(b.uuid("inclusion", c.ID, strconv.Itoa(li)), l)
				if err != nil {
					return nil, fmt.Errorf("change %s: %w", c.ID, err)
				}
				resources = append(resources, res)
				o.RelevantEvidence = &[]oscal.RelevantEvidence{{
					Href:        "#" + res.UUID,
					Description: "The ledger inclusion proof: the entry, the signed checkpoint and the Merkle proof that the checkpoint's tree holds the entry.",
				}}
			} else {
				o.Remarks = "This link has no ledger inclusion proof: it evidences nothing."
			}
			linkObs = append(linkObs, o)
			evidenceLinks = append(evidenceLinks, oscal.Link{Href: "#" + obs, Rel: "related", Text: string(l.Digest)})
			for _, ctl := range controls {
				if ctl.relevant(l.Kind) {
					byControl[ctl.ID] = append(byControl[ctl.ID], oscal.RelatedObservation{ObservationUuid: obs})
				}
			}
		}
		co := oscal.Observation{
			UUID:        changeObs,
			Title:       "Change " + oneLine(c.ID) + titleSuffix(c.Title),
			Description: changeDescription(c),
			Methods:     []string{"EXAMINE"},
			Collected:   generated,
			Props:       changeProps(c),
		}
		if len(evidenceLinks) > 0 {
			co.Links = &evidenceLinks
		}
		observations = append(observations, co)
		observations = append(observations, linkObs...)
		for _, ctl := range controls {
			byControl[ctl.ID] = append(byControl[ctl.ID], oscal.RelatedObservation{ObservationUuid: changeObs})
		}
	}

	var includes []oscal.AssessedControlsSelectControlById
	var findings []oscal.Finding
	for _, a := range Assess(r) {
		ctl := a.Control
		includes = append(includes, oscal.AssessedControlsSelectControlById{ControlId: ctl.ID})
		state, reason := "not-satisfied", "fail"
		if a.Satisfied {
			state, reason = "satisfied", "pass"
		}
		f := oscal.Finding{
			UUID:        b.uuid("finding", ctl.ID),
			Title:       fmt.Sprintf("%s %s (%s)", ctl.Label, ctl.Title, ctl.Framework),
			Description: fmt.Sprintf("%s is satisfied by %s, for every change of the period.", ctl.Label, ctl.Evidence),
			Target: oscal.FindingTarget{
				Type:     "objective-id",
				TargetId: ctl.ID,
				Title:    ctl.Label + " " + ctl.Title,
				Status:   oscal.ObjectiveStatus{State: state, Reason: reason},
			},
			Props: &[]oscal.Property{prop("framework", ctl.Framework)},
		}
		switch {
		case len(r.Changes) == 0:
			f.Remarks = "No change in the period: no evidence, so not satisfied."
		case len(a.Failures) > 0:
			var sb strings.Builder
			fmt.Fprintf(&sb, "%d of %d changes do not satisfy %s:\n\n", len(a.Failures), len(r.Changes), ctl.Label)
			for _, fl := range a.Failures {
				fmt.Fprintf(&sb, "- change %s: %s\n", oneLine(fl.Change), oneLine(fl.Reason))
			}
			f.Remarks = sb.String()
		default:
			f.Remarks = fmt.Sprintf("All %d changes of the period satisfy %s.", len(r.Changes), ctl.Label)
		}
		if rel := byControl[ctl.ID]; len(rel) > 0 {
			f.RelatedObservations = &rel
		}
		findings = append(findings, f)
	}

	result := oscal.Result{
		UUID:        b.uuid("result"),
		Title:       fmt.Sprintf("Changes to %s from %s to %s", system, day(from), day(to)),
		Description: fmt.Sprintf("Every change to %s opened from %s to %s: its classification, approvals, gate decisions and the ledger evidence behind them, assessed against NIST SP 800-53 and SOC 2 change management controls.", system, from.Format(time.RFC3339), to.Format(time.RFC3339)),
		Start:       from,
		End:         &to,
		ReviewedControls: oscal.ReviewedControls{
			ControlSelections: []oscal.AssessedControls{{IncludeControls: &includes}},
		},
		Findings: &findings,
		Props:    resultProps(r),
	}
	if len(observations) > 0 {
		result.Observations = &observations
	}

	doc := &oscal.AssessmentResults{
		UUID: b.uuid("assessment-results"),
		Metadata: oscal.Metadata{
			Title:        fmt.Sprintf("Compliance report: %s, %s to %s", system, day(from), day(to)),
			LastModified: generated,
			Published:    &generated,
			Version:      "1",
			OscalVersion: oscal.Version,
		},
		ImportAp: oscal.ImportAp{Href: importAP},
		Results:  []oscal.Result{result},
	}
	if len(resources) > 0 {
		doc.BackMatter = &oscal.BackMatter{Resources: &resources}
	}
	return doc, nil
}

func inclusionResource(id string, l EvidenceLink) (oscal.Resource, error) {
	js, err := json.Marshal(l.Inclusion)
	if err != nil {
		return oscal.Resource{}, fmt.Errorf("encode the inclusion proof of ledger entry %d: %w", l.Index, err)
	}
	return oscal.Resource{
		UUID:        id,
		Title:       fmt.Sprintf("Inclusion proof of ledger entry %d", l.Index),
		Description: fmt.Sprintf("The JSON of the inclusion proof of ledger entry %d, which records attestation %s.", l.Index, l.Digest),
		Base64: &oscal.Base64{
			Filename:  fmt.Sprintf("ledger-entry-%d.json", l.Index),
			MediaType: inclusionMediaType,
			Value:     base64.StdEncoding.EncodeToString(js),
		},
	}, nil
}

func planDescription() string {
	var sb strings.Builder
	sb.WriteString("Gantry assesses every change continuously, from the evidence its pipeline records in a signed, append-only ledger. Controls and the evidence that satisfies them:\n\n")
	for _, ctl := range controls {
		fmt.Fprintf(&sb, "- %s %s (%s): %s.\n", ctl.Label, ctl.Title, ctl.Framework, ctl.Evidence)
	}
	return sb.String()
}

func changeDescription(c *Change) string {
	var sb strings.Builder
	cl := c.Classification
	fmt.Fprintf(&sb, "Change %s by %s, classified %s with risk score %s.\n", oneLine(c.ID), orNone(c.Author), orNone(string(cl.Class)), score(cl.Score))
	if len(cl.Factors) > 0 {
		sb.WriteString("\nRisk factors:\n\n")
		for _, f := range cl.Factors {
			fmt.Fprintf(&sb, "- %s (%s): %s\n", oneLine(f.Name), signed(f.Score), oneLine(f.Detail))
		}
	}
	if len(c.Approvals) > 0 {
		sb.WriteString("\nApprovals:\n\n")
		for _, a := range c.Approvals {
			fmt.Fprintf(&sb, "- %s (%s) at %s", oneLine(a.Who), orNone(a.Role), a.At.UTC().Format(time.RFC3339))
			if a.Env != "" {
				fmt.Fprintf(&sb, " for %s", oneLine(a.Env))
			}
			if a.Exception != "" {
				fmt.Fprintf(&sb, "; exception: %s", oneLine(a.Exception))
			}
			sb.WriteString("\n")
		}
	}
	if len(c.Gates) > 0 {
		sb.WriteString("\nGate decisions:\n\n")
		for _, g := range c.Gates {
			fmt.Fprintf(&sb, "- %s: %s under policy %s", oneLine(g.Stage), decision(g.Allowed), orNone(string(g.PolicyDigest)))
			if len(g.Reasons) > 0 {
				reasons := make([]string, len(g.Reasons))
				for i, r := range g.Reasons {
					reasons[i] = oneLine(r)
				}
				fmt.Fprintf(&sb, "; %s", strings.Join(reasons, "; "))
			}
			sb.WriteString("\n")
		}
	}
	if len(c.Runs) > 0 {
		sb.WriteString("\nRuns:\n\n")
		for _, run := range c.Runs {
			fmt.Fprintf(&sb, "- %s: %s\n", oneLine(run.ID), orNone(run.Status))
		}
	}
	return sb.String()
}

func changeProps(c *Change) *[]oscal.Property {
	ps := []oscal.Property{prop(PropChange, c.ID)}
	add := func(name, value string) {
		if oneLine(value) != "" {
			ps = append(ps, prop(name, value))
		}
	}
	add("classification", string(c.Classification.Class))
	add("risk-score", score(c.Classification.Score))
	add("author", c.Author)
	add("pull-request", c.PullRequest)
	add("branch", c.Branch)
	add("protected-branch", strconv.FormatBool(c.ProtectedBranch))
	for _, commit := range c.Commits {
		add("commit", commit)
	}
	for _, a := range c.Approvals {
		add("approver", a.Who)
		if a.Exception != "" {
			add("approval-exception", a.Exception)
		}
	}
	for _, g := range c.Gates {
		add("gate", oneLine(g.Stage)+" "+decision(g.Allowed))
		add("policy-digest", string(g.PolicyDigest))
	}
	for _, run := range c.Runs {
		add("run", run.ID)
	}
	return &ps
}

func resultProps(r *Report) *[]oscal.Property {
	n := map[Class]int{}
	for _, c := range r.Changes {
		n[c.Classification.Class]++
	}
	ps := []oscal.Property{prop("changes", strconv.Itoa(len(r.Changes)))}
	for _, cl := range []Class{Standard, Normal, Urgent} {
		ps = append(ps, prop(string(cl)+"-changes", strconv.Itoa(n[cl])))
	}
	return &ps
}

// prop returns a Gantry prop. OSCAL prop values are one line without
// leading or trailing space; oneLine makes them so.
func prop(name, value string) oscal.Property {
	return oscal.Property{Ns: NS, Name: name, Value: oneLine(value)}
}

// oneLine folds s to one line: runs of white space become one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orNone(s string) string {
	if s = oneLine(s); s == "" {
		return "(none)"
	}
	return s
}

func titleSuffix(title string) string {
	if title = oneLine(title); title != "" {
		return ": " + title
	}
	return ""
}

func decision(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

func score(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func signed(f float64) string {
	if f >= 0 {
		return "+" + score(f)
	}
	return score(f)
}

func day(t time.Time) string { return t.Format("2006-01-02") }
