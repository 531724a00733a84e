// Package testsbad type-checks; only its tests do not.
package testsbad

import (
	"net/http"
	"os/exec"
)

// Run runs what the request names.
func Run(r *http.Request) error {
	return exec.Command(r.FormValue("cmd")).Run()
}
