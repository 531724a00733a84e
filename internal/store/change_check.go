package store

import (
	"math"
	"time"

	"gantry.dev/gantry"
)

// The checks of changes and approvals. Both stores keep a change as one
// JSON document beside the columns they index, so these checks refuse
// what JSON would not give back as it was: text that is not UTF-8 (it
// would come back with U+FFFD), scores that are not finite (JSON has no
// NaN), times outside the int64-nanosecond range.

// MaxChangeIDLen bounds a change's ID.
const MaxChangeIDLen = 64

// ValidChangeID reports whether s is a change's ID:
// [a-z0-9][a-z0-9._-]*, at most 64 bytes ("pr-12", "3f2a9c1d0b7e").
func ValidChangeID(s string) bool {
	return validWord(s, MaxChangeIDLen, lowerDigit, hostRest)
}

// validChangeProject reports whether s may be a change's project: a
// project's name, or "" in local mode.
func validChangeProject(s string) bool { return s == "" || ValidName(s) }

// CheckChange returns an EInvalid error when c cannot be stored: it needs
// a valid ID and project, Opened and UpdatedAt, a valid class when it is
// classified, finite scores, and text that is UTF-8 without NUL.
func CheckChange(c *gantry.Change) error {
	switch {
	case c == nil:
		return gantry.Errorf(gantry.EInvalid, "no change given")
	case !ValidChangeID(c.ID):
		return gantry.Errorf(gantry.EInvalid, "change id %q: use lowercase letters, digits and . _ -, at most %d", c.ID, MaxChangeIDLen)
	case !validChangeProject(c.Project):
		return gantry.Errorf(gantry.EInvalid, "change %s: malformed project name %q", c.ID, c.Project)
	case c.Opened.IsZero():
		return gantry.Errorf(gantry.EInvalid, "change %s has no opening time", c.ID)
	case c.UpdatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "change %s has no update time", c.ID)
	case c.Lines < 0 || c.Files < 0:
		return gantry.Errorf(gantry.EInvalid, "change %s: negative lines or files", c.ID)
	}
	what := "change " + c.ID
	texts := []string{c.Title, c.Author, c.Branch, c.BaseBranch, c.Urgent}
	times := []time.Time{c.Opened, c.UpdatedAt}
	for _, cm := range c.Commits {
		texts = append(texts, cm.SHA, cm.Author, cm.AuthorEmail, cm.Subject)
		times = append(times, cm.Time)
	}
	if pr := c.PullRequest; pr != nil {
		texts = append(texts, pr.URL, pr.Base, pr.Head)
	}
	for _, r := range c.Reviews {
		texts = append(texts, r.Reviewer, r.State, r.Source)
		times = append(times, r.At)
	}
	texts = append(texts, c.Paths...)
	for _, r := range c.Runs {
		texts = append(texts, string(r))
	}
	if cl := c.Classification; cl != nil {
		if !cl.Class.Valid() {
			return gantry.Errorf(gantry.EInvalid, "change %s: unknown class %q", c.ID, cl.Class)
		}
		nums := []float64{cl.Score, cl.Threshold}
		for _, f := range cl.Factors {
			texts = append(texts, f.Name, f.Detail)
			nums = append(nums, f.Weight, f.Score)
		}
		for _, n := range nums {
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return gantry.Errorf(gantry.EInvalid, "change %s: a classification score or weight is not a finite number", c.ID)
			}
		}
		texts = append(texts, cl.Reasons...)
		texts = append(texts, string(cl.RunID))
		times = append(times, cl.At)
	}
	for _, s := range texts {
		if !validText(s) {
			return gantry.Errorf(gantry.EInvalid, "%s: text %q is not UTF-8 without NUL", what, s)
		}
	}
	return checkTimes(what, times...)
}

// CheckApproval returns an EInvalid error when a cannot be stored: it
// needs a valid project and change ID, an environment and an approver
// (text without control characters), a kind of approval or
// retrospective, a time, a role that is "" or one of the four, and text
// that is UTF-8 without NUL.
func CheckApproval(a *gantry.Approval) error {
	switch {
	case a == nil:
		return gantry.Errorf(gantry.EInvalid, "no approval given")
	case !ValidChangeID(a.Change):
		return gantry.Errorf(gantry.EInvalid, "approval: malformed change id %q", a.Change)
	case !validChangeProject(a.Project):
		return gantry.Errorf(gantry.EInvalid, "approval of change %s: malformed project name %q", a.Change, a.Project)
	case a.Environment == "" || !printable(a.Environment):
		return gantry.Errorf(gantry.EInvalid, "approval of change %s: malformed environment %q", a.Change, a.Environment)
	case a.Approver == "" || !printable(a.Approver):
		return gantry.Errorf(gantry.EInvalid, "approval of change %s: malformed approver %q", a.Change, a.Approver)
	case a.Kind != gantry.ApprovalDeploy && a.Kind != gantry.ApprovalRetrospective:
		return gantry.Errorf(gantry.EInvalid, "approval of change %s: kind %q is not %s or %s",
			a.Change, a.Kind, gantry.ApprovalDeploy, gantry.ApprovalRetrospective)
	case a.At.IsZero():
		return gantry.Errorf(gantry.EInvalid, "approval of change %s has no time", a.Change)
	case a.Role != "" && !ValidRole(a.Role):
		return gantry.Errorf(gantry.EInvalid, "approval of change %s: unknown role %q", a.Change, a.Role)
	case !validText(a.Exception) || !validText(a.Comment) || !validText(a.Commit):
		return gantry.Errorf(gantry.EInvalid, "approval of change %s: exception, comment or commit is not UTF-8 without NUL", a.Change)
	}
	return checkTimes("approval of change "+a.Change, a.At)
}

// CheckChangeFilter returns an EInvalid error when f cannot be used.
func CheckChangeFilter(f gantry.ChangeFilter) error {
	if f.Limit < 0 {
		return gantry.Errorf(gantry.EInvalid, "list changes: negative limit %d", f.Limit)
	}
	return checkTimes("list changes", f.From, f.To)
}

// CheckProjectChanges returns an EInvalid error when p's change
// configuration is not text every store keeps: UTF-8 without NUL. The
// stores call it beside CheckProject; they do not parse the YAML.
func CheckProjectChanges(p *gantry.Project) error {
	if p != nil && !validText(p.Changes) {
		return gantry.Errorf(gantry.EInvalid, "project %s: change configuration is not UTF-8 without NUL", p.Name)
	}
	return nil
}

// CanonicalChange returns a deep copy of c as stores keep it: times in
// UTC and empty lists nil, so that what comes back from its JSON is what
// was given. c is not modified.
func CanonicalChange(c *gantry.Change) *gantry.Change {
	out := *c
	out.Opened, out.UpdatedAt = out.Opened.UTC(), out.UpdatedAt.UTC()
	out.Commits = nil
	for _, cm := range c.Commits {
		cm.Time = cm.Time.UTC()
		out.Commits = append(out.Commits, cm)
	}
	if c.PullRequest != nil {
		pr := *c.PullRequest
		out.PullRequest = &pr
	}
	out.Reviews = nil
	for _, r := range c.Reviews {
		r.At = r.At.UTC()
		out.Reviews = append(out.Reviews, r)
	}
	out.Paths = cloneOrNil(c.Paths)
	out.Runs = cloneOrNil(c.Runs)
	if c.Classification != nil {
		cl := *c.Classification
		cl.Factors = cloneOrNil(cl.Factors)
		cl.Reasons = cloneOrNil(cl.Reasons)
		cl.At = cl.At.UTC()
		out.Classification = &cl
	}
	return &out
}

// CanonicalApproval returns a copy of a with its time in UTC.
func CanonicalApproval(a *gantry.Approval) *gantry.Approval {
	out := *a
	out.At = out.At.UTC()
	return &out
}

func cloneOrNil[T any](list []T) []T {
	if len(list) == 0 {
		return nil
	}
	return append([]T(nil), list...)
}
