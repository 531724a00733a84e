package web

import (
	"net/http"
)

// SetSession sets a session cookie without Secure, HttpOnly or SameSite.
func SetSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/"}) // want: G124
}

// SafeSetSession sets the session cookie with every protection.
func SafeSetSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
