package gantry

import "time"

// EventType names what an Event reports.
type EventType string

// The event types of a run's stream, in the order they can occur.
const (
	EventRunStarted    EventType = "run.started"
	EventStageStarted  EventType = "stage.started"
	EventStepStarted   EventType = "step.started"
	EventStepRetrying  EventType = "step.retrying"
	EventLog           EventType = "log"
	EventStepFinished  EventType = "step.finished"
	EventStageFinished EventType = "stage.finished"
	EventRunFinished   EventType = "run.finished"
	EventNotice        EventType = "notice" // something the user should know, e.g. a sandbox fallback
)

// Stream names an output stream of a step.
type Stream string

// The streams a step writes to.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
	System Stream = "system" // lines Gantry adds to a step's log
)

// LogLine is one line of a step's output, already masked.
type LogLine struct {
	Step   string    `json:"step"`
	Seq    int64     `json:"seq"` // position in the step's log, from 1
	Time   time.Time `json:"time"`
	Stream Stream    `json:"stream"`
	Text   string    `json:"text"`
}

// Event is one entry of a run's event stream: what the CLI renders, what
// `gantry run --json` prints, and what the server will relay. Only the
// fields that fit the Type are set.
type Event struct {
	Type        EventType    `json:"type"`
	Time        time.Time    `json:"time"`
	RunID       RunID        `json:"run_id"`
	Stage       string       `json:"stage,omitempty"`
	Step        string       `json:"step,omitempty"`
	Attempt     int          `json:"attempt,omitempty"`
	Status      Status       `json:"status,omitempty"`
	Message     string       `json:"message,omitempty"`
	Log         *LogLine     `json:"log,omitempty"`
	Result      *StepResult  `json:"result,omitempty"`
	StageResult *StageResult `json:"stage_result,omitempty"`
	Run         *Run         `json:"run,omitempty"`
}

// EventSink receives a run's events in order. Emit must not block for long:
// it is called from the engine's hot path.
type EventSink interface {
	Emit(Event)
}

// EventFunc adapts a function to an EventSink.
type EventFunc func(Event)

// Emit calls f(e).
func (f EventFunc) Emit(e Event) { f(e) }
