package web

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gantry.dev/gantry"
)

// projectRuns is a project and its latest runs.
type projectRuns struct {
	Project    *gantry.Project
	Runs       []*gantry.Run
	CanTrigger bool
}

type dashboardView struct {
	Projects []projectRuns
	Limit    int
}

// dashboard is the information radiator: every project the user may see,
// with its latest runs.
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	projects, err := h.visibleProjects(ctx, s, ActRunRead)
	if err != nil {
		return err
	}
	v := &dashboardView{Limit: h.opts.DashboardRuns}
	for _, p := range projects {
		runs, err := h.opts.Store.Runs(ctx, gantry.RunFilter{Project: p.Name, Limit: h.opts.DashboardRuns})
		if err != nil {
			return fmt.Errorf("list runs of %s: %w", p.Name, err)
		}
		v.Projects = append(v.Projects, projectRuns{Project: p, Runs: runs})
	}
	h.render(w, r, &s, http.StatusOK, "dashboard", "Dashboard", v)
	return nil
}

type projectView struct {
	projectRuns
	Branch  string // the branch the list is narrowed to
	Limit   int
	Service bool // runs can be triggered here at all
}

// projectRunsLimit is how many runs a project's page lists.
const projectRunsLimit = 50

func (h *Handler) project(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	p, err := h.visibleProject(ctx, s, r.PathValue("project"), ActRunRead)
	if err != nil {
		return err
	}
	branch := strings.TrimSpace(r.URL.Query().Get("branch"))
	runs, err := h.opts.Store.Runs(ctx, gantry.RunFilter{Project: p.Name, Branch: branch, Limit: projectRunsLimit})
	if err != nil {
		return fmt.Errorf("list runs of %s: %w", p.Name, err)
	}
	canTrigger, err := h.authorized(ctx, s, p.Name, ActRunTrigger)
	if err != nil {
		return err
	}
	v := &projectView{
		projectRuns: projectRuns{Project: p, Runs: runs, CanTrigger: canTrigger && h.opts.Service != nil},
		Branch:      branch, Limit: projectRunsLimit, Service: h.opts.Service != nil,
	}
	h.render(w, r, &s, http.StatusOK, "project", p.Name, v)
	return nil
}

// trigger starts a run of a project's pipeline and shows it.
func (h *Handler) trigger(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	p, err := h.visibleProject(ctx, s, r.PathValue("project"), ActRunTrigger)
	if err != nil {
		return err
	}
	if h.opts.Service == nil {
		return gantry.Errorf(gantry.EUnavailable, "this server does not start runs from the web UI")
	}
	branch := strings.TrimSpace(r.PostFormValue("branch"))
	if err := checkText("branch", branch, 255); err != nil {
		return err
	}
	run, err := h.opts.Service.Trigger(ctx, actor(r, s), p.Name, branch)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(string(run.ID)), http.StatusSeeOther)
	return nil
}

// checkText refuses form text that is too long or holds control
// characters.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return gantry.Errorf(gantry.EInvalid, "%s: at most %d characters", field, max)
	}
	if strings.ContainsFunc(v, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return gantry.Errorf(gantry.EInvalid, "%s: no control characters", field)
	}
	return nil
}

// stageColumn is one stage of the run's graph with its steps.
type stageColumn struct {
	Name    string
	Status  gantry.Status
	Gate    gantry.Gate
	Decided bool // the gate has decided
	Steps   []*gantry.StepResult
}

// stepLog is the log of one step as the run page shows it.
type stepLog struct {
	Step    *gantry.StepResult
	Lines   []gantry.LogLine
	Omitted int   // earlier lines not shown
	LastSeq int64 // the last line's Seq, so that the script skips lines it has
	Open    bool
}

type severityCount struct {
	Severity gantry.Severity
	Count    int
}

type runView struct {
	Run          *gantry.Run
	Stages       []*stageColumn
	Logs         []*stepLog
	Artifacts    []gantry.ArtifactRecord
	Attestations []*gantry.Attestation
	Gates        []*gantry.StageResult
	Findings     int
	Severities   []severityCount
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	run, err := h.visibleRun(ctx, s, r.PathValue("run"))
	if err != nil {
		return err
	}
	stages, err := h.opts.Store.Stages(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("load stages of %s: %w", run.ID, err)
	}
	steps, err := h.opts.Store.Steps(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("load steps of %s: %w", run.ID, err)
	}
	lines, err := h.opts.Store.Logs(ctx, run.ID, "")
	if err != nil {
		return fmt.Errorf("load logs of %s: %w", run.ID, err)
	}
	arts, err := h.opts.Store.Artifacts(ctx, gantry.ArtifactFilter{RunID: run.ID})
	if err != nil {
		return fmt.Errorf("load artifacts of %s: %w", run.ID, err)
	}
	atts, err := h.opts.Store.Attestations(ctx, gantry.AttestationFilter{RunID: run.ID})
	if err != nil {
		return fmt.Errorf("load attestations of %s: %w", run.ID, err)
	}
	findings, err := h.opts.Store.Findings(ctx, run.ID, "")
	if err != nil {
		return fmt.Errorf("load findings of %s: %w", run.ID, err)
	}
	v := &runView{Run: run, Artifacts: arts, Attestations: atts, Findings: len(findings)}
	v.Stages = graph(stages, steps)
	v.Logs = h.stepLogs(steps, lines)
	for _, st := range stages {
		if st.Status.Terminal() || st.Gate.Decider != "" {
			v.Gates = append(v.Gates, st)
		}
	}
	v.Severities = countSeverities(findings)
	h.render(w, r, &s, http.StatusOK, "run", "Run "+string(run.ID), v)
	return nil
}

// graph puts the steps in their stages' columns, stages in pipeline
// order; stages that have steps but no record yet follow in the order
// their steps came.
func graph(stages []*gantry.StageResult, steps []*gantry.StepResult) []*stageColumn {
	sorted := slices.Clone(stages)
	slices.SortStableFunc(sorted, func(a, b *gantry.StageResult) int { return cmp.Compare(a.Index, b.Index) })
	var cols []*stageColumn
	byName := map[string]*stageColumn{}
	for _, st := range sorted {
		c := &stageColumn{Name: st.Name, Status: st.Status, Gate: st.Gate, Decided: st.Status.Terminal() || st.Gate.Decider != ""}
		cols = append(cols, c)
		byName[st.Name] = c
	}
	for _, sp := range steps {
		c := byName[sp.Stage]
		if c == nil {
			c = &stageColumn{Name: sp.Stage, Status: gantry.StatusPending}
			cols = append(cols, c)
			byName[sp.Stage] = c
		}
		c.Steps = append(c.Steps, sp)
	}
	return cols
}

// stepLogs groups log lines by step, keeping the last LogLines of each.
// Steps that run or failed are open, so that what matters is in view.
func (h *Handler) stepLogs(steps []*gantry.StepResult, lines []gantry.LogLine) []*stepLog {
	var out []*stepLog
	byStep := map[string]*stepLog{}
	for _, sp := range steps {
		l := &stepLog{Step: sp, Open: sp.Status == gantry.StatusRunning || (sp.Status.Terminal() && !sp.Passed())}
		out = append(out, l)
		byStep[sp.Name] = l
	}
	for _, ln := range lines {
		l := byStep[ln.Step]
		if l == nil {
			// Lines of a step whose result is not stored yet.
			l = &stepLog{Step: &gantry.StepResult{Name: ln.Step, Status: gantry.StatusRunning}, Open: true}
			out = append(out, l)
			byStep[ln.Step] = l
		}
		l.Lines = append(l.Lines, ln)
		l.LastSeq = max(l.LastSeq, ln.Seq)
	}
	for _, l := range out {
		if n := len(l.Lines) - h.opts.LogLines; n > 0 {
			l.Omitted = n
			l.Lines = l.Lines[n:]
		}
	}
	return out
}

func countSeverities(fs []gantry.FindingRecord) []severityCount {
	var out []severityCount
	for _, sev := range []gantry.Severity{gantry.SeverityCritical, gantry.SeverityHigh, gantry.SeverityMedium, gantry.SeverityLow, gantry.SeverityInfo} {
		n := 0
		for _, f := range fs {
			if f.Severity == sev {
				n++
			}
		}
		if n > 0 {
			out = append(out, severityCount{sev, n})
		}
	}
	return out
}

// stepLog serves one step's whole log as text.
func (h *Handler) stepLog(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	run, err := h.visibleRun(ctx, s, r.PathValue("run"))
	if err != nil {
		return err
	}
	step := r.URL.Query().Get("step")
	if step == "" {
		return gantry.Errorf(gantry.EInvalid, "which step? add ?step=NAME")
	}
	lines, err := h.opts.Store.Logs(ctx, run.ID, step)
	if err != nil {
		return fmt.Errorf("load log of %s in %s: %w", step, run.ID, err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", "inline")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	_, _ = w.Write([]byte(b.String()))
	return nil
}

// findingRow is a finding with the key of its page.
type findingRow struct {
	gantry.FindingRecord
	Key string
}

type findingsView struct {
	Run        *gantry.Run
	Findings   []findingRow
	Total      int
	Severities []severityCount
	Severity   gantry.Severity // the filter, if any
	Tool       string
	Tools      []string
}

// findingKeys names each finding by its fingerprint, or, when it has none
// or shares it, by its place in the run's list after a '-'.
func findingKeys(fs []gantry.FindingRecord) []findingRow {
	seen := map[string]int{}
	for _, f := range fs {
		seen[f.Fingerprint]++
	}
	rows := make([]findingRow, len(fs))
	for i, f := range fs {
		key := "-" + strconv.Itoa(i)
		// "." and ".." would be resolved away by the browser.
		if f.Fingerprint != "" && seen[f.Fingerprint] == 1 && !strings.HasPrefix(f.Fingerprint, "-") && f.Fingerprint != "." && f.Fingerprint != ".." {
			key = f.Fingerprint
		}
		rows[i] = findingRow{f, url.PathEscape(key)}
	}
	return rows
}

func (h *Handler) findings(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	run, err := h.visibleRun(ctx, s, r.PathValue("run"))
	if err != nil {
		return err
	}
	fs, err := h.opts.Store.Findings(ctx, run.ID, "")
	if err != nil {
		return fmt.Errorf("load findings of %s: %w", run.ID, err)
	}
	v := &findingsView{Run: run, Total: len(fs), Severities: countSeverities(fs), Tool: r.URL.Query().Get("tool")}
	if q := r.URL.Query().Get("severity"); q != "" {
		if v.Severity, err = gantry.ParseSeverity(q); err != nil {
			return err
		}
	}
	for _, f := range fs {
		if !slices.Contains(v.Tools, f.Tool) {
			v.Tools = append(v.Tools, f.Tool)
		}
	}
	slices.Sort(v.Tools)
	for _, row := range findingKeys(fs) {
		if (v.Severity == "" || row.Severity == v.Severity) && (v.Tool == "" || row.Tool == v.Tool) {
			v.Findings = append(v.Findings, row)
		}
	}
	h.render(w, r, &s, http.StatusOK, "findings", "Findings of "+string(run.ID), v)
	return nil
}

type findingView struct {
	Run     *gantry.Run
	Finding findingRow
}

func (h *Handler) finding(w http.ResponseWriter, r *http.Request, s Session) error {
	ctx := r.Context()
	run, err := h.visibleRun(ctx, s, r.PathValue("run"))
	if err != nil {
		return err
	}
	fs, err := h.opts.Store.Findings(ctx, run.ID, "")
	if err != nil {
		return fmt.Errorf("load findings of %s: %w", run.ID, err)
	}
	row, err := lookupFinding(findingKeys(fs), r.PathValue("finding"))
	if err != nil {
		return err
	}
	title := cmp.Or(row.RuleID, "Finding")
	h.render(w, r, &s, http.StatusOK, "finding", title, &findingView{Run: run, Finding: row})
	return nil
}

// lookupFinding finds the row of a key as findingKeys made it.
func lookupFinding(rows []findingRow, key string) (findingRow, error) {
	for _, row := range rows {
		if k, err := url.PathUnescape(row.Key); err == nil && k == key {
			return row, nil
		}
	}
	return findingRow{}, gantry.Errorf(gantry.ENotFound, "this run has no finding %s", clip(key))
}
