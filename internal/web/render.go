package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "error", "dashboard", "project", "run", "findings", "finding", "audit", "admin", "changes", "change"}

type pageTemplate struct{ t *template.Template }

// view is what every page's template gets: the signed-in user and the
// page's own data in Page.
type view struct {
	Title       string
	User        string
	ServerAdmin bool
	CSRF        string
	CanAudit    bool
	Nav         string // the page's place in the navigation
	Live        string // what the page's script follows: "runs", "run" or ""
	RunID       gantry.RunID
	Page        any
}

func (h *Handler) parsePages() (map[string]*pageTemplate, error) {
	funcs := template.FuncMap{
		"asset":       h.assets.url,
		"statusClass": statusClass,
		"sevClass":    sevClass,
		"streamClass": streamClass,
		"ago":         h.ago,
		"isoTime":     isoTime,
		"clock":       clock,
		"dur":         formatDuration,
		"runDuration": runDuration,
		"stepDuration": func(s *gantry.StepResult) string {
			return formatDuration(s.Duration())
		},
		"shortCommit": shortCommit,
		"shortDigest": func(d gantry.Digest) string { return d.Short() },
		"join":        strings.Join,
		"score":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"weight":      func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) },
		"classClass":  classClass,
		"bytes":       formatBytes,
		"expired":     func(t time.Time) bool { return !t.IsZero() && !h.opts.Now().Before(t) },
		"active":      func(w *gantry.Waiver) bool { return w.Active(h.opts.Now()) },
		"emptyRun":    func() *gantry.Run { return &gantry.Run{Status: gantry.StatusPending} },
		"emptyStep":   func() *gantry.StepResult { return &gantry.StepResult{Status: gantry.StatusPending} },
		"emptyStage":  func() *stageColumn { return &stageColumn{Status: gantry.StatusPending} },
		"sevNames": func() []gantry.Severity {
			return []gantry.Severity{gantry.SeverityCritical, gantry.SeverityHigh, gantry.SeverityMedium, gantry.SeverityLow, gantry.SeverityInfo}
		},
		"envName": func(env string) string {
			if env == "" {
				return "every environment"
			}
			return env
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	pages := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pages[name] = &pageTemplate{t}
	}
	return pages, nil
}

// render writes a page with status. s is nil for a page without a
// signed-in user. The page is rendered whole before anything is sent, so
// that a template error is an error page and not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *Session, status int, page, title string, data any) {
	v := view{Title: title, Page: data}
	if s != nil {
		v.User, v.ServerAdmin, v.CSRF = s.User, s.ServerAdmin, s.CSRF
		if ok, err := h.authorized(r.Context(), *s, "", ActAuditRead); err == nil {
			v.CanAudit = ok
		}
	}
	switch d := data.(type) {
	case *dashboardView:
		v.Nav, v.Live = "dashboard", "runs"
	case *projectView:
		v.Nav, v.Live = "dashboard", "runs"
	case *runView:
		v.Nav, v.RunID = "dashboard", d.Run.ID
		if !d.Run.Status.Terminal() {
			// A finished run changes no more: no stream to hold open.
			v.Live = "run"
		}
	case *findingsView, *findingView, *changesView, *changeView:
		v.Nav = "dashboard"
	case *auditView:
		v.Nav = "audit"
	case *adminView:
		v.Nav = "admin"
	}
	h.write(w, status, page, v)
}

func (h *Handler) write(w http.ResponseWriter, status int, page string, v view) {
	p := h.pages[page]
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, "layout", v); err != nil {
		id := h.errorID()
		h.log.Error("render page", "id", id, "page", page, "err", err)
		buf.Reset()
		ev := view{Title: "Something went wrong", User: v.User, CSRF: v.CSRF,
			Page: errorView{Status: http.StatusInternalServerError, Title: "Something went wrong", Message: "internal error " + id}}
		if err := h.pages["error"].t.ExecuteTemplate(&buf, "layout", ev); err != nil {
			http.Error(w, "internal error "+id, http.StatusInternalServerError)
			return
		}
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// statusClass is the CSS class of a status; unknown ones get their own.
func statusClass(s gantry.Status) string {
	if s.Valid() {
		return "status-" + string(s)
	}
	return "status-unknown"
}

// classClass is the CSS class of a change's class.
func classClass(c gantry.ChangeClass) string {
	if c.Valid() {
		return "class-" + string(c)
	}
	return "class-unknown"
}

func sevClass(s gantry.Severity) string {
	if s.Rank() > 0 {
		return "sev-" + string(s)
	}
	return "sev-unknown"
}

func streamClass(s gantry.Stream) string {
	switch s {
	case gantry.Stdout, gantry.Stderr, gantry.System:
		return "ln-" + string(s)
	}
	return "ln-stdout"
}

// ago says how long before now t was, in a word or two.
func (h *Handler) ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return agoAt(h.opts.Now(), t)
}

// agoAt is the text app.js computes too, so that a page does not change
// its words when the script takes over.
func agoAt(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Minute:
		return plural(int(d/time.Minute+(d%time.Minute)/(30*time.Second)), "minute") + " ago"
	case d < 36*time.Hour:
		return plural(int((d+30*time.Minute)/time.Hour), "hour") + " ago"
	default:
		return plural(int((d+12*time.Hour)/(24*time.Hour)), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n < 1 {
		n = 1
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatDuration writes a duration as people read it: 850ms, 42s, 3m 05s,
// 2h 10m.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%dh %02dm", d/time.Hour, d%time.Hour/time.Minute)
}

func runDuration(r *gantry.Run) string { return formatDuration(r.Duration()) }

func shortCommit(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return c
}

func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// assetSet serves the embedded assets. Pages link them with their digest
// in the query, so that they can be cached for good and still change with
// a new binary.
type assetSet struct {
	files    map[string][]byte
	versions map[string]string
}

func loadAssets() (*assetSet, error) {
	a := &assetSet{files: map[string][]byte{}, versions: map[string]string{}}
	err := fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		sum := sha256.Sum256(b)
		a.files[name] = b
		a.versions[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	return a, nil
}

func (a *assetSet) url(name string) (string, error) {
	v, ok := a.versions[name]
	if !ok {
		return "", fmt.Errorf("no asset %s", name)
	}
	return "/assets/" + name + "?v=" + v, nil
}

var assetTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

func (a *assetSet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/assets/")
	b, ok := a.files[name]
	ctype := assetTypes[path.Ext(name)]
	if !ok || ctype == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	if r.URL.Query().Get("v") == a.versions[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+a.versions[name]+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
