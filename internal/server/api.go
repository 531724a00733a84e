package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

func (s *Server) register() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metrics.handler())

	s.handle("GET", "/api/v1/projects", s.listProjects)
	s.handle("POST", "/api/v1/projects", s.putProject)
	s.handle("GET", "/api/v1/projects/{project}", s.getProject)
	s.handle("GET", "/api/v1/projects/{project}/runs", s.listRuns)
	s.handle("POST", "/api/v1/projects/{project}/runs", s.triggerRun)
	s.handle("GET", "/api/v1/runs/{run}", s.getRun)
	s.handle("GET", "/api/v1/runs/{run}/steps", s.getSteps)
	s.handle("GET", "/api/v1/runs/{run}/logs", s.getLogs)
	s.handle("GET", "/api/v1/runs/{run}/events", s.runEvents)
	s.handle("GET", "/api/v1/runs/{run}/findings", s.getFindings)
	s.handle("GET", "/api/v1/runs/{run}/attestations", s.getAttestations)
	s.handle("GET", "/api/v1/projects/{project}/secrets", s.listSecrets)
	s.handle("PUT", "/api/v1/projects/{project}/secrets/{name}", s.putSecret)
	s.handle("DELETE", "/api/v1/projects/{project}/secrets/{name}", s.deleteSecret)
	s.handle("GET", "/api/v1/audit", s.getAudit)
	s.handle("POST", "/api/v1/hooks/{project}", s.webhook)
	// The web UI's live feed of every run the user may read.
	s.mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		if err := s.events(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	s.registerAgent()
	s.registerChanges()
}

// readyz answers 200 when the store answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.opts.Store.Projects(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// validName reports whether s may name a project or an agent:
// [a-z0-9][a-z0-9-]*, at most 63 bytes.
var validName = store.ValidName

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Auth == nil {
		return gantry.Errorf(gantry.EUnavailable, "no authentication configured")
	}
	// project.read is a project's permission: it is checked per project
	// below. Agents and jobs act on jobs, not projects.
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return err
	}
	if p.Agent != "" {
		return gantry.Errorf(gantry.EForbidden, "an agent or job token may not list projects")
	}
	all, err := s.opts.Store.Projects(r.Context())
	if err != nil {
		return err
	}
	// Least privilege: a user sees the projects granted to them.
	visible := []*gantry.Project{}
	for _, pr := range all {
		if s.opts.Auth.Authorize(r.Context(), p, pr.Name, ActProjectRead) == nil {
			visible = append(visible, pr)
		}
	}
	writeJSON(w, http.StatusOK, visible)
	return nil
}

func (s *Server) putProject(w http.ResponseWriter, r *http.Request) error {
	// Authenticate before reading the body: anonymous callers get 401.
	// What they may do depends on the project named in the body.
	if s.opts.Auth == nil {
		return gantry.Errorf(gantry.EUnavailable, "no authentication configured")
	}
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return err
	}
	var pr gantry.Project
	if err := readJSON(r, &pr); err != nil {
		return err
	}
	if !validName(pr.Name) {
		return gantry.Errorf(gantry.EInvalid, "project name %q: use lower-case letters, digits and '-', at most 63", pr.Name)
	}
	action := ActProjectManage
	if _, err := s.opts.Store.Project(r.Context(), pr.Name); errors.Is(err, gantry.ErrNotFound) {
		action = ActProjectCreate
	}
	if err := s.opts.Auth.Authorize(r.Context(), p, pr.Name, action); err != nil {
		return err
	}
	if pr.RepoURL == "" {
		return gantry.Errorf(gantry.EInvalid, "project %s: no repo_url", pr.Name)
	}
	if pr.DefaultBranch == "" {
		pr.DefaultBranch = "main"
	}
	if pr.PipelinePath == "" {
		pr.PipelinePath = ".gantry.yml"
	}
	if pr.CreatedAt.IsZero() {
		pr.CreatedAt = s.opts.Now()
	}
	// Rules that do not parse would refuse every deployment: refuse them
	// here, where the one who wrote them reads why.
	if _, err := projectChanges(&pr); err != nil {
		return err
	}
	if err := s.opts.Store.PutProject(r.Context(), &pr); err != nil {
		return err
	}
	s.audit(r.Context(), &gantry.AuditEvent{Actor: p.Name, Action: "project.put", Target: pr.Name, Outcome: "success", Remote: remote(r)})
	stored, err := s.opts.Store.Project(r.Context(), pr.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, stored)
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	if _, err := s.principal(r, name, ActProjectRead); err != nil {
		return err
	}
	pr, err := s.opts.Store.Project(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pr)
	return nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	if _, err := s.principal(r, name, ActRunRead); err != nil {
		return err
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return gantry.Errorf(gantry.EInvalid, "limit %q: expected 1 to 1000", v)
		}
		limit = n
	}
	runs, err := s.opts.Store.Runs(r.Context(), gantry.RunFilter{Project: name, Branch: r.URL.Query().Get("branch"), Limit: limit})
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []*gantry.Run{}
	}
	writeJSON(w, http.StatusOK, runs)
	return nil
}

// triggerRequest is the body of a manual trigger.
type triggerRequest struct {
	Branch string `json:"branch"`
	Commit string `json:"commit"`
}

func (s *Server) triggerRun(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	p, err := s.principal(r, name, ActRunTrigger)
	if err != nil {
		return err
	}
	var req triggerRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	pr, err := s.opts.Store.Project(r.Context(), name)
	if err != nil {
		return err
	}
	run, err := s.Trigger(r.Context(), pr, gantry.Trigger{Event: "manual", Branch: req.Branch, Commit: req.Commit, Actor: p.Name}, nil)
	s.audit(r.Context(), &gantry.AuditEvent{Actor: p.Name, Action: "run.trigger", Target: name, Outcome: outcome(err), Remote: remote(r),
		Detail: map[string]string{"branch": req.Branch, "commit": req.Commit}})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

func outcome(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// runFor loads a run and authorizes action on its project.
func (s *Server) runFor(r *http.Request, action string) (*gantry.Run, *Principal, error) {
	id := gantry.RunID(r.PathValue("run"))
	run, err := s.opts.Store.Run(r.Context(), id)
	if errors.Is(err, gantry.ErrNotFound) {
		// Authenticate first, so that no one learns which runs exist.
		if _, aerr := s.opts.Auth.Authenticate(r); aerr != nil {
			return nil, nil, aerr
		}
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := s.principal(r, run.Project, action)
	if err != nil {
		return nil, nil, err
	}
	return run, p, nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.runFor(r, ActRunRead)
	if err != nil {
		return err
	}
	stages, err := s.opts.Store.Stages(r.Context(), run.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		*gantry.Run
		Stages []*gantry.StageResult `json:"stages"`
	}{run, orEmpty(stages)})
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) getSteps(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.runFor(r, ActRunRead)
	if err != nil {
		return err
	}
	steps, err := s.opts.Store.Steps(r.Context(), run.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(steps))
	return nil
}

func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.runFor(r, ActRunRead)
	if err != nil {
		return err
	}
	lines, err := s.opts.Store.Logs(r.Context(), run.ID, r.URL.Query().Get("step"))
	if err != nil {
		return err
	}
	if strings.Contains(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, l := range lines {
			_, _ = w.Write([]byte(l.Text + "\n"))
		}
		return nil
	}
	writeJSON(w, http.StatusOK, orEmpty(lines))
	return nil
}

func (s *Server) getFindings(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.runFor(r, ActRunRead)
	if err != nil {
		return err
	}
	return s.writeFindings(w, r, run)
}

// writeFindings answers with a run's findings, of one step with ?step=.
func (s *Server) writeFindings(w http.ResponseWriter, r *http.Request, run *gantry.Run) error {
	fs, err := s.opts.Store.Findings(r.Context(), run.ID, r.URL.Query().Get("step"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(fs))
	return nil
}

func (s *Server) getAttestations(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.runFor(r, ActRunRead)
	if err != nil {
		return err
	}
	as, err := s.opts.Store.Attestations(r.Context(), gantry.AttestationFilter{RunID: run.ID})
	if err != nil {
		return err
	}
	type att struct {
		*gantry.Attestation
		Envelope string `json:"envelope"`
	}
	out := make([]att, len(as))
	for i, a := range as {
		out[i] = att{a, string(a.Envelope)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.principal(r, "", ActAuditRead); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return gantry.Errorf(gantry.EInvalid, "limit %q: expected 1 to 10000", v)
		}
		limit = n
	}
	evs, err := s.opts.Store.AuditEvents(r.Context(), gantry.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(evs))
	return nil
}
