package change

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// Approver is the person approving a change, with their role in the
// change's project.
type Approver struct {
	Name, Email string
	Role        gantry.Role
}

// Approve checks that by may approve change c for the environment env and
// returns the approval to record. kind is gantry.ApprovalDeploy (the
// default when empty) or gantry.ApprovalRetrospective, which only an
// urgent change owes. The approver needs at least the environment's
// approver role and must not be one of the change's authors, unless the
// project allows the single-maintainer exception: then the approval
// carries that exception, so that it is recorded as such. A change that
// is not classified yet may still be approved.
func Approve(cfg *Config, c *gantry.Change, env, kind string, by Approver, now time.Time, comment string) (*gantry.Approval, error) {
	e, ok := cfg.Environment(env)
	if !ok {
		return nil, gantry.Errorf(gantry.EInvalid, "unknown environment %q: the project has %s", env, orList(quoted(cfg.EnvironmentNames())))
	}
	if kind == "" {
		kind = gantry.ApprovalDeploy
	}
	switch kind {
	case gantry.ApprovalDeploy:
	case gantry.ApprovalRetrospective:
		if !isUrgent(c) {
			return nil, gantry.Errorf(gantry.EInvalid, "change %s is not urgent: only an urgent change has a retrospective review", c.ID)
		}
	default:
		return nil, gantry.Errorf(gantry.EInvalid, "unknown kind of approval %q: expected %q or %q", kind, gantry.ApprovalDeploy, gantry.ApprovalRetrospective)
	}
	name := strings.TrimSpace(by.Name)
	if name == "" {
		name = strings.TrimSpace(by.Email)
	}
	if name == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "approve change %s: who approves is not known", c.ID)
	}
	if !atLeast(by.Role, e.ApproverRole) {
		have := string(by.Role)
		if have == "" {
			have = "no role"
		}
		return nil, gantry.Errorf(gantry.EForbidden, "approving a change for %s needs the %s role or a higher one; %s has %s", env, e.ApproverRole, name, have)
	}
	a := &gantry.Approval{
		Project:     c.Project,
		Change:      c.ID,
		Environment: env,
		Kind:        kind,
		Approver:    name,
		Role:        by.Role,
		Commit:      c.Head(),
		Comment:     comment,
		At:          now,
	}
	if isAuthor(c, by.Name, by.Email) {
		if cfg.Approvals.SingleMaintainer == "" {
			return nil, gantry.Errorf(gantry.EForbidden, "you wrote change %s; an approval must come from someone else", c.ID)
		}
		a.Exception = cfg.Approvals.SingleMaintainer
	}
	return a, nil
}

// isAuthor reports whether name or email is one of c's authors.
func isAuthor(c *gantry.Change, name, email string) bool {
	for _, au := range c.Authors() {
		if sameName(au, name) || sameName(au, email) {
			return true
		}
	}
	return false
}

func isUrgent(c *gantry.Change) bool {
	return c.Urgent != "" || (c.Classification != nil && c.Classification.Class == gantry.ClassUrgent)
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// Actor is who starts a deployment, with their role in the project.
type Actor struct {
	Name string
	Role gantry.Role
}

// Admission is whether a change may enter an environment: every rule it
// breaks is a reason, and Notes say what let it in.
type Admission struct {
	Allowed bool
	Reasons []string
	Notes   []string
}

// Admit decides whether actor may deploy change c to the environment env
// now. approvals are the change's approvals and gates says, by stage name,
// whether the stage's gate allowed the run. Every rule the deployment
// breaks is listed, not only the first:
//   - the environment must be configured;
//   - the actor must be one of its deployers;
//   - each required gate must have allowed the run;
//   - the change must be classified;
//   - inside a freeze window, only an urgent change may go;
//   - a normal change needs the environment's approvals, from people
//     other than its authors with at least the approver role; an author's
//     approval under the single-maintainer exception counts while the
//     project still allows the exception, and is noted;
//   - standard changes are pre-approved, and urgent ones go at once and
//     owe a retrospective review.
func Admit(cfg *Config, env string, c *gantry.Change, approvals []*gantry.Approval, gates map[string]bool, actor Actor, now time.Time) Admission {
	var ad Admission
	e, ok := cfg.Environment(env)
	if !ok {
		ad.Reasons = append(ad.Reasons, fmt.Sprintf("unknown environment %q: the project has %s", env, orList(quoted(cfg.EnvironmentNames()))))
		return ad
	}
	if !mayDeploy(e.Deployers, actor) {
		who := actor.Name
		if who == "" {
			who = "an unknown user"
		}
		ad.Reasons = append(ad.Reasons, fmt.Sprintf("%s may not deploy to %s: its deployers are %s", who, env, strings.Join(e.Deployers, ", ")))
	}
	for _, g := range e.RequiredGates {
		if !gates[g] {
			ad.Reasons = append(ad.Reasons, fmt.Sprintf("stage %q has not passed in this run", g))
		}
	}
	urgent := isUrgent(c)
	for _, w := range cfg.Freezes(env, now) {
		if !w.Contains(now) {
			continue
		}
		what := fmt.Sprintf("%s is inside %s until %s", env, windowName(w), w.End.Format(timeLayout))
		if urgent {
			ad.Notes = append(ad.Notes, what+": allowed because the change is urgent")
		} else {
			ad.Reasons = append(ad.Reasons, what+": only an urgent change may be deployed")
		}
	}
	switch {
	case c.Classification == nil:
		ad.Reasons = append(ad.Reasons, "the change has not been classified")
	case urgent:
		ad.Notes = append(ad.Notes, "urgent change: a retrospective review is due")
	case c.Classification.Class == gantry.ClassStandard:
		ad.Notes = append(ad.Notes, "standard change: pre-approved")
	default:
		reasons, notes := checkApprovals(cfg, e, c, approvals)
		ad.Reasons = append(ad.Reasons, reasons...)
		ad.Notes = append(ad.Notes, notes...)
	}
	ad.Allowed = len(ad.Reasons) == 0
	return ad
}

// mayDeploy reports whether actor is one of deployers: "role:NAME" takes
// that role or a higher one, any other entry a user name. No deployers
// means anyone.
func mayDeploy(deployers []string, actor Actor) bool {
	if len(deployers) == 0 {
		return true
	}
	for _, d := range deployers {
		if r, ok := strings.CutPrefix(d, "role:"); ok {
			if roleRank(gantry.Role(r)) >= 0 && atLeast(actor.Role, gantry.Role(r)) {
				return true
			}
		} else if sameName(d, actor.Name) {
			return true
		}
	}
	return false
}

// checkApprovals counts the distinct people whose deploy approval of c for
// e counts, and says what is missing.
func checkApprovals(cfg *Config, e *gantry.Environment, c *gantry.Change, approvals []*gantry.Approval) (reasons, notes []string) {
	var counted []string
	for _, a := range approvals {
		if a == nil || a.Kind != gantry.ApprovalDeploy || a.Environment != e.Name || (a.Change != "" && a.Change != c.ID) {
			continue
		}
		if slices.ContainsFunc(counted, func(s string) bool { return sameName(s, a.Approver) }) {
			continue
		}
		if head := c.Head(); a.Commit != "" && head != "" && a.Commit != head {
			notes = append(notes, fmt.Sprintf("the approval by %s does not count: it was given at commit %.12s, and the change has new commits since", a.Approver, a.Commit))
			continue
		}
		if !atLeast(a.Role, e.ApproverRole) {
			notes = append(notes, fmt.Sprintf("the approval by %s does not count: it needs the %s role, they had %q", a.Approver, e.ApproverRole, a.Role))
			continue
		}
		// An approval that carries the exception is an author's even when
		// its approver's name is not how the commits spell the author.
		if a.Exception != "" || isAuthor(c, a.Approver, a.Approver) {
			switch {
			case a.Exception == "":
				notes = append(notes, fmt.Sprintf("the approval by %s does not count: they wrote the change", a.Approver))
				continue
			case cfg.Approvals.SingleMaintainer == "":
				// The project has withdrawn the exception since.
				notes = append(notes, fmt.Sprintf("the approval by %s does not count: they wrote the change, and the project no longer allows the single-maintainer exception", a.Approver))
				continue
			}
			notes = append(notes, fmt.Sprintf("%s approved their own change under the single-maintainer exception: %s", a.Approver, a.Exception))
		}
		counted = append(counted, a.Approver)
	}
	if len(counted) < e.RequiredApprovals {
		reasons = append(reasons, fmt.Sprintf("needs %s for %s from %s other than the author, has %d: gantry approve %s --env %s",
			plural(e.RequiredApprovals, "approval"), e.Name, article(string(e.ApproverRole)), len(counted), c.ID, e.Name))
	}
	return reasons, notes
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// RetrospectiveDue reports whether c is urgent and nobody has given it its
// retrospective review yet.
func RetrospectiveDue(c *gantry.Change, approvals []*gantry.Approval) bool {
	if !isUrgent(c) {
		return false
	}
	for _, a := range approvals {
		if a != nil && a.Kind == gantry.ApprovalRetrospective && (a.Change == "" || a.Change == c.ID) {
			return false
		}
	}
	return true
}
