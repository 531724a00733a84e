// Package report turns the changes of a period, with the evidence behind
// them, into compliance reports: OSCAL 1.1 assessment results for tools,
// an HTML report for people, and Verify, which checks every evidence link
// of an OSCAL report offline against the ledger's key.
//
// Collect builds a Report from a store's changes, runs and ledger; the
// types here are the report's own, so that a report reads the same
// whatever store it came from.
package report

import (
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
)

// Class is a change's classification.
type Class string

// The classes of a change.
const (
	// Standard changes are pre-approved: policy allowed them on their
	// evidence alone.
	Standard Class = "standard"
	// Normal changes need approvals from someone other than the author.
	Normal Class = "normal"
	// Urgent changes proceed at once and owe a retrospective review,
	// recorded as an approval.
	Urgent Class = "urgent"
)

// Valid reports whether c is one of the three classes.
func (c Class) Valid() bool { return c == Standard || c == Normal || c == Urgent }

// KindSBOM is the evidence kind of an SBOM attestation, beside the kinds
// of the root package (gantry.KindProvenance, KindTestResult, KindVulns,
// KindScan, KindLink, KindGate).
const KindSBOM = "sbom"

// KindApproval is the evidence kind of an approval: the audit event that
// recorded it, in the ledger, with the event itself in the link's Record.
const KindApproval = "approval"

// Report is every change of a period, with its evidence.
type Report struct {
	// From and To bound the period: changes opened in [From, To).
	From, To time.Time
	// System names what was assessed (a project, a service); "Gantry
	// changes" when empty.
	System string
	// Changes are the period's changes, in the order to show them.
	Changes []Change
	// GeneratedAt is when the report was made: its OSCAL last-modified.
	GeneratedAt time.Time
	// AssessmentPlan is the href of the OSCAL assessment plan the results
	// answer. When empty the report describes its own plan (the control
	// table of this package) in a back-matter resource and imports that.
	AssessmentPlan string
}

// Change is one change: what it is, how it was classified, who approved
// it, what the gates decided and the evidence that proves it.
type Change struct {
	ID    string
	Title string
	// Opened is when the change was opened (pushed, or its pull request
	// opened): approval latency counts from here.
	Opened time.Time
	// Commits are the change's commit hashes, oldest first.
	Commits []string
	Author  string
	// PullRequest is the pull request's URL or number; empty in local
	// mode.
	PullRequest string
	// Branch is the branch the change was built from, and ProtectedBranch
	// whether the forge protects it (reviews required, no force pushes).
	Branch          string
	ProtectedBranch bool
	Classification  Classification
	Approvals       []Approval
	Gates           []GateDecision
	Runs            []Run
	Evidence        []EvidenceLink
}

// Classification is a change's class with the risk score that decided it
// and the factors that make up the score.
type Classification struct {
	Class   Class
	Score   float64
	Factors []Factor
}

// Factor is one risk factor of a classification: its name, what it
// added to the score, and why, in words.
type Factor struct {
	Name   string
	Score  float64
	Detail string
}

// Approval is one person's approval of a change, for an environment.
type Approval struct {
	Who  string
	Role string
	At   time.Time
	// Env is the environment approved for; empty for any.
	Env string
	// Exception, when not empty, is the documented reason this approval
	// stands although the approver is the author (a single-maintainer
	// project). Such an approval is reported as an exception.
	Exception string
}

// GateDecision is what a stage's gate decided, and under which policy.
type GateDecision struct {
	Stage   string
	Allowed bool
	// Reasons are the policy's deny (and warn) messages.
	Reasons      []string
	PolicyDigest gantry.Digest
	At           time.Time
}

// Run is one pipeline run of a change.
type Run struct {
	ID       string
	Status   string
	Started  time.Time
	Finished time.Time
	// URL is where the run can be seen; optional.
	URL string
}

// EvidenceLink links a change to one attestation in the ledger: its
// kind, the digest of its DSSE envelope, the ledger entry that records it
// and the proof that the entry is in the log.
type EvidenceLink struct {
	// Kind is the attestation's kind: gantry.KindProvenance,
	// KindTestResult, KindVulns, KindScan, KindLink, KindGate or
	// KindSBOM. It decides which controls the link evidences.
	Kind   string
	Digest gantry.Digest
	// Index is the ledger entry's index; it must equal Inclusion.Index.
	Index int64
	// Inclusion proves offline that entry Index, which records Digest, is
	// in the log. A link without it evidences nothing and fails Verify.
	Inclusion *ledger.Inclusion
	// URL is where the attestation can be fetched; optional.
	URL string
	// Record is what the ledger entry records the digest of, when the
	// report carries it: an approval's audit event, as JSON. Verify
	// checks that it hashes to Digest and says what the report claims.
	Record []byte
}
