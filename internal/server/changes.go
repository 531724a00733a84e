package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/report"
)

// Change management on the server: every run belongs to a change,
// recorded when the run is triggered and completed by the agent from its
// checkout; people read changes, approve them and download the compliance
// report. The rules are the project's (Project.Changes), never the
// repository's copy, so that a change cannot loosen its own rules. The
// server decides nothing about admission itself: the gates run on agents.

// scheduleActor is the actor of a run a schedule started.
const scheduleActor = "schedule"

// maxComment bounds an approval's comment.
const maxComment = 4000

func (s *Server) registerChanges() {
	s.handle("GET", "/api/v1/projects/{project}/changes", s.listChanges)
	s.handle("GET", "/api/v1/projects/{project}/changes/{change}", s.getChange)
	s.handle("POST", "/api/v1/projects/{project}/changes/{change}/approvals", s.postApproval)
	s.handle("GET", "/api/v1/projects/{project}/report", s.getReport)
	// A job's gates read the run's change and record its classification.
	s.handle("GET", "/api/v1/agent/runs/{run}/change", s.jobGetChange)
	s.handle("PUT", "/api/v1/agent/runs/{run}/change", s.jobPutChange)
}

// projectChanges returns a project's change rules: the defaults when it
// has none.
func projectChanges(pr *gantry.Project) (*change.Config, error) {
	return change.ParseConfig("project "+pr.Name+" changes", []byte(pr.Changes))
}

// roleIn returns user's role in project: admin for a server admin, the
// granted role otherwise, "" for no grant or a disabled or unknown user.
func (s *Server) roleIn(ctx context.Context, user, project string) (gantry.Role, error) {
	if user == "" {
		return "", nil
	}
	u, err := s.opts.Store.User(ctx, user)
	if errors.Is(err, gantry.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read user %s: %w", user, err)
	}
	switch {
	case u.Disabled:
		return "", nil
	case u.ServerAdmin:
		return gantry.RoleAdmin, nil
	}
	grants, err := s.opts.Store.Grants(ctx, user, project)
	if err != nil {
		return "", fmt.Errorf("read the grants of %s: %w", user, err)
	}
	for _, g := range grants {
		if g.Project == project {
			return g.Role, nil
		}
	}
	return "", nil
}

// actorRole is the role of a run's actor in its project, for the
// deployers of environments. A forge login is not a Gantry user, even
// when it is spelled like one: it has no role.
func (s *Server) actorRole(ctx context.Context, run *gantry.Run) gantry.Role {
	t := run.Trigger
	if t.Forge != "" || t.Actor == "" || t.Actor == scheduleActor {
		return ""
	}
	role, err := s.roleIn(ctx, t.Actor, run.Project)
	if err != nil {
		s.opts.Logger.Warn("role of the run's actor", "run", run.ID, "actor", t.Actor, "err", err)
		return ""
	}
	return role
}

// recordTriggered records the change of a run just triggered, with what
// the server knows of it: seed (from a webhook) or nothing. The agent
// completes it from its checkout. A change the server cannot record now
// is recorded by the agent, or the run's deployments are refused.
func (s *Server) recordTriggered(ctx context.Context, pr *gantry.Project, run *gantry.Run, seed *gantry.Change) {
	t := run.Trigger
	if t.Change == "" {
		return
	}
	c := &gantry.Change{}
	if seed != nil {
		*c = *seed
	}
	c.ID, c.Project = t.Change, pr.Name
	c.Branch = t.Branch
	if c.BaseBranch == "" {
		c.BaseBranch = pr.DefaultBranch
	}
	if c.Author == "" && t.Actor != scheduleActor {
		c.Author = t.Actor
	}
	if c.PullRequest == nil && t.PullRequest > 0 {
		c.PullRequest = &gantry.PullRequest{Number: t.PullRequest, Base: c.BaseBranch, Head: t.Branch}
	}
	if c.Commits == nil {
		c.Commits = []gantry.Commit{}
	}
	c.Reviews = s.changeReviews(ctx, run, c)
	now := s.opts.Now()
	c.Opened = now
	if _, err := change.Record(ctx, s.opts.Store, c, run.ID, now); err != nil {
		s.opts.Logger.Warn("record the change of a run", "run", run.ID, "change", t.Change, "err", err)
	}
}

// changeView is a change as GET /api/v1/projects/{project}/changes/{change}
// answers.
type changeView struct {
	Change           *gantry.Change     `json:"change"`
	Approvals        []*gantry.Approval `json:"approvals"`
	RetrospectiveDue bool               `json:"retrospective_due"`
	Environments     []change.Readiness `json:"environments"`
}

// projectFor authorizes action on the project in the path and loads it.
func (s *Server) projectFor(r *http.Request, action string) (*gantry.Project, *Principal, error) {
	name := r.PathValue("project")
	p, err := s.principal(r, name, action)
	if err != nil {
		return nil, nil, err
	}
	pr, err := s.opts.Store.Project(r.Context(), name)
	if err != nil {
		return nil, nil, err
	}
	return pr, p, nil
}

func (s *Server) listChanges(w http.ResponseWriter, r *http.Request) error {
	pr, _, err := s.projectFor(r, ActRunRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, to, err := period(q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return gantry.Errorf(gantry.EInvalid, "limit %q: expected 1 to 1000", v)
		}
		limit = n
	}
	cs, err := s.opts.Store.Changes(r.Context(), gantry.ChangeFilter{Project: pr.Name, From: from, To: to, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(cs))
	return nil
}

func (s *Server) getChange(w http.ResponseWriter, r *http.Request) error {
	pr, _, err := s.projectFor(r, ActRunRead)
	if err != nil {
		return err
	}
	ctx := r.Context()
	cfg, err := projectChanges(pr)
	if err != nil {
		return err
	}
	c, err := s.opts.Store.Change(ctx, pr.Name, r.PathValue("change"))
	if err != nil {
		return err
	}
	approvals, err := s.opts.Store.Approvals(ctx, pr.Name, c.ID)
	if err != nil {
		return err
	}
	v := changeView{Change: c, Approvals: orEmpty(approvals), RetrospectiveDue: change.RetrospectiveDue(c, approvals),
		Environments: change.ReadinessOf(cfg, c, approvals, s.opts.Now())}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// ApproveRequest is the body of an approval: the environment, the kind
// (gantry.ApprovalDeploy, the default, or gantry.ApprovalRetrospective)
// and why, in the approver's words.
type ApproveRequest struct {
	Environment string `json:"environment"`
	Kind        string `json:"kind"`
	Comment     string `json:"comment"`
}

func (s *Server) postApproval(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	p, err := s.principal(r, name, ActChangeApprove)
	if err != nil {
		return err
	}
	var req ApproveRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	a, err := s.ApproveChange(r.Context(), p.Name, name, r.PathValue("change"), req, remote(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

// ApproveChange records user's approval of change changeID of project,
// for the API and the web UI alike, under the project's change rules:
// the user needs at least the approver role in the project (server admins
// are admins) and the environment's approver role, and may not approve a
// change they wrote unless the project documents a single-maintainer
// exception, which the approval then carries. Every approval, and every
// one the rules deny, is an audit event in the ledger ("change.approve"),
// a denied one with the reason. remote is the client's address.
func (s *Server) ApproveChange(ctx context.Context, user, project, changeID string, req ApproveRequest, remote string) (*gantry.Approval, error) {
	if len(req.Comment) > maxComment {
		return nil, gantry.Errorf(gantry.EInvalid, "approve change %s: the comment is over %d bytes", changeID, maxComment)
	}
	pr, err := s.opts.Store.Project(ctx, project)
	if err != nil {
		return nil, err
	}
	cfg, err := projectChanges(pr)
	if err != nil {
		return nil, err
	}
	c, err := s.opts.Store.Change(ctx, project, changeID)
	if err != nil {
		return nil, err
	}
	u, err := s.opts.Store.User(ctx, user)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, gantry.Errorf(gantry.EForbidden, "approve change %s: no user %s", changeID, user)
	}
	if err != nil {
		return nil, fmt.Errorf("approve change %s: read user %s: %w", changeID, user, err)
	}
	role, err := s.roleIn(ctx, user, project)
	if err != nil {
		return nil, err
	}
	kind := req.Kind
	if kind == "" {
		kind = gantry.ApprovalDeploy
	}
	ev := &gantry.AuditEvent{Actor: user, Action: report.ApproveAction, Target: gantry.ChangeName(project, c.ID), Remote: remote,
		Detail: map[string]string{"environment": req.Environment, "kind": kind}}
	a, err := s.approve(ctx, cfg, c, req, kind, change.Approver{Name: u.Name, Email: u.Email, Role: role})
	switch {
	case err == nil:
		ev.Outcome = "success"
		if a.Exception != "" {
			ev.Detail["exception"] = a.Exception
		}
	case gantry.ErrorKind(err) == gantry.EForbidden:
		ev.Outcome, ev.Detail["reason"] = "denied", gantry.ErrorMessageOrText(err)
	default:
		// Malformed requests and repeated approvals decide nothing.
		return nil, err
	}
	s.audit(ctx, ev)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// approve checks the approval and stores it.
func (s *Server) approve(ctx context.Context, cfg *change.Config, c *gantry.Change, req ApproveRequest, kind string, by change.Approver) (*gantry.Approval, error) {
	// The permission table's role for approving, whatever an environment
	// asks: a project cannot hand approvals to developers by
	// configuration alone.
	if need := auth.Permissions[auth.ActionChangeApprove].Role; auth.RoleRank(by.Role) < auth.RoleRank(need) {
		have := string(by.Role)
		if have == "" {
			have = "no role"
		}
		return nil, gantry.Errorf(gantry.EForbidden, "approving changes in project %s needs the %s role or a higher one; %s has %s", c.Project, need, by.Name, have)
	}
	a, err := change.Approve(cfg, c, req.Environment, kind, by, s.opts.Now(), req.Comment)
	if err != nil {
		return nil, err
	}
	if err := s.opts.Store.PutApproval(ctx, a); err != nil {
		if gantry.ErrorKind(err) == gantry.EConflict {
			return nil, gantry.Errorf(gantry.EConflict, "%s has already given change %s its %s for %s", a.Approver, c.ID, kind, a.Environment)
		}
		return nil, err
	}
	return a, nil
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) error {
	pr, _, err := s.projectFor(r, ActRunRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, to, err := period(q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" {
		format = "oscal"
	}
	if format != "oscal" && format != "html" {
		return gantry.Errorf(gantry.EInvalid, "format %q: expected oscal or html", format)
	}
	base := strings.TrimSuffix(s.opts.BaseURL, "/")
	rep, _, err := report.Collect(r.Context(), s.opts.Store, report.CollectOptions{
		Project: pr.Name, From: from, To: to, System: pr.Name, ProtectedBranches: pr.ProtectedBranches,
		RunURL: func(id gantry.RunID) string { return base + "/runs/" + string(id) },
		Now:    s.opts.Now(),
	})
	if err != nil {
		return err
	}
	// Written whole before the status, so that a report that cannot be
	// written is an error, not half a download.
	var buf bytes.Buffer
	ctype, ext := "application/json", "json"
	if format == "html" {
		ctype, ext = "text/html; charset=utf-8", "html"
		err = report.WriteHTML(&buf, rep)
	} else {
		err = report.WriteOSCAL(&buf, rep)
	}
	if err != nil {
		return fmt.Errorf("write the report of %s: %w", pr.Name, err)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-changes-%s.%s"`, pr.Name, rep.To.Format("2006-01-02"), ext))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// period reads the from and to of a query: dates (2006-01-02, UTC
// midnight) or RFC 3339 times; "" does not bound.
func period(from, to string) (time.Time, time.Time, error) {
	f, err := report.ParseBound("from", from)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	t, err := report.ParseBound("to", to)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return time.Time{}, time.Time{}, gantry.Errorf(gantry.EInvalid, "from %s is not before to %s", from, to)
	}
	return f, t, nil
}

// jobGetChange gives a job's gates the run's change, its approvals and
// what its classification reads of the project's recent past.
func (s *Server) jobGetChange(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.jobRun(r)
	if err != nil {
		return err
	}
	if run.Trigger.Change == "" {
		return gantry.Errorf(gantry.ENotFound, "run %s belongs to no change", run.ID)
	}
	ctx := r.Context()
	pr, err := s.opts.Store.Project(ctx, run.Project)
	if err != nil {
		return err
	}
	cfg, err := projectChanges(pr)
	if err != nil {
		return err
	}
	since := s.opts.Now().AddDate(0, 0, -cfg.HistoryDays)
	st, err := change.LoadState(ctx, s.opts.Store, run.Project, run.Trigger.Change, since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, agentproto.ChangeState{
		Change: st.Change, Approvals: orEmpty(st.Approvals), Incidents: st.Incidents,
		History:      agentproto.ChangeHistory{Changes: st.History.Changes, Failed: st.History.Failed},
		BaseCoverage: st.BaseCoverage,
	})
	return nil
}

// jobPutChange records the run's change as the agent's checkout shows it,
// or as a gate classified it. It must be the run's own change; a run
// triggered by a branch alone learns its change here, from the commit the
// agent checked out.
func (s *Server) jobPutChange(w http.ResponseWriter, r *http.Request) error {
	return jobReport(s, w, r, func(ctx context.Context, run *gantry.Run, c *gantry.Change) error {
		if c.Project != run.Project {
			return gantry.Errorf(gantry.EForbidden, "change %s of project %q is not a change of run %s's project %s", c.ID, c.Project, run.ID, run.Project)
		}
		want := run.Trigger.Change
		if want == "" {
			// The run was triggered by a branch: its change is the commit
			// checked out, the head of the change's commits.
			if len(c.Commits) == 0 {
				return gantry.Errorf(gantry.EInvalid, "change %s has no commits: run %s has no commit to name its change by", c.ID, run.ID)
			}
			head := c.Commits[len(c.Commits)-1].SHA
			if run.Trigger.Commit != "" && !strings.EqualFold(run.Trigger.Commit, head) {
				return gantry.Errorf(gantry.EForbidden, "change %s ends at commit %s, but run %s is of commit %s", c.ID, head, run.ID, run.Trigger.Commit)
			}
			t := run.Trigger
			t.Commit = head
			if want = change.ID(t); want == "" {
				return gantry.Errorf(gantry.EInvalid, "change %s: its head commit has no ID", c.ID)
			}
			if c.ID != want {
				return gantry.Errorf(gantry.EForbidden, "change %q is not the change of run %s, which is %s", c.ID, run.ID, want)
			}
			run.Trigger.Commit, run.Trigger.Change = head, want
			if err := s.opts.Store.UpdateRun(ctx, run); err != nil {
				return err
			}
		}
		if c.ID != want {
			return gantry.Errorf(gantry.EForbidden, "change %q is not the change of run %s, which is %s", c.ID, run.ID, want)
		}
		// The store knows which runs belong to the change; the agent
		// speaks for its own run only.
		c.Runs = nil
		// Reviews given since the push count at the run's gates.
		c.Reviews = s.changeReviews(ctx, run, c)
		_, err := change.Record(ctx, s.opts.Store, c, run.ID, s.opts.Now())
		return err
	})
}
