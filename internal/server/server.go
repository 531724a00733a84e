// Package server is Gantry's HTTP server: the JSON API under /api/v1/,
// the agent protocol, webhooks from forges, the scheduler that turns
// triggers into queued jobs, live events (server-sent events), health and
// Prometheus metrics. The web UI (internal/web) is mounted beside it.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/secrets"
)

// Principal is who is making a request: a user (by session or token), an
// agent, or a job acting for one run.
type Principal struct {
	Name        string       // the user's name, or "agent:NAME"
	Agent       string       // the agent's name, for agents and job tokens
	ServerAdmin bool         // may do anything
	RunID       gantry.RunID // a job token: the one run it may act on
	Scopes      []string     // what its token allows; nil for a session
	Project     string       // a token limited to one project
	TokenID     string

	impl any // what the Auth implementation knows of it
}

// Auth authenticates requests and authorizes actions. internal/auth
// implements it.
type Auth interface {
	// Authenticate returns the request's principal: from a bearer token,
	// or a session cookie (then unsafe methods need the CSRF token). No
	// credentials is an EUnauthorized error.
	Authenticate(r *http.Request) (*Principal, error)
	// Authorize returns an EForbidden error unless p may do action in
	// project ("" for actions outside projects).
	Authorize(ctx context.Context, p *Principal, project, action string) error
}

// Actions the API authorizes.
const (
	ActProjectRead   = "project.read"
	ActProjectManage = "project.manage"
	ActProjectCreate = "project.create"
	ActAgentManage   = "agent.manage"
	ActRunRead       = "run.read"
	ActRunTrigger    = "run.trigger"
	ActSecretWrite   = "secret.write"
	ActSecretList    = "secret.list"
	ActSecretDelete  = "secret.delete"
	ActAuditRead     = "audit.read"
	ActJobLease      = "job.lease"
	ActChangeApprove = "change.approve"
)

// Secrets keeps projects' secrets: internal/secrets' Service.
type Secrets interface {
	Put(ctx context.Context, project, env, name, value, actor string) error
	List(ctx context.Context, project string) ([]secrets.Info, error)
	Delete(ctx context.Context, project, env, name string) error
	Resolve(ctx context.Context, project, env string, names []string) (map[string]string, error)
}

// WebhookSecretName is the project secret that webhooks are verified
// with.
const WebhookSecretName = "GANTRY_WEBHOOK_SECRET"

// Options configure a Server.
type Options struct {
	Store  gantry.ServerStore
	Blobs  gantry.BlobStore
	Ledger *ledger.Log
	Auth   Auth
	// WebhookSecret returns the secret webhooks of a project are signed
	// with; nil reads the project secret WebhookSecretName.
	WebhookSecret func(ctx context.Context, project string) ([]byte, error)
	// Secrets keeps projects' secrets, write-only; nil: a server without
	// secrets.
	Secrets Secrets
	// OIDC signs people in to the web UI with single sign-on at
	// /login/oidc; nil: password sign-in only.
	OIDC *auth.OIDC
	// BaseURL is the server's address as people reach it: commit
	// statuses link to runs with it.
	BaseURL string
	// ForgeHTTP is the client commit statuses are sent with; nil: a
	// default one.
	ForgeHTTP *http.Client
	// LeaseTTL is how long an agent holds a job between heartbeats;
	// default 30s.
	LeaseTTL time.Duration
	// LeaseWait is how long a lease request waits for a job; default 25s.
	LeaseWait time.Duration
	// MaxArtifact bounds an uploaded artifact; default 1 GiB.
	MaxArtifact int64
	Now         func() time.Time
	Logger      *slog.Logger
}

// Server serves the API. Make one with New.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	routes  []route
	hub     *hub
	metrics *metrics
	wake    chan struct{} // closed and replaced when a job is queued

	wakeMu sync.Mutex
}

// route is one registered API route, for the OpenAPI check.
type route struct{ method, path string }

// New returns a Server.
func New(opts Options) *Server {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.LeaseWait <= 0 {
		opts.LeaseWait = 25 * time.Second
	}
	if opts.MaxArtifact <= 0 {
		opts.MaxArtifact = 1 << 30
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), hub: newHub(), metrics: newMetrics(), wake: make(chan struct{})}
	s.register()
	s.registerOIDC()
	return s
}

// Handler returns the server's HTTP handler.
// Every response carries the security headers.
func (s *Server) Handler() http.Handler { return auth.SecurityHeaders(s.metrics.instrument(s.mux)) }

// Routes lists the API's routes as "METHOD /path".
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.method + " " + r.path
	}
	return out
}

// Mount adds a handler for a pattern beside the API: the web UI.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// handle registers an API route whose handler returns an error, mapped to
// a status and a JSON body in one place.
func (s *Server) handle(method, path string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.routes = append(s.routes, route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// statusOf maps an error's kind to an HTTP status.
func statusOf(err error) int {
	if gantry.ErrorKind(err) == gantry.EInternal && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return http.StatusServiceUnavailable
	}
	return agentproto.HTTPStatus(gantry.ErrorKind(err))
}

// writeError answers with the error's status. Internal errors show the
// client only an ID; the log has the rest.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := gantry.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		id := fmt.Sprintf("%x", s.opts.Now().UnixNano())
		s.opts.Logger.Error("request failed", "id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error " + id
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxJSON bounds a JSON request body.
const maxJSON = 1 << 20

// readJSON decodes a request body into v, refusing unknown fields, more
// than one value and bodies over maxJSON.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return gantry.Errorf(gantry.EInvalid, "request body over %d bytes", maxJSON)
		}
		return gantry.Errorf(gantry.EInvalid, "request body: %v", err)
	}
	if dec.More() {
		return gantry.Errorf(gantry.EInvalid, "request body: more than one JSON value")
	}
	return nil
}

// principal authenticates a request and authorizes action on project.
func (s *Server) principal(r *http.Request, project, action string) (*Principal, error) {
	if s.opts.Auth == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "no authentication configured")
	}
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if err := s.opts.Auth.Authorize(r.Context(), p, project, action); err != nil {
		return nil, err
	}
	return p, nil
}

// audit records what someone did, and appends it to the ledger.
func (s *Server) audit(ctx context.Context, e *gantry.AuditEvent) {
	ctx = context.WithoutCancel(ctx)
	if e.Time.IsZero() {
		e.Time = s.opts.Now()
	}
	// Stores keep UTC and valid text: the event hashed for the ledger
	// must be the event a verifier reads back. Parts of it (a refused
	// webhook's reason, a remote address) come from outside.
	e.Time = e.Time.UTC()
	e.Target, e.Remote = cleanText(e.Target), cleanText(e.Remote)
	for k, v := range e.Detail {
		e.Detail[k] = cleanText(v)
	}
	e.LedgerIndex = -1
	if err := s.opts.Store.AppendAudit(ctx, e); err != nil {
		s.opts.Logger.Error("audit", "action", e.Action, "err", err)
		return
	}
	s.AppendAuditToLedger(ctx, e)
}

// AppendAuditToLedger appends a stored audit event's digest to the
// ledger and records its index.
func (s *Server) AppendAuditToLedger(ctx context.Context, e *gantry.AuditEvent) {
	if err := LedgerAudit(ctx, s.opts.Ledger, s.opts.Store, e); err != nil {
		s.opts.Logger.Error("append audit event to the ledger", "id", e.ID, "err", err)
	}
}

// LedgerAudit appends a stored audit event's digest to the ledger and
// records its index: the digest of the event's JSON as stored, with
// LedgerIndex -1. internal/auth's events come here through its OnAudit
// hook.
func LedgerAudit(ctx context.Context, log *ledger.Log, st gantry.AuditStore, e *gantry.AuditEvent) error {
	if log == nil {
		return nil
	}
	c := *e
	c.LedgerIndex = -1
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	idx, err := log.Append(ctx, ledger.Leaf{Kind: ledger.KindAudit, Digest: gantry.DigestBytes(b)})
	if err != nil {
		return err
	}
	if err := st.SetAuditLedgerIndex(ctx, e.ID, idx[0]); err != nil {
		return err
	}
	e.LedgerIndex = idx[0]
	return nil
}

// cleanText makes text a store keeps: valid UTF-8 without NUL bytes,
// at most 1,000 bytes.
func cleanText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "")
	}
	return s
}

// remote is the client's address, for audit events.
func remote(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}
