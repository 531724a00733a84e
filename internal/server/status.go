package server

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/forge"
)

// ForgeTokenName is the project secret that commit statuses are reported
// with: a token that may set statuses on the repository.
const ForgeTokenName = "GANTRY_FORGE_TOKEN"

// forgeAPI is where a forge's API is, from a repository's clone URL:
// api.github.com for github.com, /api/v3 on GitHub Enterprise, the host
// itself for GitLab and Gitea (their clients add their API paths).
func forgeAPI(t forge.Type, cloneURL string) string {
	u, err := url.Parse(cloneURL)
	if err != nil || u.Host == "" {
		return ""
	}
	base := u.Scheme + "://" + u.Host
	if t == forge.TypeGitHub {
		if strings.EqualFold(u.Hostname(), "github.com") {
			return "https://api.github.com"
		}
		return base + "/api/v3"
	}
	return base
}

// reportStatus sets the commit status of a run that a webhook started, so
// that the forge lets the change merge only when its pipeline passed. A
// project without a forge token reports nothing; a failure to report is
// logged, not the run's.
func (s *Server) reportStatus(ctx context.Context, run *gantry.Run) {
	t := run.Trigger
	if t.Forge == "" || t.Repo == "" || t.Commit == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	token, err := s.forgeToken(ctx, run.Project)
	if err != nil {
		if !errors.Is(err, errNoForgeToken) {
			s.opts.Logger.Warn("commit status: forge token", "project", run.Project, "err", err)
		}
		return
	}
	ft, _ := forge.ParseType(t.Forge)
	f, err := forge.New(forge.Config{Type: ft, BaseURL: t.ForgeAPI, Token: token, Client: s.opts.ForgeHTTP})
	if err != nil {
		s.opts.Logger.Warn("commit status", "run", run.ID, "err", err)
		return
	}
	st := forge.Status{Context: forge.DefaultContext, Ref: t.Branch}
	switch run.Status {
	case gantry.StatusPending:
		st.State, st.Description = forge.StatePending, "queued"
	case gantry.StatusRunning:
		st.State, st.Description = forge.StateRunning, "running"
	case gantry.StatusSucceeded:
		st.State, st.Description = forge.StateSuccess, "the pipeline passed"
	case gantry.StatusCancelled:
		st.State, st.Description = forge.StateCanceled, "cancelled"
	default:
		st.State, st.Description = forge.StateFailure, "the pipeline failed: "+run.Reason
	}
	if s.opts.BaseURL != "" {
		st.TargetURL = strings.TrimSuffix(s.opts.BaseURL, "/") + "/runs/" + string(run.ID)
	}
	if err := f.SetStatus(ctx, forge.RepoRef{FullName: t.Repo}, t.Commit, st); err != nil {
		s.opts.Logger.Warn("commit status", "run", run.ID, "err", err)
	}
}
