package gantry

// Status is the state of a run, a stage or a step.
type Status string

// The statuses. Only Succeeded counts as a pass: every other terminal status
// blocks what depends on it (fail closed).
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusSkipped   Status = "skipped"
	StatusTimedOut  Status = "timed-out"
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusSkipped, StatusTimedOut:
		return true
	}
	return false
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusRunning || s.Terminal()
}

// ParseStatus returns the Status named by s.
func ParseStatus(s string) (Status, error) {
	if st := Status(s); st.Valid() {
		return st, nil
	}
	return "", Errorf(EInvalid, "unknown status %q", s)
}

func (s Status) String() string { return string(s) }
