package auth

import "net/http"

// ContentSecurityPolicy is the policy of every page: everything from the
// server itself, no plugins, no framing, forms posting only back to it.
// The web UI keeps its scripts and styles in embedded files so that it
// needs no 'unsafe-inline'.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// HSTS is the Strict-Transport-Security value sent over TLS: two years.
const HSTS = "max-age=63072000; includeSubDomains"

// SecurityHeaders wraps next so that every response carries the security
// headers: Content-Security-Policy, X-Content-Type-Options,
// X-Frame-Options, Referrer-Policy, Cross-Origin-Opener-Policy, and
// Strict-Transport-Security when the request came over TLS. (Behind a
// proxy that terminates TLS, the proxy should send HSTS.) A handler may
// still replace one of them for its own response.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r)
	})
}
