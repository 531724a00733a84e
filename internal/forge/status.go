package forge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gantry.dev/gantry"
)

// Forge reports a pipeline's outcome on a commit, where the forge shows it
// beside the commit and its pull requests and can require it before a
// merge (gated commits).
type Forge interface {
	SetStatus(ctx context.Context, repo RepoRef, commit string, st Status) error
}

// RepoRef names a repository to a forge's API.
type RepoRef struct {
	FullName string // owner/name; on GitLab group/subgroup/name
	ID       string // GitLab's numeric project ID; used instead of FullName when set
}

// String names the repository for messages.
func (r RepoRef) String() string { return cmp.Or(r.FullName, r.ID) }

// State is a commit status's state.
type State string

// The states. Each forge gets the nearest word it has.
const (
	StatePending  State = "pending"  // queued; every forge
	StateRunning  State = "running"  // GitLab "running"; pending elsewhere
	StateSuccess  State = "success"  // every forge
	StateFailure  State = "failure"  // the pipeline failed or a gate denied; GitLab "failed"
	StateError    State = "error"    // the pipeline could not run; GitLab "failed"
	StateCanceled State = "canceled" // GitLab "canceled"; error elsewhere
)

// DefaultContext is the status context Gantry reports under when a Status
// names none: branch protection rules require it by this name.
const DefaultContext = "gantry/pipeline"

// maxDescription is the longest description GitHub accepts; the others
// take more, but one limit keeps the words the same everywhere.
const maxDescription = 140

// Status is what is reported on a commit.
type Status struct {
	State       State
	Context     string // the check's name; DefaultContext when empty
	Description string // one line; cut to 140 characters
	TargetURL   string // the run's page; absolute http(s) URL or empty
	Ref         string // the branch the commit was built for; GitLab uses it, others ignore it
}

func (st Status) validate() (Status, error) {
	switch st.State {
	case StatePending, StateRunning, StateSuccess, StateFailure, StateError, StateCanceled:
	default:
		return st, gantry.Errorf(gantry.EInvalid, "commit status: unknown state %q", st.State)
	}
	if st.Context == "" {
		st.Context = DefaultContext
	}
	if st.TargetURL != "" {
		u, err := url.Parse(st.TargetURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return st, gantry.Errorf(gantry.EInvalid, "commit status: target URL %q is not an absolute http(s) URL", st.TargetURL)
		}
	}
	st.Description = strings.Join(strings.Fields(st.Description), " ")
	if utf8.RuneCountInString(st.Description) > maxDescription {
		r := []rune(st.Description)
		st.Description = string(r[:maxDescription-1]) + "…"
	}
	return st, nil
}

// DefaultTimeout bounds one call to a forge's API when Config says
// nothing: a forge that hangs must not hold a run's end.
const DefaultTimeout = 10 * time.Second

// Config configures a forge client.
type Config struct {
	Type Type
	// BaseURL is the API root. GitHub: https://api.github.com by default,
	// https://HOST/api/v3 for GitHub Enterprise Server. GitLab: the
	// instance (https://gitlab.com by default); /api/v4 is added. Gitea:
	// the instance, required; /api/v1 is added.
	BaseURL string
	// Token authenticates: a GitHub token with commit status write, a
	// GitLab token with the api scope, a Gitea token with repository
	// write. It never appears in an error or a printed client.
	Token string
	// Client sends the requests; nil means a fresh client. Redirects are
	// never followed, whatever Client says: a token header must not go
	// where it was not sent.
	Client *http.Client
	// Timeout bounds each call; 0 means DefaultTimeout.
	Timeout time.Duration
	// UserAgent names Gantry to the forge; "gantry" when empty.
	UserAgent string
}

// New returns the client for cfg.Type.
func New(cfg Config) (Forge, error) {
	return newForge(cfg)
}

// client is what each forge's client does.
type client interface {
	Forge
	ReviewLister
}

// newForge returns the client for cfg.Type.
func newForge(cfg Config) (client, error) {
	switch cfg.Type {
	case TypeGitHub:
		return NewGitHub(cfg)
	case TypeGitLab:
		return NewGitLab(cfg)
	case TypeGitea:
		return NewGitea(cfg)
	}
	return nil, gantry.Errorf(gantry.EInvalid, "forge: unknown type %q: want github, gitlab or gitea", cfg.Type)
}

// credential holds a token behind a pointer, so that printing a client
// with %v or %+v shows an address, never the token.
type credential struct{ token string }

// api is what the three clients share: where to send, how, and with what.
type api struct {
	forge     Type
	base      *url.URL
	cred      *credential
	client    *http.Client
	timeout   time.Duration
	userAgent string
}

func newAPI(t Type, cfg Config, defaultBase, suffix string) (*api, error) {
	if cfg.Token == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "%s forge: no token", t)
	}
	if strings.ContainsAny(cfg.Token, "\r\n\t ") {
		return nil, gantry.Errorf(gantry.EInvalid, "%s forge: the token has white space in it", t)
	}
	raw := cmp.Or(cfg.BaseURL, defaultBase)
	if raw == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "%s forge: no base URL", t)
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "%s forge: base URL %q is not an absolute http(s) URL", t, raw)
	}
	if base.User != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "%s forge: base URL has credentials in it: give the token as Config.Token", t)
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	if suffix != "" && !strings.HasSuffix(base.Path, suffix) {
		base.Path += suffix
	}
	c := &http.Client{}
	if cfg.Client != nil {
		cc := *cfg.Client
		c = &cc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &api{forge: t, base: base, cred: &credential{cfg.Token}, client: c, timeout: timeout,
		userAgent: cmp.Or(cfg.UserAgent, "gantry")}, nil
}

// endpoint joins escaped path segments to the base URL; each segment is
// escaped already, so a "/" in a GitLab project path stays %2F.
func (a *api) endpoint(escaped ...string) string {
	return strings.TrimRight(a.base.String(), "/") + "/" + strings.Join(escaped, "/")
}

// APIError is a forge's refusal: its HTTP status and what it said.
type APIError struct {
	Forge      Type
	StatusCode int
	Message    string // the forge's own message, token removed, cut to 300 characters
}

// Error says which forge answered what.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s answered %d: %s", e.Forge, e.StatusCode, msg)
}

// maxErrorBody bounds how much of a refusal is read: only its message is
// of use.
const maxErrorBody = 64 << 10

// post sends body as JSON with the auth header set by auth; any answer
// but a 2xx is an error carrying an *APIError.
func (a *api) post(ctx context.Context, what, endpoint string, body any, auth func(h http.Header, token string)) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", what, err)
	}
	// Only an error's body is of use; a success's is drained so that the
	// connection can be reused.
	_, _, err = a.send(ctx, what, http.MethodPost, endpoint, bytes.NewReader(b), maxErrorBody, auth)
	return err
}

// send makes one call to the forge's API and returns the answer's body,
// read up to limit bytes, and its header. A body over limit is an error
// on a 2xx answer, since what was cut cannot be decoded; any answer but a
// 2xx is an error carrying an *APIError.
func (a *api) send(ctx context.Context, what, method, endpoint string, body io.Reader, limit int64, auth func(h http.Header, token string)) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return nil, nil, gantry.Errorf(gantry.EInvalid, "%s: %w", what, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", a.userAgent)
	auth(req.Header, a.cred.token)
	resp, err := a.client.Do(req)
	if err != nil {
		// A *url.Error names the URL, which holds no credentials: the
		// token travels in a header.
		return nil, nil, gantry.Errorf(gantry.EUnavailable, "%s: %w", what, a.redactErr(err))
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	switch {
	case ok && method == http.MethodPost:
		return nil, resp.Header, nil // a status's answer is not read
	case ok && err != nil:
		return nil, nil, gantry.Errorf(gantry.EUnavailable, "%s: read %s's answer: %w", what, a.forge, a.redactErr(err))
	case ok && int64(len(respBody)) > limit:
		return nil, nil, gantry.Errorf(gantry.EUnavailable, "%s: %s's answer is over %d bytes", what, a.forge, limit)
	case ok:
		return respBody, resp.Header, nil
	case err != nil:
		return nil, nil, gantry.Errorf(gantry.EUnavailable, "%s: read %s's answer %d: %w", what, a.forge, resp.StatusCode, a.redactErr(err))
	}
	apiErr := &APIError{Forge: a.forge, StatusCode: resp.StatusCode, Message: a.redact(forgeMessage(respBody))}
	return nil, nil, gantry.Errorf(statusKind(resp.StatusCode), "%s: %w", what, apiErr)
}

// statusKind tells what kind of trouble a forge's HTTP status is.
func statusKind(code int) string {
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return gantry.EForbidden // the token may not do this here
	case code == http.StatusNotFound:
		return gantry.ENotFound // no such repository or commit, or not visible to the token
	case code == http.StatusTooManyRequests, code >= 500, code < 200, code >= 300 && code < 400:
		return gantry.EUnavailable
	}
	return gantry.EInvalid
}

func (a *api) redact(s string) string {
	if a.cred.token == "" {
		return s
	}
	return strings.ReplaceAll(s, a.cred.token, "[REDACTED]")
}

type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// redactErr keeps an error's text free of the token, keeping the error
// itself (for errors.Is on context errors) when its text is already clean.
func (a *api) redactErr(err error) error {
	if !strings.Contains(err.Error(), a.cred.token) {
		return err
	}
	return &redactedError{a.redact(err.Error())}
}

// forgeMessage picks the human part out of a forge's error body: GitHub
// and Gitea send {"message": "..."} (GitHub with "errors" detail), GitLab
// {"message": "..."} or {"message": {field: [...]}} or {"error": "..."}.
func forgeMessage(body []byte) string {
	var v struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
		Errors  []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	var msg string
	if json.Unmarshal(body, &v) == nil {
		var s string
		if json.Unmarshal(v.Message, &s) == nil {
			msg = s
		} else if len(v.Message) > 0 && string(v.Message) != "null" {
			var buf bytes.Buffer
			if json.Compact(&buf, v.Message) == nil {
				msg = buf.String()
			}
		}
		if msg == "" {
			msg = v.Error
		}
		for _, e := range v.Errors {
			detail := cmp.Or(e.Message, strings.TrimSpace(e.Field+" "+e.Code))
			if detail != "" {
				msg += ": " + detail
				break
			}
		}
	} else {
		msg = string(body)
	}
	return clean(msg, 300)
}

// clean makes a forge's words fit for one log line: printable, one line,
// at most n characters.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// checkCommit refuses what is not a full commit ID before it goes into a
// URL path.
func checkCommit(t Type, commit string) (string, error) {
	c := strings.ToLower(commit)
	if !isSHA(c) {
		return "", gantry.Errorf(gantry.EInvalid, "%s commit status: %q is not a full commit ID", t, commit)
	}
	return c, nil
}

// ownerRepo splits owner/name for GitHub and Gitea and escapes each part.
func ownerRepo(t Type, r RepoRef) (string, string, error) {
	owner, name, ok := strings.Cut(r.FullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") || owner == ".." || name == ".." || owner == "." || name == "." {
		return "", "", gantry.Errorf(gantry.EInvalid, "%s commit status: repository %q is not owner/name", t, r.FullName)
	}
	return url.PathEscape(owner), url.PathEscape(name), nil
}

// ParseRepoURL names the repository at a clone URL for a forge's API:
// https://host/owner/name(.git), ssh://git@host/owner/name.git or
// git@host:owner/name.git all give owner/name (group/subgroup/name on
// GitLab). The server derives a project's RepoRef from its RepoURL with it.
func ParseRepoURL(repoURL string) (RepoRef, error) {
	var p string
	if u, err := url.Parse(repoURL); err == nil && u.Scheme != "" && u.Host != "" {
		p = u.Path
	} else if at, rest, ok := strings.Cut(repoURL, ":"); ok && !strings.Contains(at, "/") && at != "" {
		// scp-like: [user@]host:path
		p = rest
	} else {
		return RepoRef{}, gantry.Errorf(gantry.EInvalid, "repository URL %q: want https://host/owner/name or git@host:owner/name", redactURLText(repoURL))
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	parts := strings.Split(p, "/")
	if len(parts) < 2 || slices.ContainsFunc(parts, func(s string) bool { return s == "" || s == "." || s == ".." }) {
		return RepoRef{}, gantry.Errorf(gantry.EInvalid, "repository URL %q: path %q is not owner/name", redactURLText(repoURL), p)
	}
	return RepoRef{FullName: p}, nil
}

// redactURLText hides the password of a URL in an error message.
func redactURLText(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
