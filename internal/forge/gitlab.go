package forge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"gantry.dev/gantry"
)

// gitlabRedacted is what GitLab sends instead of an email address it keeps
// private.
const gitlabRedacted = "[REDACTED]"

type gitlabProject struct {
	ID                idText `json:"id"`
	PathWithNamespace string `json:"path_with_namespace"`
	GitHTTPURL        string `json:"git_http_url"`
	WebURL            string `json:"web_url"`
	DefaultBranch     string `json:"default_branch"`
	VisibilityLevel   int    `json:"visibility_level"` // 0 private, 10 internal, 20 public
}

func (p *gitlabProject) repo() Repo {
	if p == nil {
		return Repo{}
	}
	return Repo{FullName: p.PathWithNamespace, ID: string(p.ID), CloneURL: p.GitHTTPURL, WebURL: p.WebURL,
		DefaultBranch: p.DefaultBranch, Private: p.VisibilityLevel < 20}
}

type gitlabPush struct {
	ObjectKind        string          `json:"object_kind"`
	Ref               string          `json:"ref"`
	Before            string          `json:"before"`
	After             string          `json:"after"`
	CheckoutSHA       string          `json:"checkout_sha"`
	UserUsername      string          `json:"user_username"`
	UserName          string          `json:"user_name"`
	UserEmail         string          `json:"user_email"`
	ProjectID         idText          `json:"project_id"`
	Project           *gitlabProject  `json:"project"`
	Commits           []payloadCommit `json:"commits"`
	TotalCommitsCount int             `json:"total_commits_count"`
}

type gitlabMergeRequest struct {
	ObjectKind string `json:"object_kind"`
	User       struct {
		Username string `json:"username"`
		Name     string `json:"name"`
		Email    string `json:"email"`
	} `json:"user"`
	Project          *gitlabProject `json:"project"`
	ObjectAttributes *struct {
		IID          int            `json:"iid"`
		Action       string         `json:"action"`
		SourceBranch string         `json:"source_branch"`
		TargetBranch string         `json:"target_branch"`
		OldRev       string         `json:"oldrev"` // set only when the update brought new commits
		URL          string         `json:"url"`
		Source       *gitlabProject `json:"source"`
		Target       *gitlabProject `json:"target"`
		LastCommit   *struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
}

// ParseGitLab verifies a GitLab webhook (X-Gitlab-Token) and parses its
// Push Hook, Tag Push Hook or Merge Request Hook event, or a System Hook
// carrying one of those.
func ParseGitLab(h http.Header, body, secret []byte) (*Event, error) {
	if err := VerifyGitLab(h, secret); err != nil {
		return nil, err
	}
	return decodeGitLab(h, body)
}

// decodeGitLab parses a verified GitLab delivery.
func decodeGitLab(h http.Header, body []byte) (*Event, error) {
	const t = TypeGitLab
	event := h.Get(headerGitLabEvent)
	if event == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "gitlab webhook: no %s header", headerGitLabEvent)
	}
	var want string
	switch event {
	case "Push Hook":
		want = "push"
	case "Tag Push Hook":
		want = "tag_push"
	case "Merge Request Hook":
		want = "merge_request"
	case "System Hook":
		// An instance's system hook sends several kinds under one header.
	default:
		return nil, unsupported(t, "event %q is not a Push Hook, Tag Push Hook or Merge Request Hook", event)
	}
	var kind struct {
		ObjectKind string `json:"object_kind"`
	}
	if err := decodeJSON(t, event, body, &kind); err != nil {
		return nil, err
	}
	if want != "" && kind.ObjectKind != want {
		return nil, gantry.Errorf(gantry.EInvalid, "gitlab %s webhook: object_kind is %q, want %q", event, kind.ObjectKind, want)
	}
	e := &Event{Forge: t, Delivery: h.Get(headerGitLabUUID)}
	switch kind.ObjectKind {
	case "push", "tag_push":
		var p gitlabPush
		if err := decodeJSON(t, event, body, &p); err != nil {
			return nil, err
		}
		return e, gitlabPushEvent(e, &p)
	case "merge_request":
		var p gitlabMergeRequest
		if err := decodeJSON(t, event, body, &p); err != nil {
			return nil, err
		}
		return e, gitlabMREvent(e, &p)
	case "":
		return nil, missing(t, event, "object_kind")
	}
	return nil, unsupported(t, "system hook of object_kind %q is not push, tag_push or merge_request", kind.ObjectKind)
}

func gitlabPushEvent(e *Event, p *gitlabPush) error {
	const t, ev = TypeGitLab, "push"
	e.Kind = EventPush
	if err := setRef(t, e, p.Ref); err != nil {
		return err
	}
	if err := gitlabCheckProject(ev, "project", p.Project); err != nil {
		return err
	}
	e.Repo = p.Project.repo()
	e.Repo.ID = cmp.Or(e.Repo.ID, string(p.ProjectID))
	after, err := checkSHA(t, ev, "after", p.After)
	if err != nil {
		return err
	}
	if p.Before != "" {
		if e.Before, err = checkSHA(t, ev, "before", p.Before); err != nil {
			return err
		}
	}
	e.Deleted = isZeroSHA(after)
	e.Created = isZeroSHA(e.Before)
	if !e.Deleted {
		// For an annotated tag, after is the tag object and checkout_sha
		// the commit it points at: a run checks out the commit.
		e.Commit = after
		if p.CheckoutSHA != "" {
			if e.Commit, err = checkSHA(t, ev, "checkout_sha", p.CheckoutSHA); err != nil {
				return err
			}
		}
		// GitLab lists at most 20 commits and counts them all.
		e.Changed = changedPaths(p.Commits, p.TotalCommitsCount <= len(p.Commits))
	}
	e.Author = Author{Login: p.UserUsername, Name: p.UserName, Email: gitlabEmail(p.UserEmail)}
	return nil
}

func gitlabMREvent(e *Event, p *gitlabMergeRequest) error {
	const t, ev = TypeGitLab, "merge_request"
	e.Kind = EventPullRequest
	a := p.ObjectAttributes
	if a == nil {
		return missing(t, ev, "object_attributes")
	}
	if a.IID <= 0 {
		return missing(t, ev, "object_attributes.iid")
	}
	e.PRNumber = a.IID
	project := p.Project
	if project == nil {
		project = a.Target
	}
	if err := gitlabCheckProject(ev, "project", project); err != nil {
		return err
	}
	e.Repo = project.repo()
	e.HeadRepo = a.Source.repo()
	if a.SourceBranch == "" {
		return missing(t, ev, "object_attributes.source_branch")
	}
	if a.TargetBranch == "" {
		return missing(t, ev, "object_attributes.target_branch")
	}
	if err := checkName(t, ev, "object_attributes.source_branch", a.SourceBranch); err != nil {
		return err
	}
	if err := checkName(t, ev, "object_attributes.target_branch", a.TargetBranch); err != nil {
		return err
	}
	e.Branch, e.BaseBranch = a.SourceBranch, a.TargetBranch
	e.Ref = "refs/merge-requests/" + strconv.Itoa(e.PRNumber) + "/head"
	if a.LastCommit == nil {
		return missing(t, ev, "object_attributes.last_commit")
	}
	var err error
	if e.Commit, err = checkSHA(t, ev, "object_attributes.last_commit.id", a.LastCommit.ID); err != nil {
		return err
	}
	if a.OldRev != "" && !isZeroSHA(a.OldRev) {
		if e.Before, err = checkSHA(t, ev, "object_attributes.oldrev", a.OldRev); err != nil {
			return err
		}
	}
	if a.Action == "" {
		return missing(t, ev, "object_attributes.action")
	}
	e.PRAction = gitlabMRAction(a.Action, e.Before != "")
	e.PRURL = a.URL
	e.Author = Author{Login: p.User.Username, Name: p.User.Name, Email: gitlabEmail(p.User.Email)}
	return nil
}

// gitlabMRAction maps GitLab's merge request actions. GitLab says
// "update" both for new commits and for a new title; only the first
// carries oldrev.
func gitlabMRAction(action string, newCommits bool) string {
	switch action {
	case "open":
		return PROpened
	case "reopen":
		return PRReopened
	case "update":
		if newCommits {
			return PRUpdated
		}
		return PREdited
	case "close":
		return PRClosed
	case "merge":
		return PRMerged
	}
	return action
}

func gitlabCheckProject(ev, field string, p *gitlabProject) error {
	switch {
	case p == nil:
		return missing(TypeGitLab, ev, field)
	case p.PathWithNamespace == "":
		return missing(TypeGitLab, ev, field+".path_with_namespace")
	case p.GitHTTPURL == "":
		return missing(TypeGitLab, ev, field+".git_http_url")
	}
	return nil
}

func gitlabEmail(s string) string {
	if s == gitlabRedacted {
		return ""
	}
	return s
}

// GitLab reports commit statuses through GitLab's REST API.
type GitLab struct{ api *api }

var _ Forge = (*GitLab)(nil)

// NewGitLab returns a GitLab client; cfg.BaseURL defaults to
// https://gitlab.com.
func NewGitLab(cfg Config) (*GitLab, error) {
	a, err := newAPI(TypeGitLab, cfg, "https://gitlab.com", "/api/v4")
	if err != nil {
		return nil, err
	}
	return &GitLab{api: a}, nil
}

// gitlabState maps a State to GitLab's pending, running, success, failed
// and canceled.
func gitlabState(s State) string {
	switch s {
	case StatePending:
		return "pending"
	case StateRunning:
		return "running"
	case StateSuccess:
		return "success"
	case StateCanceled:
		return "canceled"
	}
	return "failed"
}

// SetStatus creates a commit status: POST
// /api/v4/projects/{id or url-encoded path}/statuses/{sha}. Setting the
// state a status already has is refused by GitLab ("Cannot transition
// status"); that is not an error here, so a retried report is harmless.
func (g *GitLab) SetStatus(ctx context.Context, repo RepoRef, commit string, st Status) error {
	st, err := st.validate()
	if err != nil {
		return err
	}
	sha, err := checkCommit(TypeGitLab, commit)
	if err != nil {
		return err
	}
	project, err := gitlabProjectPath("gitlab commit status", repo)
	if err != nil {
		return err
	}
	body := struct {
		State       string `json:"state"`
		Name        string `json:"name"`
		Ref         string `json:"ref,omitempty"`
		TargetURL   string `json:"target_url,omitempty"`
		Description string `json:"description,omitempty"`
	}{gitlabState(st.State), st.Context, st.Ref, st.TargetURL, st.Description}
	what := fmt.Sprintf("set gitlab status %q of %s at %s", st.Context, repo, short(sha))
	err = g.api.post(ctx, what, g.api.endpoint("projects", project, "statuses", sha), body, gitlabAuth)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest &&
		strings.Contains(apiErr.Message, "Cannot transition status") {
		return nil
	}
	return err
}
