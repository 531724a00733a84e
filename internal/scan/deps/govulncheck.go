package deps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	govulncheck "golang.org/x/vuln/scan"

	"gantry.dev/gantry/internal/vulndb"
)

// reach is how far a program reaches a vulnerability of a Go module.
type reach int

const (
	// reachUnknown: no call-level analysis ran.
	reachUnknown reach = iota
	// reachRequired: the module is required, the vulnerable package is not
	// imported.
	reachRequired
	// reachImported: the vulnerable package is imported, none of its
	// vulnerable symbols is called.
	reachImported
	// reachCalled: a vulnerable symbol is called.
	reachCalled
)

// reachInfo is what govulncheck said about one vulnerability of one module.
type reachInfo struct {
	level   reach
	symbol  string // called: the vulnerable function
	from    string // called: the package of the program that starts the call chain
	at      string // called: file:line of that call, relative to the module
	pkg     string // imported: the vulnerable package
	others  int    // called: other vulnerable symbols reached
	version string // the module version govulncheck saw (with v)
	fixed   string // the version govulncheck says fixes it (with v)
}

// goAnalysis is govulncheck's view of one Go module.
type goAnalysis struct {
	// byVuln maps vulnerability ID and module path to what was found.
	byVuln map[string]map[string]*reachInfo
	// entries are the OSV entries govulncheck reported on.
	entries map[string]*vulndb.Entry
}

func (g *goAnalysis) lookup(ids []string, module string) *reachInfo {
	for _, id := range ids {
		if ri := g.byVuln[id][module]; ri != nil {
			return ri
		}
	}
	return nil
}

// gvFrame and gvMessage read govulncheck's JSON output (protocol v1).
type gvFrame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

type gvMessage struct {
	OSV     json.RawMessage `json:"osv"`
	Finding *struct {
		OSV          string     `json:"osv"`
		FixedVersion string     `json:"fixed_version"`
		Trace        []*gvFrame `json:"trace"`
	} `json:"finding"`
}

// errNoGoPackages is returned for a module with no Go packages to analyse.
var errNoGoPackages = errors.New("no Go packages")

// analyseGo runs govulncheck in-process on the module in dir, against the
// Go vulnerability database in goDB (offline: -db file://), with env as
// the environment of the go command it runs to load packages.
func analyseGo(ctx context.Context, dir, goDB string, env []string, tests bool) (*goAnalysis, error) {
	abs, err := filepath.Abs(goDB)
	if err != nil {
		return nil, err
	}
	dbURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	args := []string{"-C", dir, "-db", dbURL, "-format", "json"}
	if tests {
		args = append(args, "-test")
	}
	args = append(args, "./...")
	var stdout, stderr bytes.Buffer
	cmd := govulncheck.Command(ctx, args...)
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("govulncheck: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// govulncheck does not stop loading packages on cancellation;
		// its goroutine finishes on its own and its output is dropped.
		return nil, ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(err.Error())
		if strings.Contains(msg, "no packages matched") {
			return nil, errNoGoPackages
		}
		if s := strings.TrimSpace(stderr.String()); s != "" && !strings.Contains(msg, s) {
			msg += ": " + s
		}
		return nil, fmt.Errorf("govulncheck: %s", shorten(strings.TrimPrefix(msg, "govulncheck: "), 600))
	}
	return parseGovulncheck(&stdout)
}

// parseGovulncheck reads govulncheck's JSON stream.
func parseGovulncheck(r io.Reader) (*goAnalysis, error) {
	g := &goAnalysis{byVuln: map[string]map[string]*reachInfo{}, entries: map[string]*vulndb.Entry{}}
	dec := json.NewDecoder(r)
	for {
		var m gvMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read govulncheck output: %w", err)
		}
		if len(m.OSV) > 0 {
			e, err := vulndb.ParseEntry(m.OSV)
			if err != nil {
				return nil, fmt.Errorf("read govulncheck output: %w", err)
			}
			g.entries[e.ID] = e
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.OSV == "" {
			continue
		}
		sink := f.Trace[0]
		level := reachRequired
		switch {
		case sink.Function != "":
			level = reachCalled
		case sink.Package != "":
			level = reachImported
		}
		if g.byVuln[f.OSV] == nil {
			g.byVuln[f.OSV] = map[string]*reachInfo{}
		}
		ri := g.byVuln[f.OSV][sink.Module]
		if ri == nil {
			ri = &reachInfo{}
			g.byVuln[f.OSV][sink.Module] = ri
		}
		if ri.version == "" {
			ri.version = sink.Version
		}
		if ri.fixed == "" {
			ri.fixed = f.FixedVersion
		}
		switch {
		case level < ri.level:
		case level == reachCalled && ri.level == reachCalled:
			sym := symbolName(sink)
			if sym == ri.symbol {
				continue
			}
			ri.others++
			if sym < ri.symbol { // keep the output deterministic
				ri.symbol, ri.from, ri.at = sym, "", ""
				setCaller(ri, f.Trace)
			}
		case level == reachCalled:
			ri.level, ri.symbol = reachCalled, symbolName(sink)
			setCaller(ri, f.Trace)
		case level > ri.level:
			ri.level, ri.pkg = level, sink.Package
		}
	}
	return g, nil
}

// symbolName formats a frame's function as pkg.Func or pkg.Type.Method.
func symbolName(f *gvFrame) string {
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	if f.Package != "" {
		name = f.Package + "." + name
	}
	return name
}

// setCaller records where the call chain of a trace starts: its last
// frame, in one of the analysed module's packages.
func setCaller(ri *reachInfo, trace []*gvFrame) {
	last := trace[len(trace)-1]
	ri.from = last.Package
	if last.Position != nil && last.Position.Filename != "" {
		ri.at = fmt.Sprintf("%s:%d", filepath.ToSlash(last.Position.Filename), last.Position.Line)
	}
}

// message describes the reach for a finding's message.
func (ri *reachInfo) message() string {
	switch ri.level {
	case reachCalled:
		s := "reachable: " + ri.symbol + " called from " + ri.from
		if ri.at != "" {
			s += " (" + ri.at + ")"
		}
		if ri.others > 0 {
			s += fmt.Sprintf(" and %d more vulnerable symbol(s)", ri.others)
		}
		return s
	case reachImported:
		return "imported (" + ri.pkg + "), no vulnerable symbol called"
	case reachRequired:
		return "required, vulnerable package not imported"
	}
	return ""
}

// shorten keeps the first n bytes of a message, on one line.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sortedIDs lists a map's vulnerability IDs in order.
func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
