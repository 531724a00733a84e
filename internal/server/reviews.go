package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/forge"
)

// forgeReviewsTimeout bounds fetching a pull request's reviews, every
// page of them: a webhook's delivery, which the forge times out, waits
// for it, and so does an agent's report of its change.
const forgeReviewsTimeout = 5 * time.Second

// errNoForgeToken says a project has no forge token: it reads no reviews
// from its forge, which is not a failure.
var errNoForgeToken = errors.New("no forge token")

// forgeToken is the project's token for its forge's API, the one commit
// statuses are reported with; errNoForgeToken when it has none.
func (s *Server) forgeToken(ctx context.Context, project string) (string, error) {
	if s.opts.Secrets == nil {
		return "", errNoForgeToken
	}
	v, err := s.opts.Secrets.Resolve(ctx, project, "", []string{ForgeTokenName})
	if errors.Is(err, gantry.ErrNotFound) || (err == nil && v[ForgeTokenName] == "") {
		return "", errNoForgeToken
	}
	if err != nil {
		return "", fmt.Errorf("read the forge token of %s: %w", project, err)
	}
	return v[ForgeTokenName], nil
}

// forgeReviews fetches the reviews of run's pull request from its forge,
// with the client and token its commit status is reported with.
func (s *Server) forgeReviews(ctx context.Context, run *gantry.Run) ([]gantry.Review, error) {
	t := run.Trigger
	token, err := s.forgeToken(ctx, run.Project)
	if err != nil {
		return nil, err
	}
	ft, _ := forge.ParseType(t.Forge)
	f, err := forge.NewReviewLister(forge.Config{Type: ft, BaseURL: t.ForgeAPI, Token: token, Client: s.opts.ForgeHTTP, Timeout: forgeReviewsTimeout})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, forgeReviewsTimeout)
	defer cancel()
	reviews, err := f.Reviews(ctx, forge.RepoRef{FullName: t.Repo}, t.PullRequest)
	for i := range reviews {
		reviews[i].Source = gantry.ReviewFromForge
	}
	return reviews, err
}

// changeReviews returns the reviews to record for c, the change of run.
// For a pull request on a forge Gantry can read, they are the forge's,
// fetched now: its commits' trailers are written by the author, and a
// forge review is not, so trailers do not count beside them. When the
// forge's cannot be fetched the forge reviews already recorded stand in
// for them, so that neither a failed call nor what an agent reports drops
// or forges what the forge said. Other changes (pushes, or a forge Gantry
// has no token for) keep the trailers' reviews, marked as such. A failure
// is logged; the change is recorded all the same.
func (s *Server) changeReviews(ctx context.Context, run *gantry.Run, c *gantry.Change) []gantry.Review {
	t := run.Trigger
	trailers := fromSource(c.Reviews, gantry.ReviewFromTrailer)
	if t.Forge == "" || t.Repo == "" || t.PullRequest <= 0 {
		return trailers
	}
	fromForge, err := s.forgeReviews(ctx, run)
	switch {
	case errors.Is(err, errNoForgeToken):
		return trailers
	case err != nil:
		s.opts.Logger.Warn("reviews of the run's pull request; keeping those recorded", "run", run.ID, "pull_request", t.PullRequest, "err", err)
		old, err := s.opts.Store.Change(ctx, run.Project, c.ID)
		switch {
		case err == nil:
			fromForge = fromSource(old.Reviews, gantry.ReviewFromForge)
		case !errors.Is(err, gantry.ErrNotFound):
			s.opts.Logger.Warn("reviews recorded of the change", "run", run.ID, "change", c.ID, "err", err)
		}
	}
	return mergeReviews(fromForge, nil)
}

// fromSource returns the reviews that come from source. What an agent
// reports as a forge review is not one: only the server asks the forge.
func fromSource(reviews []gantry.Review, source string) []gantry.Review {
	var out []gantry.Review
	for _, r := range reviews {
		if r.Source == source {
			out = append(out, r)
		}
	}
	return out
}

// mergeReviews returns one review per reviewer: every one of fromForge,
// then those of trailers whose reviewer the forge has no verdict from.
// Reviewers are compared without case, as forges compare logins and git
// compares e-mail addresses; the first of a reviewer's reviews in a list
// stands.
func mergeReviews(fromForge, trailers []gantry.Review) []gantry.Review {
	var out []gantry.Review
	seen := map[string]bool{}
	for _, list := range [][]gantry.Review{fromForge, trailers} {
		for _, r := range list {
			key := strings.ToLower(r.Reviewer)
			if r.Reviewer == "" || seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, r)
		}
	}
	return out
}
