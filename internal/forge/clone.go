package forge

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"gantry.dev/gantry"
)

// The user names each forge expects beside a token in HTTPS basic auth.
// Gitea takes any name when the password is an access token.
const (
	githubCloneUser = "x-access-token"
	gitlabCloneUser = "oauth2"
	giteaCloneUser  = "oauth2"
)

// CloneURL is a repository's HTTPS URL with read-only job credentials in
// it. Printed, logged or marshalled it shows only its redacted form; the
// token comes out through Reveal and the Git* methods alone, which hand it
// to git.
type CloneURL struct {
	plain string      // the URL without credentials
	user  string      // the basic-auth user name
	cred  *credential // behind a pointer, so %v of a struct holding a CloneURL shows no token
}

// NewCloneURL puts token into repoURL for forge t, with the user name the
// forge expects (x-access-token for GitHub, oauth2 for GitLab and Gitea).
// repoURL must be an http(s) URL; any credentials already in it are
// replaced.
func NewCloneURL(t Type, repoURL, token string) (CloneURL, error) {
	var user string
	switch t {
	case TypeGitHub:
		user = githubCloneUser
	case TypeGitLab:
		user = gitlabCloneUser
	case TypeGitea:
		user = giteaCloneUser
	default:
		return CloneURL{}, gantry.Errorf(gantry.EInvalid, "clone URL: unknown forge %q", t)
	}
	return NewCloneURLUser(repoURL, user, token)
}

// NewCloneURLUser is NewCloneURL with an explicit user name, for a forge
// or a token kind with its own (GitLab's job tokens use gitlab-ci-token).
func NewCloneURLUser(repoURL, user, token string) (CloneURL, error) {
	if token == "" {
		return CloneURL{}, gantry.Errorf(gantry.EInvalid, "clone URL: no token")
	}
	if strings.ContainsFunc(token, isSpaceOrControl) || strings.ContainsFunc(user, isSpaceOrControl) || strings.Contains(user, ":") {
		return CloneURL{}, gantry.Errorf(gantry.EInvalid, "clone URL: the token or user name has white space, a control character or a colon in it")
	}
	u, err := url.Parse(repoURL)
	if err != nil {
		// url.Parse quotes its input, which may hold credentials.
		return CloneURL{}, gantry.Errorf(gantry.EInvalid, "clone URL: the repository URL is not an http(s) URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return CloneURL{}, gantry.Errorf(gantry.EInvalid, "clone URL: repository URL %s is not an http(s) URL: a token cannot travel over %q", redactedURL(u), u.Scheme)
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	return CloneURL{plain: u.String(), user: user, cred: &credential{token}}, nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

func redactedURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// Reveal returns the URL with the credentials in it, for git to clone
// with. Prefer GitEnv, which keeps the token out of the checkout's
// .git/config and out of the process's arguments.
func (c CloneURL) Reveal() string {
	if c.cred == nil {
		return c.plain
	}
	u, err := url.Parse(c.plain)
	if err != nil {
		return c.plain
	}
	u.User = url.UserPassword(c.user, c.cred.token)
	return u.String()
}

// Redacted returns the URL with the token replaced by "xxxxx".
func (c CloneURL) Redacted() string {
	if c.cred == nil {
		return c.plain
	}
	u, err := url.Parse(c.plain)
	if err != nil {
		return c.plain
	}
	u.User = url.UserPassword(c.user, "xxxxx")
	return u.String()
}

// Plain returns the URL without credentials: what a checkout's origin
// should say.
func (c CloneURL) Plain() string { return c.plain }

// Token returns the token, for the masker that keeps it out of job logs.
func (c CloneURL) Token() string {
	if c.cred == nil {
		return ""
	}
	return c.cred.token
}

// GitEnv returns environment variables that make git send the
// credentials as an Authorization header to this URL's prefix, so that
// `git clone` of Plain() works without the token in the URL, in
// .git/config or on a command line. They use git's GIT_CONFIG_COUNT
// (git 2.31 and later).
func (c CloneURL) GitEnv() []string {
	if c.cred == nil {
		return nil
	}
	basic := base64.StdEncoding.EncodeToString([]byte(c.user + ":" + c.cred.token))
	return []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http." + c.plain + ".extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic " + basic,
	}
}

// String returns the redacted form.
func (c CloneURL) String() string { return c.Redacted() }

// Format prints the redacted form whatever the verb, so that no verb
// (%v, %+v, %#v, %x) prints the token.
func (c CloneURL) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", c.Redacted())
	default:
		fmt.Fprint(f, c.Redacted())
	}
}

// LogValue logs the redacted form.
func (c CloneURL) LogValue() slog.Value { return slog.StringValue(c.Redacted()) }

// MarshalText marshals the redacted form: a CloneURL that reaches JSON
// or YAML has been sent somewhere it should not go.
func (c CloneURL) MarshalText() ([]byte, error) { return []byte(c.Redacted()), nil }
