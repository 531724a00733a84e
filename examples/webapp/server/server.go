// Package server serves the webapp's JSON API over HTTP.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"example.com/webapp"
	"example.com/webapp/auth"
)

// Store is what the server needs from persistence.
type Store interface {
	Ping(ctx context.Context) error
	UserByName(ctx context.Context, username string) (webapp.User, error)
	CreateSession(ctx context.Context, s webapp.Session) error
	SessionUser(ctx context.Context, tokenHash string, now time.Time) (webapp.User, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	CreateItem(ctx context.Context, it webapp.Item) (webapp.Item, error)
	Items(ctx context.Context, ownerID, afterID int64, limit int) ([]webapp.Item, error)
	Item(ctx context.Context, ownerID, id int64) (webapp.Item, error)
}

// Config tunes a Server. The zero value is usable.
type Config struct {
	Logger         *slog.Logger     // nil discards logs
	Now            func() time.Time // nil means time.Now
	Hasher         auth.Hasher      // sets the cost of the timing decoy for unknown users
	SessionTTL     time.Duration    // default 12h
	LoginBurst     int              // login attempts allowed at once per IP and per username; default 5
	LoginPerMinute int              // steady login attempts a minute per IP and per username; default 5
	MaxBodyBytes   int64            // request body limit; default 16 KiB
}

// Server is the webapp's HTTP handler.
type Server struct {
	store     Store
	log       *slog.Logger
	now       func() time.Time
	ttl       time.Duration
	maxBody   int64
	limiter   *auth.Limiter
	decoyHash string
	handler   http.Handler
}

var _ http.Handler = (*Server)(nil)

// New returns a Server backed by store.
func New(store Store, cfg Config) (*Server, error) {
	s := &Server{
		store:   store,
		log:     cfg.Logger,
		now:     cfg.Now,
		ttl:     cfg.SessionTTL,
		maxBody: cfg.MaxBodyBytes,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = 12 * time.Hour
	}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 10
	}
	burst, perMinute := cfg.LoginBurst, cfg.LoginPerMinute
	if burst <= 0 {
		burst = 5
	}
	if perMinute <= 0 {
		perMinute = 5
	}
	s.limiter = auth.NewLimiter(perMinute, burst, 10_000, s.now)

	// Logins for unknown users verify against this hash, so that they take
	// as long as logins for known ones and do not reveal which names exist.
	decoy, err := cfg.Hasher.Hash(auth.NewToken())
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.decoyHash = decoy

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("POST /api/login", s.handleLogin)
	mux.HandleFunc("POST /api/logout", s.authed(s.handleLogout))
	mux.HandleFunc("GET /api/items", s.authed(s.handleListItems))
	mux.HandleFunc("POST /api/items", s.authed(s.handleCreateItem))
	mux.HandleFunc("GET /api/items/{id}", s.authed(s.handleGetItem))
	s.handler = s.accessLog(s.recoverPanic(securityHeaders(mux)))
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "health check", "err", err, "request_id", requestID(r))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
