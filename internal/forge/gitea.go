package forge

import (
	"cmp"
	"context"
	"net/http"
	"strconv"

	"gantry.dev/gantry"
)

// Gitea's payloads borrow GitHub's names for repositories and pull
// requests; its pusher has a login and a username, and it counts the
// pushed commits itself.

type giteaUser struct {
	Login    string `json:"login"`
	Username string `json:"username"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
}

func (u giteaUser) login() string { return cmp.Or(u.Login, u.Username) }

type giteaPush struct {
	Ref          string          `json:"ref"`
	Before       string          `json:"before"`
	After        string          `json:"after"`
	Commits      []payloadCommit `json:"commits"`
	TotalCommits int             `json:"total_commits"`
	Repository   *githubRepo     `json:"repository"`
	Pusher       giteaUser       `json:"pusher"`
	Sender       giteaUser       `json:"sender"`
}

type giteaPullRequest struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number  int       `json:"number"`
		HTMLURL string    `json:"html_url"`
		Merged  bool      `json:"merged"`
		User    giteaUser `json:"user"`
		Head    struct {
			Ref  string      `json:"ref"`
			SHA  string      `json:"sha"`
			Repo *githubRepo `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref  string      `json:"ref"`
			Repo *githubRepo `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository *githubRepo `json:"repository"`
	Sender     giteaUser   `json:"sender"`
}

// ParseGitea verifies a Gitea or Forgejo webhook (X-Gitea-Signature,
// X-Forgejo-Signature or X-Hub-Signature-256) and parses its push or
// pull_request event.
func ParseGitea(h http.Header, body, secret []byte) (*Event, error) {
	if err := VerifyGitea(h, body, secret); err != nil {
		return nil, err
	}
	return decodeGitea(h, body)
}

// decodeGitea parses a verified Gitea delivery.
func decodeGitea(h http.Header, body []byte) (*Event, error) {
	const t = TypeGitea
	event := cmp.Or(h.Get(headerForgejoEvent), h.Get(headerGiteaEvent))
	if event == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "gitea webhook: no %s header", headerGiteaEvent)
	}
	js, err := payloadJSON(t, h, body)
	if err != nil {
		return nil, err
	}
	e := &Event{Forge: t, Delivery: cmp.Or(h.Get(headerForgejoDelivery), h.Get(headerGiteaDelivery))}
	switch event {
	case "push":
		var p giteaPush
		if err := decodeJSON(t, event, js, &p); err != nil {
			return nil, err
		}
		return e, giteaPushEvent(e, &p)
	// Gitea names a pull request's new commits "pull_request_sync" in
	// some versions' event header, and in others only in
	// X-Gitea-Event-Type; the payload is the same.
	case "pull_request", "pull_request_sync":
		var p giteaPullRequest
		if err := decodeJSON(t, event, js, &p); err != nil {
			return nil, err
		}
		return e, giteaPREvent(e, &p)
	}
	return nil, unsupported(t, "event %q is not push or pull_request", event)
}

func giteaPushEvent(e *Event, p *giteaPush) error {
	const t, ev = TypeGitea, "push"
	e.Kind = EventPush
	if err := setRef(t, e, p.Ref); err != nil {
		return err
	}
	if err := giteaCheckRepo(ev, p.Repository); err != nil {
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
	e.Deleted = isZeroSHA(after)
	e.Created = isZeroSHA(e.Before)
	if !e.Deleted {
		e.Commit = after
		// Gitea lists at most a configured number of commits and counts
		// them all in total_commits.
		e.Changed = changedPaths(p.Commits, p.TotalCommits <= len(p.Commits))
	}
	e.Author = Author{Login: cmp.Or(p.Pusher.login(), p.Sender.login()), Name: p.Pusher.FullName, Email: p.Pusher.Email}
	return nil
}

func giteaPREvent(e *Event, p *giteaPullRequest) error {
	const t, ev = TypeGitea, "pull_request"
	e.Kind = EventPullRequest
	pr := p.PullRequest
	if pr == nil {
		return missing(t, ev, "pull_request")
	}
	if p.Action == "" {
		return missing(t, ev, "action")
	}
	e.PRNumber = cmp.Or(p.Number, pr.Number)
	if e.PRNumber <= 0 {
		return missing(t, ev, "number")
	}
	repo := p.Repository
	if repo == nil {
		repo = pr.Base.Repo
	}
	if err := giteaCheckRepo(ev, repo); err != nil {
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
	e.PRURL = pr.HTMLURL
	e.PRAction = githubPRAction(p.Action, pr.Merged)
	e.Author = Author{Login: cmp.Or(pr.User.login(), p.Sender.login()), Name: pr.User.FullName}
	return nil
}

func giteaCheckRepo(ev string, r *githubRepo) error {
	switch {
	case r == nil:
		return missing(TypeGitea, ev, "repository")
	case r.FullName == "":
		return missing(TypeGitea, ev, "repository.full_name")
	case r.CloneURL == "":
		return missing(TypeGitea, ev, "repository.clone_url")
	}
	return nil
}

// Gitea reports commit statuses through Gitea's (or Forgejo's) API.
type Gitea struct{ api *api }

var _ Forge = (*Gitea)(nil)

// NewGitea returns a Gitea client; cfg.BaseURL, the instance's address, is
// required.
func NewGitea(cfg Config) (*Gitea, error) {
	a, err := newAPI(TypeGitea, cfg, "", "/api/v1")
	if err != nil {
		return nil, err
	}
	return &Gitea{api: a}, nil
}

// giteaState maps a State to Gitea's words: GitHub's four (and "warning",
// which Gantry does not use).
func giteaState(s State) string { return githubState(s) }

// SetStatus creates a commit status: POST /api/v1/repos/{owner}/{repo}/statuses/{sha}.
func (g *Gitea) SetStatus(ctx context.Context, repo RepoRef, commit string, st Status) error {
	return hubStyleStatus(ctx, g.api, repo, commit, st, giteaState, giteaAuth)
}
