package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"example.com/webapp"
	"example.com/webapp/auth"
)

type ctxKey int

const requestIDKey ctxKey = 0

// requestID returns the ID accessLog gave the request.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// remoteIP returns the peer's address. X-Forwarded-For is deliberately not
// trusted: a client can set it to anything.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog gives each request an ID and logs one line for it when it ends.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		b := make([]byte, 8)
		_, _ = rand.Read(b) // never fails
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.InfoContext(r.Context(), "request",
			"method", r.Method,
			"path", r.URL.Path,
			"status", sw.status,
			"duration_ms", float64(s.now().Sub(start).Microseconds())/1000,
			"bytes", sw.bytes,
			"remote", remoteIP(r),
			"user_agent", r.UserAgent(),
			"request_id", id,
		)
	})
}

// recoverPanic turns a panic in a handler into a logged 500.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", "value", v, "request_id", requestID(r))
			writeError(w, r, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets headers that keep browsers from doing anything clever
// with API responses.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// authedHandler is a handler that runs for a logged-in user.
type authedHandler func(w http.ResponseWriter, r *http.Request, u webapp.User, tokenHash string)

// authed requires a valid "Authorization: Bearer <token>" header.
func (s *Server) authed(next authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > auth.MaxTokenLen {
			unauthorized(w, r)
			return
		}
		tokenHash := auth.HashToken(token)
		u, err := s.store.SessionUser(r.Context(), tokenHash, s.now())
		if errors.Is(err, webapp.ErrNotFound) {
			unauthorized(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		next(w, r, u, tokenHash)
	}
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="webapp"`)
	writeError(w, r, http.StatusUnauthorized, "missing, invalid or expired bearer token")
}

// fail writes the response for err. Only errors meant for clients are shown
// to them; anything else is logged and reported as an internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var herr *httpError
	var verr *webapp.ValidationError
	switch {
	case errors.As(err, &herr):
		writeError(w, r, herr.status, herr.msg)
	case errors.As(err, &verr):
		writeError(w, r, http.StatusBadRequest, verr.Error())
	case errors.Is(err, webapp.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not found")
	default:
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", requestID(r))
		writeError(w, r, http.StatusInternalServerError, "internal error")
	}
}

// retryAfter is whole seconds, rounded up, for a Retry-After header.
func retryAfter(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
