package web

import (
	"net/http"
	"os/exec"
)

// Ping runs a shell with the host from the request: command injection.
func Ping(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	out, err := exec.CommandContext(r.Context(), "sh", "-c", "ping -c 1 "+host).Output() // want: G204 G702
	if err != nil {
		http.Error(w, "ping failed", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(out)
}

// Run runs the program named in the request: command injection.
func Run(w http.ResponseWriter, r *http.Request) {
	cmd := exec.Command(r.FormValue("tool")) // want: G204 G702
	if err := cmd.Run(); err != nil {
		http.Error(w, "failed", http.StatusInternalServerError)
	}
}

// Version runs a fixed program with constant arguments.
func Version(w http.ResponseWriter, r *http.Request) {
	out, err := exec.CommandContext(r.Context(), "git", "rev-parse", "HEAD").Output()
	if err != nil {
		http.Error(w, "no version", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(out)
}

// Status runs a fixed program with no input at all.
func Status() error {
	return exec.Command("uptime").Run()
}
