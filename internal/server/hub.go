package server

import (
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
	if run != "" {
		if cur, err := s.opts.Store.Run(r.Context(), run); err == nil {
			send(event{Type: "run.updated", Run: cur, RunID: run})
		}
		if steps, err := s.opts.Store.Steps(r.Context(), run); err == nil {
			for _, st := range steps {
				send(event{Type: "step.updated", Step: st, RunID: run})
			}
		}
	} else {
		_, _ = fmt.Fprint(w, ": connected\n\n")
		flusher.Flush()
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		case ev := <-ch:
			if !keep(ev) {
				continue
			}
			if !send(ev) {
				return nil
			}
		}
	}
}
