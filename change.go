package gantry

import (
	"context"
	"time"
)

// ChangeClass is how a change is classified, from its evidence.
type ChangeClass string

// The classes of a change.
const (
	// ClassStandard changes are low-risk and pre-approved: policy allowed
	// them on their evidence alone.
	ClassStandard ChangeClass = "standard"
	// ClassNormal changes need approvals from someone other than the
	// author before they reach a protected environment.
	ClassNormal ChangeClass = "normal"
	// ClassUrgent changes were declared urgent: they proceed at once and
	// owe a retrospective review, tracked until someone gives it.
	ClassUrgent ChangeClass = "urgent"
)

// Valid reports whether c is one of the three classes.
func (c ChangeClass) Valid() bool {
	return c == ClassStandard || c == ClassNormal || c == ClassUrgent
}

// Change is what is being delivered: the commits of a push or a pull
// request, with their author and review. Every run belongs to one; the
// runs of one pull request (or of one commit) share it.
type Change struct {
	// ID identifies the change within its project: "pr-N" for a pull
	// request, otherwise the head commit's first 12 hex digits.
	ID      string `json:"id"`
	Project string `json:"project"` // "" in local mode
	Title   string `json:"title"`   // the pull request's title or the head commit's subject
	// Author is who made the change: the pull request's author, or the
	// head commit's author (e-mail in local mode, forge login otherwise).
	Author      string       `json:"author"`
	Branch      string       `json:"branch,omitempty"`
	BaseBranch  string       `json:"base_branch,omitempty"`
	Commits     []Commit     `json:"commits"` // oldest first
	PullRequest *PullRequest `json:"pull_request,omitempty"`
	Reviews     []Review     `json:"reviews,omitempty"`
	// Lines and Files measure the change's diff against its base; Paths
	// are the files it touches.
	Lines int      `json:"lines"`
	Files int      `json:"files"`
	Paths []string `json:"paths,omitempty"`
	// Urgent, when set, is why the change was declared urgent (an
	// "Urgent:" commit trailer, or gantry run --urgent).
	Urgent string    `json:"urgent,omitempty"`
	Opened time.Time `json:"opened"` // when the change was first seen
	// Runs are the change's runs, oldest first.
	Runs []RunID `json:"runs,omitempty"`
	// Classification is the latest, made at a run's gates from the
	// evidence so far; nil before the first gate.
	Classification *Classification `json:"classification,omitempty"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// ChangeName names a change across projects: "PROJECT/ID", or the ID
// alone in local mode, where the project is "". Messages, audit events'
// targets and reports of every project use it.
func ChangeName(project, id string) string {
	if project == "" {
		return id
	}
	return project + "/" + id
}

// Authors are everyone who wrote the change: its Author and every
// commit's author, once each. None of them may approve it.
func (c *Change) Authors() []string {
	out := []string{}
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(c.Author)
	for _, cm := range c.Commits {
		add(cm.Author)
		add(cm.AuthorEmail)
	}
	return out
}

// Head is the change's newest commit, or "" when it has none.
func (c *Change) Head() string {
	if len(c.Commits) == 0 {
		return ""
	}
	return c.Commits[len(c.Commits)-1].SHA
}

// Commit is one commit of a change.
type Commit struct {
	SHA         string    `json:"sha"`
	Author      string    `json:"author"` // a forge login, or the name git records
	AuthorEmail string    `json:"author_email,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Time        time.Time `json:"time,omitzero"`
}

// PullRequest is the forge's pull (merge) request of a change.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url,omitempty"`
	Base   string `json:"base"` // the branch it merges into
	Head   string `json:"head"` // the branch it merges from
}

// The states of a review.
const (
	ReviewApproved         = "approved"
	ReviewChangesRequested = "changes_requested"
	ReviewCommented        = "commented"
)

// Where a review comes from.
const (
	// ReviewFromForge is a review given on the forge's pull request.
	ReviewFromForge = "forge"
	// ReviewFromTrailer is a Reviewed-by or Approved-by trailer of a
	// commit: written by whoever made the commit, so it proves less than
	// a forge review where a forge is in use.
	ReviewFromTrailer = "trailer"
)

// Review is one reviewer's verdict on a change, from the forge or from a
// Reviewed-by git trailer (which counts as approved).
type Review struct {
	Reviewer string    `json:"reviewer"`
	State    string    `json:"state"`
	At       time.Time `json:"at,omitzero"`
	Source   string    `json:"source,omitempty"` // ReviewFromForge or ReviewFromTrailer
}

// Classification is a change's class with the risk score that decided it
// and every factor of the score, so that the decision explains itself.
type Classification struct {
	Class ChangeClass `json:"class"`
	Score float64     `json:"score"`
	// Threshold is the score from which a change is normal.
	Threshold float64      `json:"threshold"`
	Factors   []RiskFactor `json:"factors"`
	// Reasons say why the class is what it is, beyond the score: a
	// declared urgency, a policy that did not allow the change.
	Reasons []string  `json:"reasons,omitempty"`
	RunID   RunID     `json:"run_id,omitempty"` // the run whose evidence it read
	At      time.Time `json:"at"`
}

// RiskFactor is one term of a risk score: its configured weight, what it
// added to the score (0 to Weight) and why, in words.
type RiskFactor struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Score  float64 `json:"score"`
	Detail string  `json:"detail"`
}

// The kinds of approval.
const (
	// ApprovalDeploy lets a change into an environment.
	ApprovalDeploy = "approval"
	// ApprovalRetrospective is the review an urgent change owes after it
	// went ahead.
	ApprovalRetrospective = "retrospective"
)

// Approval is a person's approval of a change for an environment.
type Approval struct {
	Project     string `json:"project"`
	Change      string `json:"change"`
	Environment string `json:"environment"`
	Kind        string `json:"kind"` // ApprovalDeploy or ApprovalRetrospective
	Approver    string `json:"approver"`
	// Role is the approver's role in the project when they approved.
	Role Role `json:"role,omitempty"`
	// Exception, when set, is the documented single-maintainer exception
	// under which the author approved their own change.
	Exception string `json:"exception,omitempty"`
	// Commit is the change's head commit when it was approved: a deploy
	// approval stops counting when the change gets new commits.
	Commit  string    `json:"commit,omitempty"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// ChangeFilter narrows Changes.
type ChangeFilter struct {
	Project string
	// From and To bound when changes were opened: [From, To); zero
	// times do not bound.
	From, To time.Time
	Limit    int
}

// ChangeStore keeps changes and their approvals.
type ChangeStore interface {
	// PutChange creates a change or replaces the one with its project and
	// ID (Opened is kept from the first put).
	PutChange(ctx context.Context, c *Change) error
	Change(ctx context.Context, project, id string) (*Change, error)
	// Changes lists changes newest opened first (then by ID descending).
	Changes(ctx context.Context, f ChangeFilter) ([]*Change, error)
	// PutApproval records an approval of a stored change. A second
	// approval by the same approver, of the same kind and environment, is
	// an EConflict error.
	PutApproval(ctx context.Context, a *Approval) error
	// Approvals lists a change's approvals, oldest first.
	Approvals(ctx context.Context, project, change string) ([]*Approval, error)
}

// Environment is where a stage deploys to, with the rules that protect it.
type Environment struct {
	Name string `json:"name"`
	// Deployers may start a deployment: user names, or "role:NAME" for
	// everyone with that role or a higher one in the project. Empty:
	// whoever may trigger a run.
	Deployers []string `json:"deployers,omitempty"`
	// RequiredApprovals is how many people other than the author must
	// approve a normal change for this environment, each with at least
	// ApproverRole.
	RequiredApprovals int  `json:"required_approvals"`
	ApproverRole      Role `json:"approver_role,omitempty"`
	// RequiredGates are stages of the run whose gates must have allowed
	// it before it may deploy here.
	RequiredGates []string       `json:"required_gates,omitempty"`
	FreezeWindows []FreezeWindow `json:"freeze_windows,omitempty"`
}

// FreezeWindow is a period in which nothing but an urgent change may be
// deployed: [Start, End).
type FreezeWindow struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason,omitempty"`
}

// Contains reports whether t is inside the window.
func (w FreezeWindow) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}
