package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"example.com/webapp"
	"example.com/webapp/auth"
)

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		s.fail(w, r, badRequest("username and password are required"))
		return
	}
	if len(req.Username) > webapp.MaxUsernameLen || len(req.Password) > webapp.MaxPasswordLen {
		s.fail(w, r, badRequest("username or password too long"))
		return
	}
	ctx, ip := r.Context(), remoteIP(r)
	if ok, wait := s.limiter.Allow("ip:"+ip, "user:"+req.Username); !ok {
		s.log.WarnContext(ctx, "login rate limited", "user", req.Username, "remote", ip, "request_id", requestID(r))
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
		writeError(w, r, http.StatusTooManyRequests, "too many login attempts, try again later")
		return
	}

	hash := s.decoyHash
	u, err := s.store.UserByName(ctx, req.Username)
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, webapp.ErrNotFound):
		s.fail(w, r, err)
		return
	}
	match, verr := auth.Verify(hash, req.Password)
	if verr != nil {
		s.fail(w, r, verr)
		return
	}
	if err != nil || !match {
		s.log.WarnContext(ctx, "login failed", "user", req.Username, "remote", ip, "request_id", requestID(r))
		writeError(w, r, http.StatusUnauthorized, "invalid username or password")
		return
	}

	token, now := auth.NewToken(), s.now()
	sess := webapp.Session{TokenHash: auth.HashToken(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(ctx, "login succeeded", "user", u.Username, "remote", ip, "request_id", requestID(r))
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_at": sess.ExpiresAt.UTC()})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ webapp.User, tokenHash string) {
	if err := s.store.DeleteSession(r.Context(), tokenHash); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListItems(w http.ResponseWriter, r *http.Request, u webapp.User, _ string) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit", defaultPageSize, 1, maxPageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := intParam(q.Get("after"), "after", 0, 0, math.MaxInt64)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.store.Items(r.Context(), u.ID, after, int(limit))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

type createItemRequest struct {
	Name     string `json:"name"`
	Quantity *int64 `json:"quantity"`
}

func (s *Server) handleCreateItem(w http.ResponseWriter, r *http.Request, u webapp.User, _ string) {
	var req createItemRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Quantity == nil {
		s.fail(w, r, &webapp.ValidationError{Field: "quantity", Reason: "is required"})
		return
	}
	it := webapp.Item{OwnerID: u.ID, Name: strings.TrimSpace(req.Name), Quantity: *req.Quantity, CreatedAt: s.now()}
	if err := it.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	it, err := s.store.CreateItem(r.Context(), it)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/items/"+strconv.FormatInt(it.ID, 10))
	writeJSON(w, http.StatusCreated, it)
}

func (s *Server) handleGetItem(w http.ResponseWriter, r *http.Request, u webapp.User, _ string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, badRequest("id: must be a positive integer"))
		return
	}
	it, err := s.store.Item(r.Context(), u.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

// intParam parses an optional query parameter, which must lie in [lo, hi].
func intParam(v, name string, def, lo, hi int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(name + ": must be an integer from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10))
	}
	return n, nil
}
