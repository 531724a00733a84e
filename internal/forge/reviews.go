package forge

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gantry.dev/gantry"
)

// ReviewLister reads who reviewed a pull request, and how. It is apart
// from Forge because its callers are: reporting a status and reading
// reviews are used at different moments, and a fake of one need not
// fake the other. The three clients are both.
type ReviewLister interface {
	// Reviews returns each reviewer's standing verdict on pull (merge)
	// request number of repo, one per reviewer, by forge login, in the
	// order they first reviewed.
	Reviews(ctx context.Context, repo RepoRef, number int) ([]gantry.Review, error)
}

var (
	_ ReviewLister = (*GitHub)(nil)
	_ ReviewLister = (*GitLab)(nil)
	_ ReviewLister = (*Gitea)(nil)
)

// NewReviewLister returns the client for cfg.Type as a ReviewLister. The
// token needs read access to the repository's pull requests.
func NewReviewLister(cfg Config) (ReviewLister, error) {
	return newForge(cfg)
}

const (
	// maxReviewPage bounds one page of reviews. Reviews carry their
	// text, so a page can be large; a page over the bound is an error,
	// not a page cut short.
	maxReviewPage = 4 << 20
	// maxReviewPages bounds how many pages are read. The newest reviews
	// are on the last pages, so a pull request with more is an error
	// rather than a verdict from its oldest reviews.
	maxReviewPages = 20
	// The reviews a page is asked for: GitHub gives at most 100, Gitea
	// at most its MAX_RESPONSE_ITEMS (50 by default; fewer when it is
	// set lower).
	githubReviewsPerPage = 100
	giteaReviewsPerPage  = 50
)

// forgeReview is one review as a forge lists it, its state already in
// Gantry's words: "" for a review that says nothing (pending, dismissed).
type forgeReview struct {
	login string
	state string
	at    time.Time
}

func githubAuth(h http.Header, token string) {
	h.Set("Authorization", "Bearer "+token)
	h.Set("Accept", "application/vnd.github+json")
	h.Set("X-GitHub-Api-Version", "2022-11-28")
}

func giteaAuth(h http.Header, token string) { h.Set("Authorization", "token "+token) }

func gitlabAuth(h http.Header, token string) { h.Set("PRIVATE-TOKEN", token) }

func checkPRNumber(t Type, number int) error {
	if number <= 0 {
		return gantry.Errorf(gantry.EInvalid, "%s reviews: pull request number %d is not positive", t, number)
	}
	return nil
}

// Reviews lists a pull request's reviews: GET
// /repos/{owner}/{repo}/pulls/{number}/reviews, following the Link
// header's next page. Approved, changes requested and commented reviews
// count; pending and dismissed ones do not.
func (g *GitHub) Reviews(ctx context.Context, repo RepoRef, number int) ([]gantry.Review, error) {
	if err := checkPRNumber(TypeGitHub, number); err != nil {
		return nil, err
	}
	owner, name, err := ownerRepo(TypeGitHub, repo)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list github reviews of %s#%d", repo.FullName, number)
	next := g.api.endpoint("repos", owner, name, "pulls", strconv.Itoa(number), "reviews") +
		"?per_page=" + strconv.Itoa(githubReviewsPerPage)
	var all []forgeReview
	for page := 1; next != ""; page++ {
		if page > maxReviewPages {
			return nil, gantry.Errorf(gantry.EUnavailable, "%s: more than %d pages", what, maxReviewPages)
		}
		body, h, err := g.api.send(ctx, what, http.MethodGet, next, nil, maxReviewPage, githubAuth)
		if err != nil {
			return nil, err
		}
		rs, err := parseGitHubReviews(body)
		if err != nil {
			return nil, gantry.Errorf(gantry.EUnavailable, "%s: page %d: %w", what, page, err)
		}
		all = append(all, rs...)
		if next, err = g.api.nextPage(h.Values("Link")); err != nil {
			return nil, gantry.Errorf(gantry.EUnavailable, "%s: page %d: %w", what, page, err)
		}
	}
	return latestReviews(all), nil
}

// Reviews lists a pull request's reviews: GET
// /api/v1/repos/{owner}/{repo}/pulls/{number}/reviews, page by page until
// an empty page or X-Total-Count reviews (Gitea sends no Link header
// there). Approved, request-changes and comment reviews count; pending,
// review requests and dismissed reviews do not.
func (g *Gitea) Reviews(ctx context.Context, repo RepoRef, number int) ([]gantry.Review, error) {
	if err := checkPRNumber(TypeGitea, number); err != nil {
		return nil, err
	}
	owner, name, err := ownerRepo(TypeGitea, repo)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list gitea reviews of %s#%d", repo.FullName, number)
	base := g.api.endpoint("repos", owner, name, "pulls", strconv.Itoa(number), "reviews")
	var all []forgeReview
	seen := 0
	for page := 1; ; page++ {
		if page > maxReviewPages {
			return nil, gantry.Errorf(gantry.EUnavailable, "%s: more than %d pages", what, maxReviewPages)
		}
		u := base + "?limit=" + strconv.Itoa(giteaReviewsPerPage) + "&page=" + strconv.Itoa(page)
		body, h, err := g.api.send(ctx, what, http.MethodGet, u, nil, maxReviewPage, giteaAuth)
		if err != nil {
			return nil, err
		}
		rs, n, err := parseGiteaReviews(body)
		if err != nil {
			return nil, gantry.Errorf(gantry.EUnavailable, "%s: page %d: %w", what, page, err)
		}
		all = append(all, rs...)
		seen += n
		total, err := strconv.Atoi(h.Get("X-Total-Count"))
		if n == 0 || (err == nil && seen >= total) {
			break
		}
	}
	return latestReviews(all), nil
}

// Reviews lists who approved a merge request: GET
// /api/v4/projects/{id}/merge_requests/{iid}/approvals, approved_by. GitLab
// lists approvals only, without their times.
func (g *GitLab) Reviews(ctx context.Context, repo RepoRef, number int) ([]gantry.Review, error) {
	if err := checkPRNumber(TypeGitLab, number); err != nil {
		return nil, err
	}
	project, err := gitlabProjectPath("gitlab reviews", repo)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list gitlab approvals of %s!%d", repo, number)
	body, _, err := g.api.send(ctx, what, http.MethodGet,
		g.api.endpoint("projects", project, "merge_requests", strconv.Itoa(number), "approvals"), nil, maxReviewPage, gitlabAuth)
	if err != nil {
		return nil, err
	}
	rs, err := parseGitLabApprovals(body)
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "%s: %w", what, err)
	}
	return latestReviews(rs), nil
}

// gitlabProjectPath is how GitLab's API names repo in a path: its numeric ID,
// or its URL-escaped full path.
func gitlabProjectPath(what string, repo RepoRef) (string, error) {
	if repo.ID != "" {
		if _, err := strconv.ParseUint(repo.ID, 10, 64); err != nil {
			return "", gantry.Errorf(gantry.EInvalid, "%s: project ID %q is not a number", what, repo.ID)
		}
		return repo.ID, nil
	}
	p := strings.Trim(repo.FullName, "/")
	if !strings.Contains(p, "/") || strings.Contains(p, "//") {
		return "", gantry.Errorf(gantry.EInvalid, "%s: repository %q is not group/name", what, repo.FullName)
	}
	return url.PathEscape(p), nil
}

// nextPage returns the rel="next" URL of Link header values, "" when
// there is none. The token goes with the request, so the next page must
// be on the API the client was given: same scheme, host and base path,
// with no dot segments to climb out of it.
func (a *api) nextPage(links []string) (string, error) {
	next := nextLink(links)
	if next == "" {
		return "", nil
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != a.base.Scheme || !strings.EqualFold(u.Host, a.base.Host) || u.User != nil ||
		!strings.HasPrefix(u.EscapedPath(), a.base.EscapedPath()+"/") ||
		slices.ContainsFunc(strings.Split(u.Path, "/"), func(s string) bool { return s == "." || s == ".." }) {
		return "", fmt.Errorf("next page %q is not on %s", clean(next, 200), a.base.Redacted())
	}
	return u.String(), nil
}

// nextLink picks the rel="next" target out of Link header values
// (RFC 8288): `<URL>; rel="next", <URL>; rel="last"`.
func nextLink(values []string) string {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			target = strings.TrimSpace(target)
			if !ok || len(target) < 2 || target[0] != '<' || target[len(target)-1] != '>' {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

// hubReview is a review as GitHub and Gitea list it.
type hubReview struct {
	User *struct {
		Login    string `json:"login"`
		Username string `json:"username"` // Gitea's older spelling
	} `json:"user"` // null for a deleted account, or a team's review request
	State       string `json:"state"`
	SubmittedAt string `json:"submitted_at"`
	Dismissed   bool   `json:"dismissed"` // Gitea; GitHub says DISMISSED
}

func (r *hubReview) login() string {
	if r.User == nil {
		return ""
	}
	return cmp.Or(r.User.Login, r.User.Username)
}

// The review states of GitHub and Gitea, by their names for them; a state
// not listed (PENDING, DISMISSED, REQUEST_REVIEW) is no verdict.
var (
	githubStates = map[string]string{"APPROVED": gantry.ReviewApproved, "CHANGES_REQUESTED": gantry.ReviewChangesRequested, "COMMENTED": gantry.ReviewCommented}
	giteaStates  = map[string]string{"APPROVED": gantry.ReviewApproved, "REQUEST_CHANGES": gantry.ReviewChangesRequested, "COMMENT": gantry.ReviewCommented}
)

// parseHubReviews reads one page of reviews in the shape GitHub and Gitea
// share, with the forge's names of states; a dismissed review is no
// verdict. n is how many the page held, counted or not.
func parseHubReviews(body []byte, states map[string]string) (rs []forgeReview, n int, err error) {
	var page []hubReview
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, 0, fmt.Errorf("decode reviews: %w", err)
	}
	out := make([]forgeReview, 0, len(page))
	for _, r := range page {
		state := states[r.State]
		if r.Dismissed {
			state = ""
		}
		out = append(out, forgeReview{login: r.login(), state: state, at: reviewTime(r.SubmittedAt)})
	}
	return out, len(page), nil
}

// parseGitHubReviews reads one page of GitHub's reviews.
func parseGitHubReviews(body []byte) ([]forgeReview, error) {
	rs, _, err := parseHubReviews(body, githubStates)
	return rs, err
}

// parseGiteaReviews reads one page of Gitea's reviews; n is how many the
// page held, counted or not.
func parseGiteaReviews(body []byte) (rs []forgeReview, n int, err error) {
	return parseHubReviews(body, giteaStates)
}

// parseGitLabApprovals reads GitLab's approvals of a merge request.
func parseGitLabApprovals(body []byte) ([]forgeReview, error) {
	var v struct {
		ApprovedBy []struct {
			User *struct {
				Username string `json:"username"`
			} `json:"user"`
		} `json:"approved_by"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decode approvals: %w", err)
	}
	out := make([]forgeReview, 0, len(v.ApprovedBy))
	for _, a := range v.ApprovedBy {
		if a.User != nil {
			out = append(out, forgeReview{login: a.User.Username, state: gantry.ReviewApproved})
		}
	}
	return out, nil
}

// reviewTime reads a review's time; one that is missing, malformed or
// outside what a store keeps is no time at all.
func reviewTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if t = t.UTC(); err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}
	}
	return t
}

// validLogin reports whether s can be a forge login: printable, without
// spaces, at most 255 bytes. Anything else did not come from a forge and
// is not stored.
func validLogin(s string) bool {
	if s == "" || len(s) > 255 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// latestReviews reduces reviews to each reviewer's standing verdict:
// their latest approval or change request, or, when they only commented,
// their latest comment. A comment does not replace a verdict, as on
// GitHub and Gitea, where a reply after an approval leaves the approval
// standing. Reviews are taken in time order when all have times, in list
// order (the forges list oldest first) otherwise. Reviewers are compared
// without case, as forges compare logins.
func latestReviews(rs []forgeReview) []gantry.Review {
	rs = slices.DeleteFunc(slices.Clone(rs), func(r forgeReview) bool { return r.state == "" || !validLogin(r.login) })
	if !slices.ContainsFunc(rs, func(r forgeReview) bool { return r.at.IsZero() }) {
		slices.SortStableFunc(rs, func(a, b forgeReview) int { return a.at.Compare(b.at) })
	}
	out := []gantry.Review{}
	at := map[string]int{}
	for _, r := range rs {
		rv := gantry.Review{Reviewer: r.login, State: r.state, At: r.at}
		key := strings.ToLower(r.login)
		i, ok := at[key]
		switch {
		case !ok:
			at[key] = len(out)
			out = append(out, rv)
		case rv.State == gantry.ReviewCommented && out[i].State != gantry.ReviewCommented:
			// A comment after a verdict leaves the verdict.
		default:
			out[i] = rv
		}
	}
	return out
}
