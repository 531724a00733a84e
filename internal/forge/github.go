package forge

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"

	"gantry.dev/gantry"
)

// githubMaxCommits is how many commits GitHub lists in a push payload at
// most; a push of more lists only some.
const githubMaxCommits = 2048

type githubRepo struct {
	ID            idText `json:"id"`
	FullName      string `json:"full_name"`
	CloneURL      string `json:"clone_url"`
	HTMLURL       string `json:"html_url"`
	DefaultBranch string `json:"default_branch"`
	Private       bool   `json:"private"`
}

func (r *githubRepo) repo() Repo {
	if r == nil {
		return Repo{}
	}
	return Repo{FullName: r.FullName, ID: string(r.ID), CloneURL: r.CloneURL, WebURL: r.HTMLURL,
		DefaultBranch: r.DefaultBranch, Private: r.Private}
}

type githubUser struct {
	Login string `json:"login"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type githubPush struct {
	Ref        string          `json:"ref"`
	Before     string          `json:"before"`
	After      string          `json:"after"`
	Created    bool            `json:"created"`
	Deleted    bool            `json:"deleted"`
	Forced     bool            `json:"forced"`
	Commits    []payloadCommit `json:"commits"`
	Repository *githubRepo     `json:"repository"`
	Pusher     githubUser      `json:"pusher"` // name is the login here
	Sender     githubUser      `json:"sender"`
}

type githubPullRequest struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number  int        `json:"number"`
		HTMLURL string     `json:"html_url"`
		Merged  bool       `json:"merged"`
		User    githubUser `json:"user"`
		Head    struct {
			Ref  string      `json:"ref"`
			SHA  string      `json:"sha"`
			Repo *githubRepo `json:"repo"` // null when the fork was deleted
		} `json:"head"`
		Base struct {
			Ref  string      `json:"ref"`
			SHA  string      `json:"sha"`
			Repo *githubRepo `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Before     string      `json:"before"` // on synchronize
	Repository *githubRepo `json:"repository"`
	Sender     githubUser  `json:"sender"`
}

type githubPing struct {
	Zen        string      `json:"zen"`
	HookID     idText      `json:"hook_id"`
	Repository *githubRepo `json:"repository"` // absent for an organisation's hook
	Sender     githubUser  `json:"sender"`
}

// ParseGitHub verifies a GitHub webhook (X-Hub-Signature-256) and parses
// its push, pull_request or ping event.
func ParseGitHub(h http.Header, body, secret []byte) (*Event, error) {
	if err := VerifyGitHub(h, body, secret); err != nil {
		return nil, err
	}
	return decodeGitHub(h, body)
}

// decodeGitHub parses a verified GitHub delivery.
func decodeGitHub(h http.Header, body []byte) (*Event, error) {
	const t = TypeGitHub
	event := h.Get(headerGitHubEvent)
	if event == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "github webhook: no %s header", headerGitHubEvent)
	}
	js, err := payloadJSON(t, h, body)
	if err != nil {
		return nil, err
	}
	e := &Event{Forge: t, Delivery: h.Get(headerGitHubDelivery)}
	switch event {
	case "push":
		var p githubPush
		if err := decodeJSON(t, event, js, &p); err != nil {
			return nil, err
		}
		return e, githubPushEvent(e, &p)
	case "pull_request":
		var p githubPullRequest
		if err := decodeJSON(t, event, js, &p); err != nil {
			return nil, err
		}
		return e, githubPREvent(e, &p)
	case "ping":
		var p githubPing
		if err := decodeJSON(t, event, js, &p); err != nil {
			return nil, err
		}
		if p.Zen == "" && p.HookID == "" {
			return nil, missing(t, event, "zen and hook_id")
		}
		e.Kind = EventPing
		e.Repo = p.Repository.repo()
		e.Author = Author{Login: p.Sender.Login}
		return e, nil
	}
	return nil, unsupported(t, "event %q is not push, pull_request or ping", event)
}

func githubPushEvent(e *Event, p *githubPush) error {
	const t, ev = TypeGitHub, "push"
	e.Kind = EventPush
	if err := setRef(t, e, p.Ref); err != nil {
		return err
	}
	if err := githubCheckRepo(ev, p.Repository); err != nil {
		return err
	}
	e.Repo = p.Repository.repo()
	after, err := checkSHA(t, ev, "after", p.After)
	if err != nil {
		return err
	}
	if p.Before != "" {
		if e.Before, err = checkSHA(t, ev, "before", p.Before); err != nil {
			return err
		}
	}
	e.Deleted = p.Deleted || isZeroSHA(after)
	e.Created = p.Created || isZeroSHA(e.Before)
	e.Forced = p.Forced
	if !e.Deleted {
		e.Commit = after
		e.Changed = changedPaths(p.Commits, len(p.Commits) < githubMaxCommits)
	}
	e.Author = Author{Login: cmp.Or(p.Sender.Login, p.Pusher.Name), Email: p.Pusher.Email}
	return nil
}

func githubPREvent(e *Event, p *githubPullRequest) error {
	const t, ev = TypeGitHub, "pull_request"
	e.Kind = EventPullRequest
	pr := p.PullRequest
	if pr == nil {
		return missing(t, ev, "pull_request")
	}
	if p.Action == "" {
		return missing(t, ev, "action")
	}
	e.PRNumber = p.Number
	if e.PRNumber == 0 {
		e.PRNumber = pr.Number
	}
	if e.PRNumber <= 0 {
		return missing(t, ev, "number")
	}
	repo := p.Repository
	if repo == nil {
		repo = pr.Base.Repo
	}
	if err := githubCheckRepo(ev, repo); err != nil {
		return err
	}
	e.Repo = repo.repo()
	e.HeadRepo = pr.Head.Repo.repo()
	if pr.Head.Ref == "" {
		return missing(t, ev, "pull_request.head.ref")
	}
	if pr.Base.Ref == "" {
		return missing(t, ev, "pull_request.base.ref")
	}
	if err := checkName(t, ev, "pull_request.head.ref", pr.Head.Ref); err != nil {
		return err
	}
	if err := checkName(t, ev, "pull_request.base.ref", pr.Base.Ref); err != nil {
		return err
	}
	e.Branch, e.BaseBranch = pr.Head.Ref, pr.Base.Ref
	e.Ref = "refs/pull/" + strconv.Itoa(e.PRNumber) + "/head"
	var err error
	if e.Commit, err = checkSHA(t, ev, "pull_request.head.sha", pr.Head.SHA); err != nil {
		return err
	}
	if p.Before != "" && !isZeroSHA(p.Before) {
		if e.Before, err = checkSHA(t, ev, "before", p.Before); err != nil {
			return err
		}
	}
	e.PRURL = pr.HTMLURL
	e.PRAction = githubPRAction(p.Action, pr.Merged)
	e.Author = Author{Login: cmp.Or(pr.User.Login, p.Sender.Login)}
	return nil
}

// githubPRAction maps GitHub's pull request actions; Gitea's are the same
// words but for "synchronized".
func githubPRAction(action string, merged bool) string {
	switch action {
	case "opened":
		return PROpened
	case "synchronize", "synchronized":
		return PRUpdated
	case "reopened":
		return PRReopened
	case "edited":
		return PREdited
	case "closed":
		if merged {
			return PRMerged
		}
		return PRClosed
	}
	return action
}

func githubCheckRepo(ev string, r *githubRepo) error {
	switch {
	case r == nil:
		return missing(TypeGitHub, ev, "repository")
	case r.FullName == "":
		return missing(TypeGitHub, ev, "repository.full_name")
	case r.CloneURL == "":
		return missing(TypeGitHub, ev, "repository.clone_url")
	}
	return nil
}

// GitHub reports commit statuses through GitHub's REST API.
type GitHub struct{ api *api }

var _ Forge = (*GitHub)(nil)

// NewGitHub returns a GitHub client; cfg.BaseURL defaults to
// https://api.github.com.
func NewGitHub(cfg Config) (*GitHub, error) {
	a, err := newAPI(TypeGitHub, cfg, "https://api.github.com", "")
	if err != nil {
		return nil, err
	}
	return &GitHub{api: a}, nil
}

// githubState maps a State to GitHub's four.
func githubState(s State) string {
	switch s {
	case StatePending, StateRunning:
		return "pending"
	case StateSuccess:
		return "success"
	case StateFailure:
		return "failure"
	}
	return "error"
}

// SetStatus creates a commit status: POST /repos/{owner}/{repo}/statuses/{sha}.
func (g *GitHub) SetStatus(ctx context.Context, repo RepoRef, commit string, st Status) error {
	return hubStyleStatus(ctx, g.api, repo, commit, st, githubState, githubAuth)
}

// hubStyleStatus posts a status the way GitHub and Gitea both take it.
func hubStyleStatus(ctx context.Context, a *api, repo RepoRef, commit string, st Status,
	state func(State) string, auth func(http.Header, string)) error {
	st, err := st.validate()
	if err != nil {
		return err
	}
	sha, err := checkCommit(a.forge, commit)
	if err != nil {
		return err
	}
	owner, name, err := ownerRepo(a.forge, repo)
	if err != nil {
		return err
	}
	body := struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url,omitempty"`
		Description string `json:"description,omitempty"`
		Context     string `json:"context"`
	}{state(st.State), st.TargetURL, st.Description, st.Context}
	what := fmt.Sprintf("set %s status %q of %s at %s", a.forge, st.Context, repo.FullName, short(sha))
	err = a.post(ctx, what, a.endpoint("repos", owner, name, "statuses", sha), body, auth)
	return err
}
