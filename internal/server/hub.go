package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"gantry.dev/gantry"
)

// event is what live views receive: a run, stage or step changed, or log
// lines arrived.
type event struct {
	Type  string              `json:"type"` // run.queued, run.updated, stage.updated, step.updated, logs
	Run   *gantry.Run         `json:"run,omitempty"`
	Stage *gantry.StageResult `json:"stage,omitempty"`
	Step  *gantry.StepResult  `json:"step,omitempty"`
	Lines []gantry.LogLine    `json:"lines,omitempty"`
	RunID gantry.RunID        `json:"run_id"`
	// Project is the run's project: who may see the event.
	Project string `json:"project"`
}

// hub relays events to subscribers of a run, and of every run (""): the
// dashboard. A slow subscriber misses events rather than slowing the
// agents down; it is told to reload.
type hub struct {
	mu   sync.Mutex
	subs map[gantry.RunID]map[chan event]bool
}

func newHub() *hub { return &hub{subs: map[gantry.RunID]map[chan event]bool{}} }

func (h *hub) subscribe(run gantry.RunID) (chan event, func()) {
	ch := make(chan event, 256)
	h.mu.Lock()
	if h.subs[run] == nil {
		h.subs[run] = map[chan event]bool{}
	}
	h.subs[run][ch] = true
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[run], ch)
		if len(h.subs[run]) == 0 {
			delete(h.subs, run)
		}
		h.mu.Unlock()
	}
}

func (h *hub) publish(run *gantry.Run, ev event) {
	ev.RunID, ev.Project = run.ID, run.Project
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, key := range []gantry.RunID{run.ID, ""} {
		for ch := range h.subs[key] {
			select {
			case ch <- ev:
			default: // full: the subscriber reloads
				select {
				case ch <- event{Type: "reload", RunID: run.ID, Project: run.Project}:
				default:
				}
			}
		}
	}
}

// runEvents streams a run's events as server-sent events: the run and its
// steps as they are, then every change, until the client goes away.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) error {
	run, _, err := s.runFor(r, ActRunRead)
	if err != nil {
		return err
	}
	return s.streamFiltered(w, r, run.ID, func(event) bool { return true })
}

// streamFiltered writes the events of run ("" for all) that keep accepts
// as server-sent events.
func (s *Server) streamFiltered(w http.ResponseWriter, r *http.Request, run gantry.RunID, keep func(event) bool) error {
	flusher, ok := w.(http.Flusher)
	if !ok {
		return gantry.Errorf(gantry.EUnavailable, "streaming is not supported here")
	}
	ch, cancel := s.hub.subscribe(run)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(ev event) bool {
		b, err := json.Marshal(ev)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	// What was sent, so that the store's view (another server's agent
	// reports there) is sent only when it is news.
	seen := &sentState{steps: map[string]string{}, logSeq: map[string]int64{}}
	catchUp := func() bool {
		var evs []event
		if run == "" {
			evs = seen.recent(r.Context(), s.opts.Store)
		} else {
			evs = seen.news(r.Context(), s.opts.Store, run)
		}
		for _, ev := range evs {
			if keep(ev) && !send(ev) {
				return false
			}
		}
		return true
	}
	if run != "" {
		if !catchUp() {
			return nil
		}
	} else {
		// The dashboard has the recent runs already: remember them, and
		// send only what changes.
		seen.recent(r.Context(), s.opts.Store)
		_, _ = fmt.Fprint(w, ": connected\n\n")
		flusher.Flush()
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	// Servers sharing a database hear only their own agents: the store
	// is read now and then for what reached another.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		case <-poll.C:
			if !catchUp() {
				return nil
			}
		case ev := <-ch:
			if !keep(ev) {
				continue
			}
			seen.note(ev)
			if !send(ev) {
				return nil
			}
		}
	}
}

// sentState is what a stream has sent: of one run, or of the recent
// runs of every project (the dashboard's).
type sentState struct {
	run    string
	steps  map[string]string // step name → signature of what was sent
	logSeq map[string]int64  // step name → last log line sent
	done   bool              // the run ended and everything was sent
	runs   map[gantry.RunID]string
	// hubLogs says log lines came from this server's own agents since
	// the last look at the store: then the store has nothing to add.
	hubLogs bool
}

// recentRuns is how many of the newest runs the dashboard's stream
// follows in the store.
const recentRuns = 100

// recent returns the changes of the newest runs since the last call.
func (ss *sentState) recent(ctx context.Context, st gantry.ServerStore) []event {
	runs, err := st.Runs(ctx, gantry.RunFilter{Limit: recentRuns})
	if err != nil {
		return nil
	}
	first := ss.runs == nil
	if first {
		ss.runs = map[gantry.RunID]string{}
	}
	var evs []event
	for i := len(runs) - 1; i >= 0; i-- { // oldest first, as they happened
		r := runs[i]
		if sig := runSig(r); ss.runs[r.ID] != sig {
			ss.runs[r.ID] = sig
			if !first {
				evs = append(evs, event{Type: "run.updated", Run: r, RunID: r.ID, Project: r.Project})
			}
		}
	}
	if len(ss.runs) > 4*recentRuns { // forget runs long gone from the list
		keep := map[gantry.RunID]string{}
		for _, r := range runs {
			keep[r.ID] = ss.runs[r.ID]
		}
		ss.runs = keep
	}
	return evs
}

func runSig(r *gantry.Run) string {
	return fmt.Sprintf("%s|%s|%d|%d", r.Status, r.Reason, r.StartedAt.UnixNano(), r.FinishedAt.UnixNano())
}

func stepSig(st *gantry.StepResult) string {
	return fmt.Sprintf("%s|%d|%d|%d|%d", st.Status, st.Attempts, st.StartedAt.UnixNano(), st.FinishedAt.UnixNano(), len(st.Outputs))
}

// note records an event sent from the hub.
func (ss *sentState) note(ev event) {
	switch {
	case ev.Run != nil:
		ss.run = runSig(ev.Run)
		if ss.runs != nil {
			ss.runs[ev.Run.ID] = ss.run
		}
	case ev.Step != nil:
		ss.steps[ev.Step.Name] = stepSig(ev.Step)
	}
	for _, l := range ev.Lines {
		ss.logSeq[l.Step] = max(ss.logSeq[l.Step], l.Seq)
		ss.hubLogs = true
	}
}

// news reads the run from the store and returns what has not been sent.
func (ss *sentState) news(ctx context.Context, st gantry.ServerStore, id gantry.RunID) []event {
	if ss.done {
		return nil
	}
	run, err := st.Run(ctx, id)
	if err != nil {
		return nil
	}
	var evs []event
	steps, _ := st.Steps(ctx, id)
	for _, step := range steps {
		if sig := stepSig(step); ss.steps[step.Name] != sig {
			ss.steps[step.Name] = sig
			evs = append(evs, event{Type: "step.updated", Step: step, RunID: id, Project: run.Project})
		}
	}
	// A run's whole log is read again each time: only when another
	// server's agent writes it.
	fromHub := ss.hubLogs
	ss.hubLogs = false
	if !fromHub {
		if lines, err := st.Logs(ctx, id, ""); err == nil {
			var fresh []gantry.LogLine
			for _, l := range lines {
				if l.Seq > ss.logSeq[l.Step] {
					fresh = append(fresh, l)
					ss.logSeq[l.Step] = l.Seq
				}
			}
			if len(fresh) > 0 {
				evs = append(evs, event{Type: "logs", Lines: fresh, RunID: id, Project: run.Project})
			}
		}
	}
	// The run's own state last, so that a page that sees it end has its
	// steps and logs.
	if sig := runSig(run); ss.run != sig {
		ss.run = sig
		evs = append(evs, event{Type: "run.updated", Run: run, RunID: id, Project: run.Project})
	}
	ss.done = run.Status.Terminal()
	return evs
}
