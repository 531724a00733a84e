package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// changeTests check the ChangeStore part. Changes and approvals are
// compared strictly, as the server's records are (wantSame).
var changeTests = []storeTest{
	{"Changes/RoundTrip", testChangesRoundTrip},
	{"Changes/EmptyIsNil", testChangesEmptyIsNil},
	{"Changes/Copies", testChangesCopies},
	{"Changes/Replace", testChangesReplace},
	{"Changes/NotFound", testChangesNotFound},
	{"Changes/Order", testChangesOrder},
	{"Changes/Filter", testChangesFilter},
	{"Changes/Invalid", testChangesInvalid},
	{"Approvals/PutAndList", testApprovalsPutAndList},
	{"Approvals/Duplicate", testApprovalsDuplicate},
	{"Approvals/UnknownChange", testApprovalsUnknownChange},
	{"Approvals/Invalid", testApprovalsInvalid},
	{"Approvals/Concurrent", testApprovalsConcurrent},
	{"Changes/Context", testChangesContext},
}

// newChange returns a change with every field set, its times in t0's
// location; each call returns a new one.
func newChange(project, id string, opened time.Time) *gantry.Change {
	return &gantry.Change{
		ID:         id,
		Project:    project,
		Title:      "Add the ünïcode checkout",
		Author:     "alice",
		Branch:     "feature/checkout",
		BaseBranch: "main",
		Commits: []gantry.Commit{
			{SHA: "3f2a9c1d0b7e3f2a9c1d0b7e3f2a9c1d0b7e3f2a", Author: "alice", AuthorEmail: "alice@example.com",
				Subject: "Add checkout", Time: opened.Add(-time.Hour)},
			{SHA: "9c1d0b7e3f2a9c1d0b7e3f2a9c1d0b7e3f2a9c1d", Author: "bob"}, // no time: it stays zero
		},
		PullRequest: &gantry.PullRequest{Number: 12, URL: "https://git.example.com/acme/shop/pull/12", Base: "main", Head: "feature/checkout"},
		Reviews: []gantry.Review{
			{Reviewer: "carol", State: gantry.ReviewApproved, At: opened.Add(time.Minute)},
			{Reviewer: "dave", State: gantry.ReviewCommented},
		},
		Lines:  120,
		Files:  3,
		Paths:  []string{"cmd/shop/main.go", "go.mod", "docs/ünïcode.md"},
		Urgent: "",
		Opened: opened,
		Runs:   []gantry.RunID{"r1", "r2"},
		Classification: &gantry.Classification{
			Class:     gantry.ClassNormal,
			Score:     0.1 + 0.2, // not a short decimal: it must come back exact
			Threshold: 0.5,
			Factors: []gantry.RiskFactor{
				{Name: "size", Weight: 0.3, Score: 0.25, Detail: "120 lines in 3 files"},
				{Name: "paths", Weight: 0.7, Score: 1.0 / 3, Detail: "touches go.mod"},
			},
			Reasons: []string{"policy warned: no tests changed"},
			RunID:   "r2",
			At:      opened.Add(2 * time.Minute),
		},
		UpdatedAt: opened.Add(3 * time.Minute),
	}
}

// inUTC returns c as a store gives it back: its times in UTC.
func inUTC(c *gantry.Change) *gantry.Change {
	for i := range c.Commits {
		c.Commits[i].Time = c.Commits[i].Time.UTC()
	}
	for i := range c.Reviews {
		c.Reviews[i].At = c.Reviews[i].At.UTC()
	}
	if c.Classification != nil {
		c.Classification.At = c.Classification.At.UTC()
	}
	c.Opened, c.UpdatedAt = c.Opened.UTC(), c.UpdatedAt.UTC()
	return c
}

func mustPutChange(t *testing.T, s gantry.ChangeStore, cs ...*gantry.Change) {
	t.Helper()
	for _, c := range cs {
		if err := s.PutChange(t.Context(), c); err != nil {
			t.Fatalf("PutChange(%s/%s): %v", c.Project, c.ID, err)
		}
	}
}

func wantChange(t *testing.T, s gantry.ChangeStore, want *gantry.Change) {
	t.Helper()
	what := fmt.Sprintf("Change(%q, %q)", want.Project, want.ID)
	got, err := s.Change(t.Context(), want.Project, want.ID)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	wantSame(t, what, want, got)
	wantUTC(t, what, got.Opened, got.UpdatedAt)
	for _, c := range got.Commits {
		if !c.Time.IsZero() {
			wantUTC(t, what+" commit", c.Time)
		}
	}
	for _, r := range got.Reviews {
		if !r.At.IsZero() {
			wantUTC(t, what+" review", r.At)
		}
	}
	if got.Classification != nil {
		wantUTC(t, what+" classification", got.Classification.At)
	}
}

func changeIDs(cs []*gantry.Change) []string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.Project+"/"+c.ID)
	}
	return ids
}

func testChangesRoundTrip(t *testing.T, s gantry.Store) {
	full := newChange("shop", "pr-12", t0)
	local := newChange("", "3f2a9c1d0b7e", t0) // local mode: no project
	local.PullRequest, local.Urgent = nil, "the checkout is down"
	local.Classification.Class = gantry.ClassUrgent
	bare := &gantry.Change{ID: "0", Project: "shop", Opened: t0, UpdatedAt: t0.Add(time.Nanosecond)}
	long := newChange(strings.Repeat("a", 62)+"9", strings.Repeat("b", 63)+"9", t0)
	mustPutChange(t, s, full, local, bare, long)
	wantChange(t, s, inUTC(newChange("shop", "pr-12", t0)))
	want := inUTC(newChange("", "3f2a9c1d0b7e", t0))
	want.PullRequest, want.Urgent = nil, "the checkout is down"
	want.Classification.Class = gantry.ClassUrgent
	wantChange(t, s, want)
	wantChange(t, s, &gantry.Change{ID: "0", Project: "shop", Opened: t0.UTC(), UpdatedAt: t0.Add(time.Nanosecond).UTC()})
	wantChange(t, s, inUTC(newChange(strings.Repeat("a", 62)+"9", strings.Repeat("b", 63)+"9", t0)))

	// What a read gives back is the caller's: changing it changes nothing
	// stored.
	got, err := s.Change(t.Context(), "shop", "pr-12")
	wantNoError(t, "Change", err)
	got.Commits[0].Author, got.Paths[0], got.Classification.Factors[0].Score = "mallory", "x", 1
	wantChange(t, s, inUTC(newChange("shop", "pr-12", t0)))
}

func testChangesEmptyIsNil(t *testing.T, s gantry.Store) {
	c := &gantry.Change{
		ID: "pr-1", Project: "shop", Commits: []gantry.Commit{}, Reviews: []gantry.Review{}, Paths: []string{},
		Runs: []gantry.RunID{}, Opened: t0, UpdatedAt: t0,
		Classification: &gantry.Classification{Class: gantry.ClassStandard, Factors: []gantry.RiskFactor{}, Reasons: []string{}, At: t0},
	}
	mustPutChange(t, s, c)
	wantChange(t, s, &gantry.Change{ID: "pr-1", Project: "shop", Opened: t0.UTC(), UpdatedAt: t0.UTC(),
		Classification: &gantry.Classification{Class: gantry.ClassStandard, At: t0.UTC()}})
}

func testChangesCopies(t *testing.T, s gantry.Store) {
	// PutChange modifies nothing it is given: not the times' location,
	// not an empty list.
	c := newChange("shop", "pr-1", t0)
	c.Paths = []string{}
	mustPutChange(t, s, c)
	given := newChange("shop", "pr-1", t0)
	given.Paths = []string{}
	wantSame(t, "change after PutChange (it is not modified)", given, c)
	if c.Opened.Location() == time.UTC || c.Paths == nil {
		t.Errorf("PutChange modified the change it was given")
	}
	// Changing it after the put changes nothing stored.
	c.Commits[0].Author, c.Classification.Reasons[0], c.PullRequest.Number = "mallory", "x", 13
	want := inUTC(newChange("shop", "pr-1", t0))
	want.Paths = nil // an empty list comes back nil
	wantChange(t, s, want)

	a := newApproval("shop", "pr-1", "production", "carol", t0)
	if err := s.PutApproval(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	wantSame(t, "approval after PutApproval (it is not modified)", newApproval("shop", "pr-1", "production", "carol", t0), a)
}

func testChangesReplace(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0), newChange("shop", "pr-2", t0), newChange("blog", "pr-1", t0))
	// Everything is replaced but Opened, which the first put set.
	c := &gantry.Change{
		ID:        "pr-1",
		Project:   "shop",
		Title:     "Add the checkout, second try",
		Author:    "alice",
		Commits:   []gantry.Commit{{SHA: "aaaa", Author: "alice"}},
		Lines:     7,
		Opened:    t0.Add(time.Hour), // ignored
		Runs:      []gantry.RunID{"r1", "r2", "r3"},
		UpdatedAt: t0.Add(2 * time.Hour),
	}
	given := *c
	mustPutChange(t, s, c)
	want := given
	want.Opened, want.UpdatedAt = t0.UTC(), want.UpdatedAt.UTC()
	wantChange(t, s, &want)
	// The others are as they were.
	wantChange(t, s, inUTC(newChange("shop", "pr-2", t0)))
	wantChange(t, s, inUTC(newChange("blog", "pr-1", t0)))
	// A list shows the replacement, at the first put's place.
	all, err := s.Changes(t.Context(), gantry.ChangeFilter{Project: "shop"})
	wantNoError(t, "Changes", err)
	wantSame(t, "Changes after a replacement", []*gantry.Change{inUTC(newChange("shop", "pr-2", t0)), &want}, all)
}

func testChangesNotFound(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	for _, key := range [][2]string{{"shop", "pr-2"}, {"blog", "pr-1"}, {"", "pr-1"}, {"shop", ""}, {"", ""}, {"Not A Name", "Not An ID"}} {
		_, err := s.Change(t.Context(), key[0], key[1])
		wantNotFound(t, fmt.Sprintf("Change(%q, %q)", key[0], key[1]), err)
	}
	// Lists of nothing are empty, without error.
	for _, f := range []gantry.ChangeFilter{{Project: "blog"}, {From: t0.Add(time.Nanosecond)}, {To: t0}} {
		got, err := s.Changes(t.Context(), f)
		if err != nil || got != nil {
			t.Errorf("Changes(%+v) = %v, %v; want nil, nil", f, changeIDs(got), err)
		}
	}
}

func testChangesOrder(t *testing.T, s gantry.Store) {
	// Newest opened first, then by ID descending, by bytes: "pr-9" >
	// "pr-10" > "pr-1".
	mustPutChange(t, s,
		newChange("shop", "pr-1", t0),
		newChange("shop", "pr-10", t0),
		newChange("blog", "pr-9", t0),
		newChange("", "abc", t0.Add(time.Nanosecond)),
		newChange("shop", "pr-3", t0.Add(-time.Second).UTC()),
		newChange("blog", "pr-2", t0.Add(time.Hour)),
	)
	all, err := s.Changes(t.Context(), gantry.ChangeFilter{})
	wantNoError(t, "Changes", err)
	wantSame(t, "Changes of every project", []string{"blog/pr-2", "/abc", "blog/pr-9", "shop/pr-10", "shop/pr-1", "shop/pr-3"}, changeIDs(all))
	shop, err := s.Changes(t.Context(), gantry.ChangeFilter{Project: "shop"})
	wantNoError(t, "Changes", err)
	wantSame(t, "Changes of shop", []string{"shop/pr-10", "shop/pr-1", "shop/pr-3"}, changeIDs(shop))
	if len(all) > 0 {
		wantSame(t, "Changes' first", inUTC(newChange("blog", "pr-2", t0.Add(time.Hour))), all[0])
	}
}

func testChangesFilter(t *testing.T, s gantry.Store) {
	for i := range 5 {
		mustPutChange(t, s, newChange("shop", fmt.Sprintf("c%d", i), t0.Add(time.Duration(i)*time.Hour)))
	}
	mustPutChange(t, s, newChange("blog", "c2", t0.Add(2*time.Hour)))
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	for _, tc := range []struct {
		name string
		f    gantry.ChangeFilter
		want []string
	}{
		{"none", gantry.ChangeFilter{}, []string{"shop/c4", "shop/c3", "shop/c2", "blog/c2", "shop/c1", "shop/c0"}},
		{"project", gantry.ChangeFilter{Project: "blog"}, []string{"blog/c2"}},
		{"unknown project", gantry.ChangeFilter{Project: "none"}, []string{}},
		{"from, inclusive", gantry.ChangeFilter{Project: "shop", From: at(3)}, []string{"shop/c4", "shop/c3"}},
		{"to, exclusive", gantry.ChangeFilter{Project: "shop", To: at(1)}, []string{"shop/c0"}},
		{"to, a nanosecond after", gantry.ChangeFilter{Project: "shop", To: at(1).Add(time.Nanosecond)}, []string{"shop/c1", "shop/c0"}},
		{"from and to", gantry.ChangeFilter{From: at(1), To: at(3)}, []string{"shop/c2", "blog/c2", "shop/c1"}},
		{"from and to in UTC", gantry.ChangeFilter{From: at(1).UTC(), To: at(3).UTC()}, []string{"shop/c2", "blog/c2", "shop/c1"}},
		{"empty range", gantry.ChangeFilter{From: at(2), To: at(2)}, []string{}},
		{"limit", gantry.ChangeFilter{Limit: 2}, []string{"shop/c4", "shop/c3"}},
		{"limit beyond", gantry.ChangeFilter{Project: "blog", Limit: 5}, []string{"blog/c2"}},
		{"everything", gantry.ChangeFilter{Project: "shop", From: at(1), To: at(4), Limit: 2}, []string{"shop/c3", "shop/c2"}},
	} {
		got, err := s.Changes(t.Context(), tc.f)
		if err != nil {
			t.Errorf("Changes(%s): %v", tc.name, err)
			continue
		}
		wantSame(t, "Changes("+tc.name+")", tc.want, changeIDs(got))
	}
	for name, f := range map[string]gantry.ChangeFilter{
		"negative limit": {Limit: -1},
		"far from":       {From: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"far to":         {To: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		wantKind(t, "Changes with a "+name, errOf(s.Changes(t.Context(), f)), gantry.EInvalid)
	}
}

func testChangesInvalid(t *testing.T, s gantry.Store) {
	mod := func(f func(c *gantry.Change)) *gantry.Change {
		c := newChange("shop", "pr-1", t0)
		f(c)
		return c
	}
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, c := range map[string]*gantry.Change{
		"nil":                 nil,
		"no id":               mod(func(c *gantry.Change) { c.ID = "" }),
		"uppercase id":        mod(func(c *gantry.Change) { c.ID = "PR-1" }),
		"leading hyphen":      mod(func(c *gantry.Change) { c.ID = "-pr" }),
		"leading dot":         mod(func(c *gantry.Change) { c.ID = ".pr" }),
		"slash in id":         mod(func(c *gantry.Change) { c.ID = "pr/1" }),
		"space in id":         mod(func(c *gantry.Change) { c.ID = "pr 1" }),
		"65-byte id":          mod(func(c *gantry.Change) { c.ID = strings.Repeat("a", 65) }),
		"malformed project":   mod(func(c *gantry.Change) { c.Project = "Shop" }),
		"no opened":           mod(func(c *gantry.Change) { c.Opened = time.Time{} }),
		"no updated_at":       mod(func(c *gantry.Change) { c.UpdatedAt = time.Time{} }),
		"far opened":          mod(func(c *gantry.Change) { c.Opened = far }),
		"far commit time":     mod(func(c *gantry.Change) { c.Commits[0].Time = far }),
		"far review time":     mod(func(c *gantry.Change) { c.Reviews[0].At = far }),
		"far classification":  mod(func(c *gantry.Change) { c.Classification.At = far }),
		"unknown class":       mod(func(c *gantry.Change) { c.Classification.Class = "emergency" }),
		"no class":            mod(func(c *gantry.Change) { c.Classification.Class = "" }),
		"NaN score":           mod(func(c *gantry.Change) { c.Classification.Score = math.NaN() }),
		"infinite weight":     mod(func(c *gantry.Change) { c.Classification.Factors[1].Weight = math.Inf(1) }),
		"negative lines":      mod(func(c *gantry.Change) { c.Lines = -1 }),
		"invalid UTF-8 title": mod(func(c *gantry.Change) { c.Title = "fix \xff" }),
		"NUL in a subject":    mod(func(c *gantry.Change) { c.Commits[1].Subject = "a\x00b" }),
		"NUL in a path":       mod(func(c *gantry.Change) { c.Paths[2] = "a\x00b" }),
		"NUL in a reviewer":   mod(func(c *gantry.Change) { c.Reviews[1].Reviewer = "a\x00" }),
		"NUL in a reason":     mod(func(c *gantry.Change) { c.Classification.Reasons[0] = "\x00" }),
		"NUL in a factor":     mod(func(c *gantry.Change) { c.Classification.Factors[0].Detail = "\x00" }),
		"NUL in a run":        mod(func(c *gantry.Change) { c.Runs[0] = "r\x00" }),
		"invalid UTF-8 URL":   mod(func(c *gantry.Change) { c.PullRequest.URL = "https://\xfe" }),
		"NUL in urgent":       mod(func(c *gantry.Change) { c.Urgent = "\x00" }),
	} {
		wantKind(t, "PutChange with "+name, s.PutChange(t.Context(), c), gantry.EInvalid)
	}
	all, err := s.Changes(t.Context(), gantry.ChangeFilter{})
	wantNoError(t, "Changes", err)
	if len(all) != 0 {
		t.Errorf("invalid changes were stored: %v", changeIDs(all))
	}
	// An invalid replacement leaves the stored change as it was.
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	bad := newChange("shop", "pr-1", t0)
	bad.Title, bad.UpdatedAt = "\xff", t0.Add(time.Hour)
	wantKind(t, "PutChange replacing with invalid text", s.PutChange(t.Context(), bad), gantry.EInvalid)
	wantChange(t, s, inUTC(newChange("shop", "pr-1", t0)))
}

// --- Approvals ---

func newApproval(project, change, env, approver string, at time.Time) *gantry.Approval {
	return &gantry.Approval{
		Project:     project,
		Change:      change,
		Environment: env,
		Kind:        gantry.ApprovalDeploy,
		Approver:    approver,
		Role:        gantry.RoleApprover,
		Comment:     "looks good ✓",
		At:          at,
	}
}

func mustPutApproval(t *testing.T, s gantry.ChangeStore, as ...*gantry.Approval) {
	t.Helper()
	for _, a := range as {
		if err := s.PutApproval(t.Context(), a); err != nil {
			t.Fatalf("PutApproval(%s/%s %s %s by %s): %v", a.Project, a.Change, a.Kind, a.Environment, a.Approver, err)
		}
	}
}

// wantApprovals checks Approvals(project, change), times in UTC.
func wantApprovals(t *testing.T, s gantry.ChangeStore, project, change string, want []*gantry.Approval) {
	t.Helper()
	what := fmt.Sprintf("Approvals(%q, %q)", project, change)
	got, err := s.Approvals(t.Context(), project, change)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var utc []*gantry.Approval
	for _, a := range want {
		x := *a
		x.At = x.At.UTC()
		utc = append(utc, &x)
	}
	wantSame(t, what, utc, got)
	for _, a := range got {
		wantUTC(t, what, a.At)
	}
}

func testApprovalsPutAndList(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0), newChange("shop", "pr-2", t0), newChange("", "pr-1", t0))
	late := newApproval("shop", "pr-1", "production", "carol", t0.Add(time.Hour))
	first := newApproval("shop", "pr-1", "production", "dave", t0)
	// The same instant as first, put later: it comes after.
	same := newApproval("shop", "pr-1", "staging", "erin", t0.Add(0).UTC())
	retro := &gantry.Approval{Project: "shop", Change: "pr-1", Environment: "production", Kind: gantry.ApprovalRetrospective,
		Approver: "carol", At: t0.Add(time.Minute)}
	self := newApproval("shop", "pr-1", "acceptance", "alice", t0.Add(time.Second))
	self.Role, self.Exception = gantry.RoleAdmin, "single maintainer: ADR-7"
	other := newApproval("shop", "pr-2", "production", "carol", t0)
	local := newApproval("", "pr-1", "production", "Alice Smith <alice@example.com>", t0)
	local.Role, local.Comment = "", ""
	mustPutApproval(t, s, late, first, same, retro, self, other, local)

	wantApprovals(t, s, "shop", "pr-1", []*gantry.Approval{first, same, self, retro, late})
	wantApprovals(t, s, "shop", "pr-2", []*gantry.Approval{other})
	wantApprovals(t, s, "", "pr-1", []*gantry.Approval{local})

	// What a read gives back is the caller's.
	got, err := s.Approvals(t.Context(), "shop", "pr-2")
	wantNoError(t, "Approvals", err)
	got[0].Approver = "mallory"
	wantApprovals(t, s, "shop", "pr-2", []*gantry.Approval{other})

	// Replacing a change keeps its approvals.
	mustPutChange(t, s, newChange("shop", "pr-2", t0.Add(time.Hour)))
	wantApprovals(t, s, "shop", "pr-2", []*gantry.Approval{other})
}

func testApprovalsDuplicate(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	a := newApproval("shop", "pr-1", "production", "carol", t0)
	mustPutApproval(t, s, a)
	// Another time, role and comment: the same approval all the same.
	again := newApproval("shop", "pr-1", "production", "carol", t0.Add(time.Hour))
	again.Role, again.Comment = gantry.RoleAdmin, "again"
	wantKind(t, "PutApproval again", s.PutApproval(t.Context(), again), gantry.EConflict)
	wantApprovals(t, s, "shop", "pr-1", []*gantry.Approval{a})
	// Another kind, environment or approver is another approval.
	kind := newApproval("shop", "pr-1", "production", "carol", t0.Add(time.Second))
	kind.Kind = gantry.ApprovalRetrospective
	env := newApproval("shop", "pr-1", "staging", "carol", t0.Add(2*time.Second))
	who := newApproval("shop", "pr-1", "production", "dave", t0.Add(3*time.Second))
	mustPutApproval(t, s, kind, env, who)
	wantApprovals(t, s, "shop", "pr-1", []*gantry.Approval{a, kind, env, who})
}

func testApprovalsUnknownChange(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	for _, a := range []*gantry.Approval{
		newApproval("shop", "pr-2", "production", "carol", t0),
		newApproval("blog", "pr-1", "production", "carol", t0), // the ID is shop's
		newApproval("", "pr-1", "production", "carol", t0),
	} {
		wantNotFound(t, fmt.Sprintf("PutApproval of %q/%s", a.Project, a.Change), s.PutApproval(t.Context(), a))
	}
	// The approvals of an unknown change are none, without error.
	for _, key := range [][2]string{{"shop", "pr-2"}, {"blog", "pr-1"}, {"", "pr-1"}, {"", ""}, {"Not A Name", "Not An ID"}} {
		got, err := s.Approvals(t.Context(), key[0], key[1])
		if err != nil || got != nil {
			t.Errorf("Approvals(%q, %q) = %v, %v; want nil, nil", key[0], key[1], got, err)
		}
	}
	wantApprovals(t, s, "shop", "pr-1", nil)
}

func testApprovalsInvalid(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	mod := func(f func(a *gantry.Approval)) *gantry.Approval {
		a := newApproval("shop", "pr-1", "production", "carol", t0)
		f(a)
		return a
	}
	for name, a := range map[string]*gantry.Approval{
		"nil":                     nil,
		"no change":               mod(func(a *gantry.Approval) { a.Change = "" }),
		"malformed change":        mod(func(a *gantry.Approval) { a.Change = "PR 1" }),
		"malformed project":       mod(func(a *gantry.Approval) { a.Project = "Shop" }),
		"no environment":          mod(func(a *gantry.Approval) { a.Environment = "" }),
		"newline in environment":  mod(func(a *gantry.Approval) { a.Environment = "prod\n" }),
		"no approver":             mod(func(a *gantry.Approval) { a.Approver = "" }),
		"NUL in approver":         mod(func(a *gantry.Approval) { a.Approver = "carol\x00" }),
		"no kind":                 mod(func(a *gantry.Approval) { a.Kind = "" }),
		"unknown kind":            mod(func(a *gantry.Approval) { a.Kind = "veto" }),
		"no time":                 mod(func(a *gantry.Approval) { a.At = time.Time{} }),
		"far time":                mod(func(a *gantry.Approval) { a.At = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"unknown role":            mod(func(a *gantry.Approval) { a.Role = "owner" }),
		"invalid UTF-8 comment":   mod(func(a *gantry.Approval) { a.Comment = "ok \xff" }),
		"NUL in an exception":     mod(func(a *gantry.Approval) { a.Exception = "\x00" }),
		"uppercase role":          mod(func(a *gantry.Approval) { a.Role = "Approver" }),
		"kind with a capital":     mod(func(a *gantry.Approval) { a.Kind = "Approval" }),
		"invalid UTF-8 approver":  mod(func(a *gantry.Approval) { a.Approver = "\xff" }),
		"invalid UTF-8 env":       mod(func(a *gantry.Approval) { a.Environment = "\xff" }),
		"65-byte change":          mod(func(a *gantry.Approval) { a.Change = strings.Repeat("a", 65) }),
		"project, change swapped": mod(func(a *gantry.Approval) { a.Project, a.Change = "pr-1", "Shop" }),
	} {
		wantKind(t, "PutApproval with "+name, s.PutApproval(t.Context(), a), gantry.EInvalid)
	}
	wantApprovals(t, s, "shop", "pr-1", nil)
}

func testApprovalsConcurrent(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	// Approvers racing: each approval is stored once, the second of a
	// pair is EConflict.
	const approvers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
		errs      []error
	)
	for i := range 2 * approvers {
		wg.Go(func() {
			err := s.PutApproval(t.Context(), newApproval("shop", "pr-1", "production", fmt.Sprintf("user-%d", i%approvers), t0))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case gantry.ErrorKind(err) == gantry.EConflict:
				conflicts++
			case err != nil:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got, err := s.Approvals(t.Context(), "shop", "pr-1")
	wantNoError(t, "Approvals", err)
	if len(got) != approvers || conflicts != approvers {
		t.Errorf("%d approvals stored and %d conflicts, want %d of each", len(got), conflicts, approvers)
	}
}

func testChangesContext(t *testing.T, s gantry.Store) {
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for what, err := range map[string]error{
		"PutChange":   s.PutChange(ctx, newChange("shop", "pr-2", t0)),
		"Change":      errOf(s.Change(ctx, "shop", "pr-1")),
		"Changes":     errOf(s.Changes(ctx, gantry.ChangeFilter{})),
		"PutApproval": s.PutApproval(ctx, newApproval("shop", "pr-1", "production", "carol", t0)),
		"Approvals":   errOf(s.Approvals(ctx, "shop", "pr-1")),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", what, err)
		}
	}
	// Nothing was written.
	_, err := s.Change(t.Context(), "shop", "pr-2")
	wantNotFound(t, "Change(shop, pr-2)", err)
	wantApprovals(t, s, "shop", "pr-1", nil)
}

// testChangesClosed closes the store itself.
func testChangesClosed(t *testing.T, s gantry.Store) {
	ctx := t.Context()
	mustPutChange(t, s, newChange("shop", "pr-1", t0))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for what, err := range map[string]error{
		"PutChange":   s.PutChange(ctx, newChange("shop", "pr-2", t0)),
		"Change":      errOf(s.Change(ctx, "shop", "pr-1")),
		"Changes":     errOf(s.Changes(ctx, gantry.ChangeFilter{})),
		"PutApproval": s.PutApproval(ctx, newApproval("shop", "pr-1", "production", "carol", t0)),
		"Approvals":   errOf(s.Approvals(ctx, "shop", "pr-1")),
	} {
		if err == nil {
			t.Errorf("%s on a closed store: no error", what)
		}
	}
	_ = s.Close()
}
