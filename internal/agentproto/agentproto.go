// Package agentproto holds the messages of the protocol between agents and
// the server, so that both speak it without importing each other, and the
// mapping of error kinds to HTTP statuses that every client of the API
// reads back.
//
// An agent authenticates with its agent token to lease jobs, renew and
// finish them; for everything about the run it leased it uses the job
// token that came with the lease, valid for that run only:
//
//	POST /api/v1/agent/lease                  LeaseRequest → Lease (204: none)
//	POST /api/v1/agent/jobs/{job}/heartbeat   renew the lease (409: lost)
//	POST /api/v1/agent/jobs/{job}/finish
//	POST /api/v1/agent/runs/{run}/start       the run as the engine starts it
//	PUT  /api/v1/agent/runs/{run}             the run as it ends
//	PUT  /api/v1/agent/runs/{run}/stages      a StageResult
//	PUT  /api/v1/agent/runs/{run}/steps       a StepResult (its outputs uploaded first)
//	POST /api/v1/agent/runs/{run}/logs        []LogLine; 204 acknowledges they are kept
//	PUT  /api/v1/agent/runs/{run}/findings?step=STEP
//	POST /api/v1/agent/runs/{run}/attestations []AttestationUpload → ledger indexes
//	POST /api/v1/agent/runs/{run}/seal        a signed checkpoint
//	POST /api/v1/agent/runs/{run}/secrets     names → values
//	GET  /api/v1/agent/runs/{run}/change      the run's change → ChangeState (404: none)
//	PUT  /api/v1/agent/runs/{run}/change      the run's change as the checkout shows it, or classified
//	PUT  /api/v1/agent/blobs/{digest}         an artifact's bytes; GET reads one back
package agentproto

import (
	"encoding/json"
	"net/http"
	"time"

	"gantry.dev/gantry"
)

// EnrollRequest enrolls an agent: its name, labels, concurrency and the
// public key its attestations are signed with.
type EnrollRequest struct {
	Name        string   `json:"name"`
	Labels      []string `json:"labels"`
	Concurrency int      `json:"concurrency"`
	PublicKey   string   `json:"public_key"` // PEM
}

// EnrollResponse carries the agent's token, shown once.
type EnrollResponse struct {
	Agent *gantry.Agent `json:"agent"`
	Token string        `json:"token"`
}

// LeaseRequest asks for a job.
type LeaseRequest struct {
	Labels []string `json:"labels"`
	WaitMS int      `json:"wait_ms"` // how long to wait for one; 0: the server's default
}

// Lease is a leased job and everything needed to run it.
type Lease struct {
	Job          *gantry.Job     `json:"job"`
	Run          *gantry.Run     `json:"run"`
	Project      *gantry.Project `json:"project"`
	Token        string          `json:"token"` // the job token
	LeaseExpires time.Time       `json:"lease_expires"`
	// Checkout is the read-only credential to clone the repository
	// with, when the project has one; the agent gives it to git as a
	// header, never in a URL or a file a step could read.
	Checkout *Checkout `json:"checkout,omitempty"`
	// ActorRole is the role in the project of whoever started the run
	// (Run.Trigger.Actor), "" when they have none: an environment's
	// deployers may be named by role.
	ActorRole gantry.Role `json:"actor_role,omitempty"`
}

// ChangeState is a run's change with what its gates classify and admit it
// on besides the run's evidence: its approvals, its author's recent
// changes and its project's recent incidents.
type ChangeState struct {
	Change    *gantry.Change     `json:"change"`
	Approvals []*gantry.Approval `json:"approvals"`
	// History counts the author's other recent changes, and of them
	// those whose latest run failed.
	History   ChangeHistory `json:"history"`
	Incidents int           `json:"incidents"`
	// BaseCoverage is the test coverage of the base branch's latest
	// successful run that measured it, in percent; absent when none did.
	BaseCoverage *float64 `json:"base_coverage,omitempty"`
}

// ChangeHistory is an author's recent record.
type ChangeHistory struct {
	Changes int `json:"changes"`
	Failed  int `json:"failed"`
}

// Checkout is a read-only repository credential for one job.
type Checkout struct {
	Forge string `json:"forge"` // github, gitlab or gitea
	Token string `json:"token"`
}

// AttestationUpload is an attestation an agent signed; the server checks
// the envelope against the agent's enrolled key before it keeps it.
type AttestationUpload struct {
	gantry.Attestation
	Envelope json.RawMessage `json:"envelope"`
}

// HTTPStatus is the status an error of kind answers with: the one place
// that maps error kinds to HTTP, which clients read back with Kind.
func HTTPStatus(kind string) int {
	switch kind {
	case gantry.EInvalid:
		return http.StatusBadRequest
	case gantry.EUnauthorized:
		return http.StatusUnauthorized
	case gantry.EForbidden:
		return http.StatusForbidden
	case gantry.ENotFound:
		return http.StatusNotFound
	case gantry.EConflict:
		return http.StatusConflict
	case gantry.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Kind is the error kind of an HTTP status: what HTTPStatus mapped.
func Kind(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return gantry.EInvalid
	case http.StatusUnauthorized:
		return gantry.EUnauthorized
	case http.StatusForbidden:
		return gantry.EForbidden
	case http.StatusNotFound:
		return gantry.ENotFound
	case http.StatusConflict:
		return gantry.EConflict
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return gantry.EUnavailable
	}
	return gantry.EInternal
}
