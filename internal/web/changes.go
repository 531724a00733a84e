package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
)

// changeRow is a change as the project's list shows it.
type changeRow struct {
	Change           *gantry.Change
	Approvals        int
	RetrospectiveDue bool
}

type changesView struct {
	Project *gantry.Project
	Changes []changeRow
	Limit   int
}

// changesLimit is how many changes a project's list shows.
const changesLimit = 100

// changes lists a project's changes, newest first.
func (h *Handler) changes(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	p, err := h.visibleProject(ctx, s, r.PathValue("project"), ActRunRead)
	if err != nil {
		return err
	}
	cs, err := h.opts.Store.Changes(ctx, gantry.ChangeFilter{Project: p.Name, Limit: changesLimit})
	if err != nil {
		return fmt.Errorf("list changes of %s: %w", p.Name, err)
	}
	v := &changesView{Project: p, Limit: changesLimit}
	for _, c := range cs {
		approvals, err := h.opts.Store.Approvals(ctx, p.Name, c.ID)
		if err != nil {
			return fmt.Errorf("list approvals of change %s: %w", c.ID, err)
		}
		v.Changes = append(v.Changes, changeRow{Change: c, Approvals: len(approvals), RetrospectiveDue: change.RetrospectiveDue(c, approvals)})
	}
	h.render(w, r, &s, http.StatusOK, "changes", "Changes of "+p.Name, v)
	return nil
}

// readiness is what one environment still needs before the change may be
// deployed there.
type readiness struct {
	Environment string
	Ready       bool
	Reasons     []string
	Notes       []string
	// The environment's rules, shown beside the verdict.
	RequiredApprovals int
	ApproverRole      gantry.Role
	RequiredGates     []string
	Deployers         []string
}

// approveForm is what the approve form holds: its choices, and after a
// refusal what was sent, so that nothing typed is lost.
type approveForm struct {
	Environments  []string
	Environment   string
	Retrospective bool
	Comment       string
}

type changeView struct {
	Project          *gantry.Project
	Change           *gantry.Change
	Urgent           bool
	Approvals        []*gantry.Approval
	RetrospectiveDue bool
	// Readiness is by environment, in the configuration's order; nil
	// when the project's rules do not parse, which ConfigError says.
	Readiness   []readiness
	ConfigError string
	Runs        []*gantry.Run
	MissingRuns int // runs the change names that are gone from the store

	CanApprove bool
	Form       approveForm
	Flash      string
	Error      string
}

// approved says what an approval did, after the redirect that follows it.
var approved = map[string]string{
	"approval":      "Your approval was recorded.",
	"retrospective": "Your retrospective review was recorded.",
	"exception":     "Your approval was recorded under the project's single-maintainer exception.",
}

func (h *Handler) change(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	p, c, err := h.visibleChange(ctx, s, r.PathValue("project"), r.PathValue("change"), ActRunRead)
	if err != nil {
		return err
	}
	v, err := h.changeView(ctx, s, p, c)
	if err != nil {
		return err
	}
	v.Flash = approved[r.URL.Query().Get("done")]
	h.render(w, r, &s, http.StatusOK, "change", "Change "+c.ID, v)
	return nil
}

// visibleChange loads a change of a project the user may do action in.
func (h *Handler) visibleChange(ctx context.Context, s Session, project, id, action string) (*gantry.Project, *gantry.Change, error) {
	p, err := h.visibleProject(ctx, s, project, action)
	if err != nil {
		return nil, nil, err
	}
	c, err := h.opts.Store.Change(ctx, p.Name, id)
	if errors.Is(err, gantry.ErrNotFound) || gantry.ErrorKind(err) == gantry.EInvalid {
		return nil, nil, gantry.Errorf(gantry.ENotFound, "project %s has no change %s", p.Name, clip(id))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load change %s of %s: %w", id, p.Name, err)
	}
	return p, c, nil
}

// projectRules are a project's change rules: its own, or the defaults
// when it has none.
func projectRules(p *gantry.Project) (*change.Config, error) {
	if strings.TrimSpace(p.Changes) == "" {
		return change.DefaultConfig(), nil
	}
	return change.ParseConfig("the change rules of project "+p.Name, []byte(p.Changes))
}

func (h *Handler) changeView(ctx context.Context, s Session, p *gantry.Project, c *gantry.Change) (*changeView, error) {
	approvals, err := h.opts.Store.Approvals(ctx, p.Name, c.ID)
	if err != nil {
		return nil, fmt.Errorf("list approvals of change %s: %w", c.ID, err)
	}
	v := &changeView{
		Project: p, Change: c, Approvals: approvals,
		Urgent:           c.Urgent != "" || (c.Classification != nil && c.Classification.Class == gantry.ClassUrgent),
		RetrospectiveDue: change.RetrospectiveDue(c, approvals),
	}
	cfg, err := projectRules(p)
	if err != nil {
		v.ConfigError = gantry.ErrorMessageOrText(err)
	} else {
		v.Readiness = admissions(cfg, c, approvals, h.opts.Now())
		v.Form.Environments = cfg.EnvironmentNames()
	}
	for i := len(c.Runs) - 1; i >= 0; i-- {
		run, err := h.opts.Store.Run(ctx, c.Runs[i])
		if errors.Is(err, gantry.ErrNotFound) {
			v.MissingRuns++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load run %s of change %s: %w", c.Runs[i], c.ID, err)
		}
		v.Runs = append(v.Runs, run)
	}
	may, err := h.authorized(ctx, s, p.Name, ActChangeApprove)
	if err != nil {
		return nil, err
	}
	v.CanApprove = may && h.opts.Service != nil && len(v.Form.Environments) > 0
	if len(v.Form.Environments) > 0 {
		// Where a change most often waits for an approval.
		v.Form.Environment = v.Form.Environments[len(v.Form.Environments)-1]
		for _, ad := range v.Readiness {
			if !ad.Ready && ad.RequiredApprovals > 0 {
				v.Form.Environment = ad.Environment
				break
			}
		}
	}
	return v, nil
}

// admissions says, for each environment, whether the change may enter it
// as far as the change itself goes: its class, approvals and freezes.
// Who deploys and which gates passed belong to a run, so they are shown as
// rules, not checked.
func admissions(cfg *change.Config, c *gantry.Change, approvals []*gantry.Approval, now time.Time) []readiness {
	var out []readiness
	for _, ad := range change.ReadinessOf(cfg, c, approvals, now) {
		env, _ := cfg.Environment(ad.Name)
		out = append(out, readiness{
			Environment: ad.Name, Ready: ad.Ready, Reasons: ad.Reasons, Notes: ad.Notes,
			RequiredApprovals: env.RequiredApprovals, ApproverRole: env.ApproverRole,
			RequiredGates: env.RequiredGates, Deployers: env.Deployers,
		})
	}
	return out
}

// approve records the user's approval of a change and shows the change
// again; a refusal is shown on the change's page.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	p, c, err := h.visibleChange(ctx, s, r.PathValue("project"), r.PathValue("change"), ActChangeApprove)
	if err != nil {
		return err
	}
	svc, err := h.service()
	if err != nil {
		return err
	}
	form := approveForm{
		Environment:   strings.TrimSpace(r.PostFormValue("environment")),
		Retrospective: r.PostFormValue("retrospective") == "on",
		Comment:       strings.TrimSpace(r.PostFormValue("comment")),
	}
	req := ApproveRequest{Environment: form.Environment, Kind: gantry.ApprovalDeploy, Comment: form.Comment}
	if form.Retrospective {
		req.Kind = gantry.ApprovalRetrospective
	}
	if err := firstError(checkText("environment", form.Environment, 63), checkText("comment", form.Comment, 1000)); err != nil {
		return h.approvalRefused(w, r, s, p, c, form, err)
	}
	if form.Environment == "" {
		return h.approvalRefused(w, r, s, p, c, form, gantry.Errorf(gantry.EInvalid, "choose the environment the approval is for"))
	}
	a, err := svc.ApproveChange(ctx, actor(r, s), p.Name, c.ID, req)
	if err != nil {
		return h.approvalRefused(w, r, s, p, c, form, err)
	}
	done := "approval"
	switch {
	case a != nil && a.Exception != "":
		done = "exception"
	case req.Kind == gantry.ApprovalRetrospective:
		done = "retrospective"
	}
	http.Redirect(w, r, changePath(p.Name, c.ID)+"?done="+done+"#approvals", http.StatusSeeOther)
	return nil
}

// approvalRefused shows the change's page again with why the approval
// was refused: the author approving their own change, an environment that
// does not exist, a second approval of the same kind. Anything else is an
// error page.
func (h *Handler) approvalRefused(w http.ResponseWriter, r *http.Request, s Session, p *gantry.Project, c *gantry.Change, form approveForm, err error) error {
	var status int
	switch gantry.ErrorKind(err) {
	case gantry.EInvalid:
		status = http.StatusBadRequest
	case gantry.EForbidden:
		status = http.StatusForbidden
	case gantry.EConflict:
		status = http.StatusConflict
	case gantry.ENotFound:
		status = http.StatusNotFound
	default:
		return err
	}
	v, verr := h.changeView(r.Context(), s, p, c)
	if verr != nil {
		return verr
	}
	v.Error = gantry.ErrorMessage(err)
	envs := v.Form.Environments
	v.Form = form
	v.Form.Environments = envs
	h.render(w, r, &s, status, "change", "Change "+c.ID, v)
	return nil
}

// changePath is the path of a change's page.
func changePath(project, id string) string {
	return "/projects/" + url.PathEscape(project) + "/changes/" + url.PathEscape(id)
}
