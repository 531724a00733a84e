package gantry

import (
	"context"
	"time"
)

// Project is a repository Gantry delivers.
type Project struct {
	Name              string   `json:"name"` // [a-z0-9][a-z0-9-]*, at most 63 characters; unique
	RepoURL           string   `json:"repo_url"`
	DefaultBranch     string   `json:"default_branch"`
	PipelinePath      string   `json:"pipeline_path"`      // relative to the repository; default .gantry.yml
	ProtectedBranches []string `json:"protected_branches"` // branch patterns; changes reach them only through passing runs
	// Changes is the project's change-management configuration, in the
	// YAML of .gantry/changes.yml: how changes are classified and who may
	// approve them for which environment. A server uses it, never the copy
	// in the repository, so that a change cannot loosen its own rules.
	// Empty: the defaults.
	Changes   string    `json:"changes,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ProjectStore keeps projects.
type ProjectStore interface {
	// PutProject creates a project or replaces the one of that name
	// (CreatedAt is kept from the first put).
	PutProject(ctx context.Context, p *Project) error
	Project(ctx context.Context, name string) (*Project, error)
	// Projects lists every project by name.
	Projects(ctx context.Context) ([]*Project, error)
}

// JobID identifies a job.
type JobID string

// JobStatus is where a job is in its life.
type JobStatus string

// The job statuses.
const (
	JobQueued   JobStatus = "queued"   // waiting for an agent
	JobLeased   JobStatus = "leased"   // an agent holds it until LeaseExpires
	JobFinished JobStatus = "finished" // done; its run says how it went
)

// Job is the unit of work an agent leases: one run of a project's
// pipeline at one commit.
type Job struct {
	ID           JobID     `json:"id"`
	RunID        RunID     `json:"run_id"`
	Project      string    `json:"project"`
	Labels       []string  `json:"labels,omitempty"` // an agent must have all of them
	Status       JobStatus `json:"status"`
	Agent        string    `json:"agent,omitempty"` // the agent that holds or held it
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	Attempts     int       `json:"attempts"` // how many times it was leased
	CreatedAt    time.Time `json:"created_at"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
}

// JobFilter narrows Jobs.
type JobFilter struct {
	Status JobStatus
	RunID  RunID
	Limit  int
}

// JobStore queues jobs and leases them to agents. Several servers may
// share one store: a job is leased to one agent at a time.
type JobStore interface {
	// EnqueueJob queues a new job (Status queued).
	EnqueueJob(ctx context.Context, j *Job) error
	// LeaseJob leases to agent, until now+ttl, the oldest job that is
	// queued, or leased with its lease expired before now, and whose
	// labels are all among labels; it counts the attempt. No such job is
	// ErrNotFound.
	LeaseJob(ctx context.Context, agent string, labels []string, now time.Time, ttl time.Duration) (*Job, error)
	// RenewLease extends agent's lease of job id to until. A job the
	// agent no longer holds (finished, or leased to another after its
	// lease expired) is an EConflict error.
	RenewLease(ctx context.Context, id JobID, agent string, until time.Time) error
	// FinishJob marks a job the agent holds as finished at now; a job it
	// does not hold is an EConflict error.
	FinishJob(ctx context.Context, id JobID, agent string, now time.Time) error
	Job(ctx context.Context, id JobID) (*Job, error)
	// Jobs lists jobs oldest first.
	Jobs(ctx context.Context, f JobFilter) ([]*Job, error)
}

// Role is what a user may do in a project. Each role includes those
// before it.
type Role string

// The roles, least first.
const (
	RoleViewer    Role = "viewer"    // sees runs, logs, findings, evidence
	RoleDeveloper Role = "developer" // also triggers runs, writes secrets' values
	RoleApprover  Role = "approver"  // also approves changes
	RoleAdmin     Role = "admin"     // also manages the project, its members and tokens
)

// User is a person who signs in.
type User struct {
	Name         string    `json:"name"` // the login; unique
	Email        string    `json:"email,omitempty"`
	PasswordHash string    `json:"-"` // argon2id, PHC string; empty for single sign-on users
	TOTPSecret   []byte    `json:"-"` // encrypted; nil when two-factor is off
	ServerAdmin  bool      `json:"server_admin"`
	Disabled     bool      `json:"disabled"`
	FailedLogins int       `json:"failed_logins"`
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
}

// Grant gives a user a role in a project.
type Grant struct {
	User    string `json:"user"`
	Project string `json:"project"`
	Role    Role   `json:"role"`
}

// Token is an API token. Only its hash is stored; the secret is shown once.
type Token struct {
	ID        string    `json:"id"`
	Hash      string    `json:"-"`    // hex sha256 of the secret
	User      string    `json:"user"` // the user it acts for, or "agent:NAME" for an agent
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`            // what it may do
	Project   string    `json:"project,omitempty"` // limited to one project when set
	RunID     RunID     `json:"run_id,omitempty"`  // a job token: valid for this run only
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
}

// IdentityStore keeps users, their grants and their tokens.
type IdentityStore interface {
	// PutUser creates or replaces a user.
	PutUser(ctx context.Context, u *User) error
	User(ctx context.Context, name string) (*User, error)
	Users(ctx context.Context) ([]*User, error)
	// PutGrant gives a role, replacing the user's role in the project;
	// an empty Role removes the grant.
	PutGrant(ctx context.Context, g Grant) error
	// Grants lists a user's grants, or, with user "", a project's.
	Grants(ctx context.Context, user, project string) ([]Grant, error)
	PutToken(ctx context.Context, t *Token) error
	// TokenByHash finds a token by its hash; ErrNotFound when none.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Tokens lists a user's tokens.
	Tokens(ctx context.Context, user string) ([]*Token, error)
	DeleteToken(ctx context.Context, id string) error
}

// AuditEvent is something a person or an agent did, or tried: a login, a
// token made, a secret written, a run triggered, a webhook refused. Audit
// events are appended to the ledger.
type AuditEvent struct {
	ID          int64             `json:"id"`
	Time        time.Time         `json:"time"`
	Actor       string            `json:"actor"`   // user name, "agent:NAME", "webhook:FORGE", or "anonymous"
	Action      string            `json:"action"`  // such as login, login.failed, token.create, secret.put, run.trigger
	Target      string            `json:"target"`  // what it acted on
	Outcome     string            `json:"outcome"` // success, failure, denied
	Remote      string            `json:"remote,omitempty"`
	Detail      map[string]string `json:"detail,omitempty"`
	LedgerIndex int64             `json:"ledger_index"` // the ledger entry of its digest; -1 until appended
}

// AuditFilter narrows AuditEvents.
type AuditFilter struct {
	Actor  string
	Action string
	Limit  int
}

// AuditStore keeps audit events.
type AuditStore interface {
	// AppendAudit stores an event and sets its ID.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// SetAuditLedgerIndex records the ledger entry of an event.
	SetAuditLedgerIndex(ctx context.Context, id, index int64) error
	// AuditEvents lists events newest first.
	AuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}

// SecretRecord is a secret's value encrypted at rest, for a project and
// an environment ("" for every environment).
type SecretRecord struct {
	Project    string    `json:"project"`
	Env        string    `json:"env"`
	Name       string    `json:"name"`
	Ciphertext []byte    `json:"-"`
	KeyID      string    `json:"key_id"` // the key-encryption key that sealed it
	UpdatedAt  time.Time `json:"updated_at"`
	UpdatedBy  string    `json:"updated_by"`
}

// SecretStore keeps encrypted secrets. It never sees a value.
type SecretStore interface {
	PutSecret(ctx context.Context, s *SecretRecord) error
	Secret(ctx context.Context, project, env, name string) (*SecretRecord, error)
	// Secrets lists a project's secrets (all environments) by env and name.
	Secrets(ctx context.Context, project string) ([]*SecretRecord, error)
	DeleteSecret(ctx context.Context, project, env, name string) error
}

// Agent is a machine that runs jobs, enrolled with the server.
type Agent struct {
	Name        string    `json:"name"`
	Labels      []string  `json:"labels"`
	Concurrency int       `json:"concurrency"`
	PublicKey   []byte    `json:"public_key,omitempty"` // PEM: the key its attestations are signed with
	LastSeen    time.Time `json:"last_seen,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
}

// AgentStore keeps enrolled agents.
type AgentStore interface {
	PutAgent(ctx context.Context, a *Agent) error
	Agent(ctx context.Context, name string) (*Agent, error)
	Agents(ctx context.Context) ([]*Agent, error)
}

// ServerStore is what a server keeps: the local Store and the platform's
// projects, jobs, identities, audit events, secrets and agents.
type ServerStore interface {
	Store
	ProjectStore
	JobStore
	IdentityStore
	AuditStore
	SecretStore
	AgentStore
}
