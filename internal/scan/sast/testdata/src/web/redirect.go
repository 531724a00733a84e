package web

import (
	"net/http"
)

// Login sends the user wherever the request says: open redirect.
func Login(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, r.URL.Query().Get("next"), http.StatusFound) // want: G710
}

// Logout redirects to a fixed page.
func Logout(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/login", http.StatusFound)
}
