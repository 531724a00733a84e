package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
	"gantry.dev/gantry/internal/ledger"
)

// Source is what Collect reads: a store's changes, runs, stages,
// attestations and ledger.
type Source interface {
	gantry.ChangeStore
	Run(ctx context.Context, id gantry.RunID) (*gantry.Run, error)
	Stages(ctx context.Context, run gantry.RunID) ([]*gantry.StageResult, error)
	Attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error)
	AuditEvents(ctx context.Context, f gantry.AuditFilter) ([]*gantry.AuditEvent, error)
	gantry.LedgerStore
}

// ApproveAction is the audit action of an approval, as the CLI and the
// server record it: its target is the change's gantry.ChangeName, its
// detail the environment and the kind.
const ApproveAction = "change.approve"

// CollectOptions say which changes Collect reports on.
type CollectOptions struct {
	Project  string // "" for every project
	From, To time.Time
	System   string
	// ProtectedBranches are branch globs: a change built from one is
	// built from a protected branch.
	ProtectedBranches []string
	// RunURL, when set, makes the link of a run from its ID.
	RunURL func(gantry.RunID) string
	Now    time.Time
}

// ParseBound reads a bound of a report's period, named name in messages: a
// date (midnight UTC) or an RFC 3339 time; "" does not bound.
func ParseBound(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, gantry.Errorf(gantry.EInvalid, "%s %q: expected a date (YYYY-MM-DD, UTC) or an RFC 3339 time", name, v)
}

// Collect builds the report of the changes opened in [From, To): each
// with its classification, approvals, gate decisions, runs and a link to
// every attestation of its runs, with the proof that the ledger holds it,
// against the latest signed checkpoint. Attestations the latest
// checkpoint does not cover yet (a run still going) are left out and
// counted in the second result.
func Collect(ctx context.Context, src Source, opts CollectOptions) (*Report, int, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if !opts.From.IsZero() && !opts.To.IsZero() && !opts.From.Before(opts.To) {
		return nil, 0, gantry.Errorf(gantry.EInvalid, "report: the period is empty: %s is not before %s",
			opts.From.Format(time.DateOnly), opts.To.Format(time.DateOnly))
	}
	changes, err := src.Changes(ctx, gantry.ChangeFilter{Project: opts.Project, From: opts.From, To: opts.To})
	if err != nil {
		return nil, 0, fmt.Errorf("report: list changes: %w", err)
	}
	var size int64
	if cp, err := src.LatestCheckpoint(ctx); err == nil {
		size = cp.Size
	} else if !errors.Is(err, gantry.ErrNotFound) {
		return nil, 0, fmt.Errorf("report: read the ledger's checkpoint: %w", err)
	}
	r := &Report{From: opts.From, To: opts.To, System: opts.System, GeneratedAt: opts.Now.UTC()}
	if r.To.IsZero() {
		r.To = opts.Now.UTC()
	}
	if r.From.IsZero() {
		r.From = r.To
		for _, c := range changes {
			r.From = minTime(r.From, c.Opened)
		}
	}
	audits, err := src.AuditEvents(ctx, gantry.AuditFilter{Action: ApproveAction})
	if err != nil {
		return nil, 0, fmt.Errorf("report: read the approvals' audit events: %w", err)
	}
	unproven := 0
	// Changes come newest first; a report reads oldest first.
	for i := len(changes) - 1; i >= 0; i-- {
		rc, n, err := collectChange(ctx, src, opts, changes[i], size, audits)
		if err != nil {
			return nil, 0, err
		}
		unproven += n
		r.Changes = append(r.Changes, rc)
	}
	return r, unproven, nil
}

func collectChange(ctx context.Context, src Source, opts CollectOptions, c *gantry.Change, size int64, audits []*gantry.AuditEvent) (Change, int, error) {
	rc := Change{
		ID: c.ID, Title: c.Title, Opened: c.Opened.UTC(), Author: c.Author, Branch: c.Branch,
	}
	if opts.Project == "" {
		rc.ID = gantry.ChangeName(c.Project, c.ID)
	}
	for _, cm := range c.Commits {
		rc.Commits = append(rc.Commits, cm.SHA)
	}
	if pr := c.PullRequest; pr != nil {
		rc.PullRequest = pr.URL
		if rc.PullRequest == "" {
			rc.PullRequest = "#" + strconv.Itoa(pr.Number)
		}
	}
	for _, p := range opts.ProtectedBranches {
		if c.Branch != "" && glob.Match(p, c.Branch) {
			rc.ProtectedBranch = true
		}
	}
	if cl := c.Classification; cl != nil {
		rc.Classification = Classification{Class: Class(cl.Class), Score: cl.Score}
		for _, f := range cl.Factors {
			rc.Classification.Factors = append(rc.Classification.Factors, Factor{Name: f.Name, Score: f.Score, Detail: f.Detail})
		}
	}
	approvals, err := src.Approvals(ctx, c.Project, c.ID)
	if err != nil {
		return rc, 0, fmt.Errorf("report: approvals of change %s: %w", c.ID, err)
	}
	unproven := 0
	for _, a := range approvals {
		rc.Approvals = append(rc.Approvals, Approval{Who: a.Approver, Role: string(a.Role), At: a.At.UTC(), Env: a.Environment, Exception: a.Exception})
		ev := approvalEvent(audits, c, a)
		if ev == nil {
			continue
		}
		if ev.LedgerIndex < 0 || ev.LedgerIndex >= size {
			unproven++
			continue
		}
		l, err := approvalLink(ctx, src, ev, size)
		if err != nil {
			return rc, 0, fmt.Errorf("report: approval of change %s by %s: %w", c.ID, a.Approver, err)
		}
		rc.Evidence = append(rc.Evidence, l)
	}
	for _, id := range c.Runs {
		run, err := src.Run(ctx, id)
		if errors.Is(err, gantry.ErrNotFound) {
			continue
		}
		if err != nil {
			return rc, 0, fmt.Errorf("report: run %s of change %s: %w", id, c.ID, err)
		}
		rr := Run{ID: string(run.ID), Status: string(run.Status), Started: run.StartedAt.UTC(), Finished: run.FinishedAt.UTC()}
		if opts.RunURL != nil {
			rr.URL = opts.RunURL(run.ID)
		}
		rc.Runs = append(rc.Runs, rr)
		stages, err := src.Stages(ctx, id)
		if err != nil {
			return rc, 0, fmt.Errorf("report: stages of run %s: %w", id, err)
		}
		for _, st := range stages {
			if st.Status == gantry.StatusSkipped || st.FinishedAt.IsZero() {
				continue
			}
			gd := GateDecision{Stage: st.Name, Allowed: st.Gate.Allowed, Reasons: st.Gate.Reasons, At: st.FinishedAt.UTC()}
			for _, part := range strings.Fields(st.Gate.Decider) {
				if d := gantry.Digest(part); d.Valid() {
					gd.PolicyDigest = d
				}
			}
			rc.Gates = append(rc.Gates, gd)
		}
		atts, err := src.Attestations(ctx, gantry.AttestationFilter{RunID: id})
		if err != nil {
			return rc, 0, fmt.Errorf("report: attestations of run %s: %w", id, err)
		}
		for _, a := range atts {
			if a.LedgerIndex < 0 || a.LedgerIndex >= size {
				unproven++
				continue
			}
			in, err := ledger.ProveInclusion(ctx, src, a.LedgerIndex, size)
			if err != nil {
				return rc, 0, fmt.Errorf("report: attestation %s of run %s: %w", a.Digest.Short(), id, err)
			}
			rc.Evidence = append(rc.Evidence, EvidenceLink{Kind: a.Kind, Digest: a.Digest, Index: a.LedgerIndex, Inclusion: in})
		}
	}
	return rc, unproven, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// approvalEvent finds the audit event that recorded an approval: the
// approver's successful change.approve of the change, for its environment
// and kind, the latest if there are several.
func approvalEvent(audits []*gantry.AuditEvent, c *gantry.Change, a *gantry.Approval) *gantry.AuditEvent {
	target := gantry.ChangeName(c.Project, c.ID)
	for _, ev := range audits { // newest first
		if ev.Action == ApproveAction && ev.Outcome == "success" && ev.Actor == a.Approver && ev.Target == target &&
			ev.Detail["environment"] == a.Environment && ev.Detail["kind"] == a.Kind {
			return ev
		}
	}
	return nil
}

// approvalLink links an approval to its audit event's ledger entry: the
// digest the ledger records is that of the event's JSON with LedgerIndex
// -1, as it was appended, and the event itself goes with the link.
func approvalLink(ctx context.Context, src Source, ev *gantry.AuditEvent, size int64) (EvidenceLink, error) {
	c := *ev
	c.LedgerIndex = -1
	record, err := json.Marshal(&c)
	if err != nil {
		return EvidenceLink{}, err
	}
	in, err := ledger.ProveInclusion(ctx, src, ev.LedgerIndex, size)
	if err != nil {
		return EvidenceLink{}, err
	}
	return EvidenceLink{Kind: KindApproval, Digest: gantry.DigestBytes(record), Index: ev.LedgerIndex, Inclusion: in, Record: record}, nil
}
