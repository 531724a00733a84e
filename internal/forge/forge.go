// Package forge speaks to the places repositories live: GitHub, GitLab and
// Gitea. It turns their push and pull-request webhooks into one verified
// Event, reports commit statuses back so that a change may merge only when
// its pipeline passed, reads who reviewed a pull request, and builds the
// read-only clone URL an agent checks a commit out with.
//
// Nothing in a webhook body is trusted before its signature (or, on GitLab,
// its token) has been checked against the secret; every refusal is a
// *gantry.Error of kind EUnauthorized (who sent it is not known) or EInvalid
// (what was sent cannot be used).
package forge

import (
	"slices"
	"strconv"
	"strings"
)

// Type names a kind of forge.
type Type string

// The forges Gantry speaks to.
const (
	TypeGitHub Type = "github"
	TypeGitLab Type = "gitlab"
	TypeGitea  Type = "gitea" // Forgejo too: it speaks Gitea's protocol
)

// ParseType reads a forge's name as a configuration would spell it.
func ParseType(s string) (Type, bool) {
	switch t := Type(strings.ToLower(strings.TrimSpace(s))); t {
	case TypeGitHub, TypeGitLab, TypeGitea:
		return t, true
	case "forgejo":
		return TypeGitea, true
	}
	return "", false
}

// EventKind is what a webhook reports.
type EventKind string

// The event kinds.
const (
	EventPush        EventKind = "push"
	EventPullRequest EventKind = "pull_request" // a GitLab merge request too
	// EventPing is sent when a webhook is created, to check it works; it
	// carries no change.
	EventPing EventKind = "ping"
)

// The pull request actions every forge's own words are mapped to. An action
// outside these (labelled, assigned, approved...) is kept as the forge
// spells it.
const (
	PROpened   = "opened"
	PRUpdated  = "updated" // new commits on the head branch
	PRReopened = "reopened"
	PREdited   = "edited" // title, description or target changed; no new commits
	PRClosed   = "closed" // closed without merging
	PRMerged   = "merged"
)

// Event is a verified webhook, the same whichever forge sent it.
type Event struct {
	Forge    Type      `json:"forge"`
	Kind     EventKind `json:"kind"`
	Delivery string    `json:"delivery,omitempty"` // the forge's ID of this delivery, to drop replays

	// Repo is the repository the event belongs to: for a pull request the
	// base (target) repository, where statuses are reported.
	Repo Repo `json:"repo"`
	// HeadRepo is, for a pull request, the repository its head branch is
	// in: another one when the pull request comes from a fork.
	HeadRepo Repo `json:"head_repo,omitzero"`

	Ref        string `json:"ref,omitempty"`         // the full ref pushed (refs/heads/main, refs/tags/v1)
	Branch     string `json:"branch,omitempty"`      // the branch pushed; for a pull request its head branch
	Tag        string `json:"tag,omitempty"`         // the tag pushed
	BaseBranch string `json:"base_branch,omitempty"` // for a pull request, the branch it would merge into
	Commit     string `json:"commit,omitempty"`      // the head commit: what a run checks out
	Before     string `json:"before,omitempty"`      // the commit the ref pointed at before a push; for a pull request update, the previous head when the forge says

	PRNumber int    `json:"pr_number,omitempty"`
	PRAction string `json:"pr_action,omitempty"` // PROpened, PRUpdated, ... or the forge's own word
	PRURL    string `json:"pr_url,omitempty"`

	Author Author `json:"author,omitzero"` // who pushed, or who opened the pull request

	// Changed lists the paths the pushed commits added, modified or
	// removed, sorted. It is nil when the payload does not list them or
	// says it lists only some commits; a run then looks at the whole tree.
	Changed []string `json:"changed,omitempty"`

	Created bool `json:"created,omitempty"` // the push created the ref
	Deleted bool `json:"deleted,omitempty"` // the push deleted the ref: there is nothing to run
	Forced  bool `json:"forced,omitempty"`  // the push rewrote history (GitHub says so; others do not)
}

// Repo is a repository as a webhook names it.
type Repo struct {
	FullName      string `json:"full_name"`         // owner/name; on GitLab group/subgroup/name
	ID            string `json:"id,omitempty"`      // the forge's numeric ID, as text
	CloneURL      string `json:"clone_url"`         // https clone URL
	WebURL        string `json:"web_url,omitempty"` // the repository's page
	DefaultBranch string `json:"default_branch,omitempty"`
	Private       bool   `json:"private,omitempty"` // not readable without credentials
}

// Ref is the reference a status is reported against.
func (r Repo) Ref() RepoRef { return RepoRef{FullName: r.FullName, ID: r.ID} }

// Author is who caused an event.
type Author struct {
	Login string `json:"login,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// IsFork reports whether a pull request's head branch lives in another
// repository than its base: its code must not see the base's secrets.
func (e *Event) IsFork() bool {
	return e.Kind == EventPullRequest && e.HeadRepo.FullName != "" &&
		!strings.EqualFold(e.HeadRepo.FullName, e.Repo.FullName)
}

// ShouldRun reports whether the event asks for a pipeline run: a push that
// did not delete its ref, or a pull request opened, reopened or given new
// commits.
func (e *Event) ShouldRun() bool {
	switch e.Kind {
	case EventPush:
		return !e.Deleted && e.Commit != ""
	case EventPullRequest:
		return slices.Contains([]string{PROpened, PRUpdated, PRReopened}, e.PRAction) && e.Commit != ""
	}
	return false
}

// String is a one-line summary for logs: it holds nothing secret.
func (e *Event) String() string {
	var b strings.Builder
	b.WriteString(string(e.Forge))
	b.WriteByte(' ')
	b.WriteString(string(e.Kind))
	if e.Repo.FullName != "" {
		b.WriteString(" " + e.Repo.FullName)
	}
	switch {
	case e.Kind == EventPullRequest:
		b.WriteString(" #" + strconv.Itoa(e.PRNumber) + " " + e.PRAction + " " + e.Branch + "→" + e.BaseBranch)
	case e.Tag != "":
		b.WriteString(" tag " + e.Tag)
	case e.Branch != "":
		b.WriteString(" " + e.Branch)
	}
	if e.Commit != "" {
		b.WriteString(" @" + short(e.Commit))
	}
	if e.Deleted {
		b.WriteString(" (deleted)")
	}
	return b.String()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
