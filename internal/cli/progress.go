package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/spec"
)

// renderer shows a run to the user as it happens and sums it up at the end.
type renderer interface {
	gantry.EventSink
	notice(msg string)
	close()
	summary(r *gantry.Run, steps []*gantry.StepResult, logs func(step string) []gantry.LogLine)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newRenderer(e *env, f *runFlags, plan *spec.Plan, started time.Time) renderer {
	switch {
	case f.json:
		return &jsonRenderer{enc: json.NewEncoder(e.stdout)}
	case !f.plain && e.isTerminal(e.stdout):
		return newLiveRenderer(e.stdout, plan, started)
	}
	return &plainRenderer{w: e.stdout, started: started}
}

// symbols for statuses, shared by every renderer.
func symbol(s gantry.Status) string {
	switch s {
	case gantry.StatusSucceeded:
		return "✓"
	case gantry.StatusFailed, gantry.StatusTimedOut:
		return "✗"
	case gantry.StatusCancelled:
		return "⊘"
	case gantry.StatusSkipped:
		return "-"
	case gantry.StatusRunning:
		return "▶"
	}
	return "·"
}

func round(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// jsonRenderer prints every event as a JSON line: `gantry run --json`.
type jsonRenderer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (j *jsonRenderer) Emit(ev gantry.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(ev)
}

func (j *jsonRenderer) notice(msg string) {
	j.Emit(gantry.Event{Type: gantry.EventNotice, Time: time.Now(), Message: msg})
}
func (j *jsonRenderer) close() {}
func (j *jsonRenderer) summary(*gantry.Run, []*gantry.StepResult, func(string) []gantry.LogLine) {
}

// plainRenderer prints one line per event, logs included: for pipes and CI.
type plainRenderer struct {
	mu      sync.Mutex
	w       io.Writer
	started time.Time
}

func (p *plainRenderer) Emit(ev gantry.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Type {
	case gantry.EventRunStarted:
		fmt.Fprintf(p.w, "run %s started (%s)\n", ev.RunID, ev.Run.Pipeline)
	case gantry.EventStageStarted:
		fmt.Fprintf(p.w, "── stage %s\n", ev.Stage)
	case gantry.EventStepStarted:
		fmt.Fprintf(p.w, "▶ %s\n", ev.Step)
	case gantry.EventStepRetrying:
		fmt.Fprintf(p.w, "↻ %s: attempt %d\n", ev.Step, ev.Attempt)
	case gantry.EventLog:
		fmt.Fprintf(p.w, "  %s │ %s\n", ev.Step, ev.Log.Text)
	case gantry.EventStepFinished:
		fmt.Fprintf(p.w, "%s %s %s%s\n", symbol(ev.Status), ev.Step, ev.Status, stepDetail(ev.Result))
	case gantry.EventStageFinished:
		fmt.Fprintf(p.w, "── stage %s %s\n", ev.Stage, ev.Status)
	case gantry.EventNotice:
		fmt.Fprintf(p.w, "note: %s\n", ev.Message)
	}
}

func stepDetail(r *gantry.StepResult) string {
	if r == nil {
		return ""
	}
	var parts []string
	if d := r.Duration(); d > 0 {
		parts = append(parts, round(d).String())
	}
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func (p *plainRenderer) notice(msg string) {
	p.Emit(gantry.Event{Type: gantry.EventNotice, Message: msg})
}
func (p *plainRenderer) close() {}
func (p *plainRenderer) summary(r *gantry.Run, steps []*gantry.StepResult, logs func(string) []gantry.LogLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	writeSummary(p.w, r, steps, logs, time.Since(p.started))
}

// tailLines is how many log lines of a failing step the summary shows.
const tailLines = 15

// writeSummary prints the run's outcome: every step with its status, and
// the last lines of the steps that failed.
func writeSummary(w io.Writer, r *gantry.Run, steps []*gantry.StepResult, logs func(string) []gantry.LogLine, took time.Duration) {
	fmt.Fprintf(w, "\n%s run %s %s in %s\n", symbol(r.Status), r.ID, r.Status, round(took))
	width := 0
	for _, s := range steps {
		width = max(width, len(s.Name))
	}
	for _, s := range steps {
		fmt.Fprintf(w, "  %s %-*s  %-9s%s\n", symbol(s.Status), width, s.Name, s.Status, stepDetail(s))
	}
	for _, s := range steps {
		if s.Passed() || s.Status == gantry.StatusCancelled {
			continue
		}
		lines := logs(s.Name)
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s %s: last lines of its log (all: gantry logs %s %q)\n", symbol(s.Status), s.Name, r.ID, s.Name)
		for _, l := range lines[max(0, len(lines)-tailLines):] {
			fmt.Fprintf(w, "  │ %s\n", l.Text)
		}
	}
	if r.Status != gantry.StatusSucceeded && r.Reason != "" {
		fmt.Fprintf(w, "\n%s\n", r.Reason)
	}
}

// liveRenderer redraws a block of lines in place on a terminal: each step
// of the stages that started, with its status, its duration and, while it
// runs, its last log line.
type liveRenderer struct {
	mu      sync.Mutex
	w       io.Writer
	plan    *spec.Plan
	started time.Time
	stages  map[string]gantry.Status
	steps   map[string]*liveStep
	notes   []string
	drawn   int // lines drawn last time, to move back over
	width   int
	height  int
	stop    chan struct{}
	done    chan struct{}
}

type liveStep struct {
	status  gantry.Status
	started time.Time
	took    time.Duration
	last    string
	reason  string
}

func newLiveRenderer(w io.Writer, plan *spec.Plan, started time.Time) *liveRenderer {
	l := &liveRenderer{w: w, plan: plan, started: started, stages: map[string]gantry.Status{},
		steps: map[string]*liveStep{}, width: 100, height: 40, stop: make(chan struct{}), done: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if cols, rows, err := term.GetSize(int(f.Fd())); err == nil {
			l.width, l.height = cols, rows
		}
	}
	go l.loop()
	return l
}

func (l *liveRenderer) loop() {
	defer close(l.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.mu.Lock()
			l.draw()
			l.mu.Unlock()
			return
		case <-t.C:
			l.mu.Lock()
			l.draw()
			l.mu.Unlock()
		}
	}
}

func (l *liveRenderer) Emit(ev gantry.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev.Type {
	case gantry.EventStageStarted, gantry.EventStageFinished:
		l.stages[ev.Stage] = ev.StageResult.Status
	case gantry.EventStepStarted:
		l.steps[ev.Step] = &liveStep{status: gantry.StatusRunning, started: ev.Time}
	case gantry.EventLog:
		if s := l.steps[ev.Step]; s != nil {
			s.last = printable(ev.Log.Text)
		}
	case gantry.EventStepFinished:
		s := l.steps[ev.Step]
		if s == nil {
			s = &liveStep{}
			l.steps[ev.Step] = s
		}
		s.status, s.reason = ev.Status, ev.Result.Reason
		s.took = ev.Result.Duration()
	case gantry.EventNotice:
		l.notes = append(l.notes, ev.Message)
	}
}

func (l *liveRenderer) notice(msg string) {
	l.Emit(gantry.Event{Type: gantry.EventNotice, Message: msg})
}

// lines builds the block to draw.
func (l *liveRenderer) lines() []string {
	var out []string
	for _, n := range l.notes {
		out = append(out, "note: "+n)
	}
	for _, st := range l.plan.Stages {
		status, ok := l.stages[st.Name]
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf("%s stage %s", symbol(status), st.Name))
		var done int
		var shown []string
		for _, s := range st.Steps {
			ls := l.steps[s.Name]
			if ls == nil {
				shown = append(shown, fmt.Sprintf("  · %s", s.Name))
				continue
			}
			line := fmt.Sprintf("  %s %s", symbol(ls.status), s.Name)
			switch {
			case ls.status == gantry.StatusRunning:
				line += fmt.Sprintf("  %s", round(time.Since(ls.started)))
				if ls.last != "" {
					line += "  \x1b[2m" + ls.last + "\x1b[0m"
				}
			case ls.status == gantry.StatusSucceeded:
				line += fmt.Sprintf("  %s", round(ls.took))
				done++
			default:
				line += fmt.Sprintf("  %s", ls.status)
				if ls.reason != "" {
					line += ": " + ls.reason
				}
			}
			shown = append(shown, line)
		}
		// A long stage shows its succeeded steps as a count.
		if budget := l.height - 4; len(out)+len(shown) > budget && done > 0 {
			var kept []string
			for _, line := range shown {
				if !strings.HasPrefix(line, "  ✓") {
					kept = append(kept, line)
				}
			}
			shown = append([]string{fmt.Sprintf("  ✓ %d %s succeeded", done, plural(done, "step", "steps"))}, kept...)
		}
		out = append(out, shown...)
	}
	out = append(out, fmt.Sprintf("  %s", round(time.Since(l.started))))
	return out
}

func (l *liveRenderer) draw() {
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.drawn)
	}
	lines := l.lines()
	for _, line := range lines {
		b.WriteString("\x1b[2K")
		b.WriteString(truncate(line, l.width-1))
		b.WriteString("\n")
	}
	l.drawn = len(lines)
	_, _ = io.WriteString(l.w, b.String())
}

// truncate cuts s to n visible runes, ignoring escape sequences.
func truncate(s string, n int) string {
	var b strings.Builder
	visible, esc := 0, false
	for _, r := range s {
		switch {
		case r == '\x1b':
			esc = true
		case esc:
			if r == 'm' {
				esc = false
			}
		default:
			if visible >= n {
				b.WriteString("\x1b[0m")
				return b.String()
			}
			visible++
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (l *liveRenderer) close() {
	close(l.stop)
	<-l.done
}

func (l *liveRenderer) summary(r *gantry.Run, steps []*gantry.StepResult, logs func(string) []gantry.LogLine) {
	writeSummary(l.w, r, steps, logs, time.Since(l.started))
}

// printable drops control characters, so a step's output cannot move the
// cursor of the live view.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
