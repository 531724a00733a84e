package server

import (
	"io"
	"net/http"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/secrets"
)

// maxSecret bounds a secret's value in a request.
const maxSecret = secrets.MaxValueSize

func (s *Server) secretsOrUnavailable() (Secrets, error) {
	if s.opts.Secrets == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "this server keeps no secrets")
	}
	return s.opts.Secrets, nil
}

// listSecrets lists names, environments, who set them and when: never a
// value.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	if _, err := s.principal(r, project, ActSecretList); err != nil {
		return err
	}
	sec, err := s.secretsOrUnavailable()
	if err != nil {
		return err
	}
	infos, err := sec.List(r.Context(), project)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orEmpty(infos))
	return nil
}

// putSecret sets a secret's value from the request body (plain text);
// ?env= names an environment.
func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) error {
	project, name, env := r.PathValue("project"), r.PathValue("name"), r.URL.Query().Get("env")
	p, err := s.principal(r, project, ActSecretWrite)
	if err != nil {
		return err
	}
	sec, err := s.secretsOrUnavailable()
	if err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSecret+1))
	if err != nil {
		return gantry.Errorf(gantry.EInvalid, "secret %s: the value is over %d bytes", name, maxSecret)
	}
	value := strings.TrimSuffix(string(b), "\n")
	err = sec.Put(r.Context(), project, env, name, value, p.Name)
	s.audit(r.Context(), &gantry.AuditEvent{Actor: p.Name, Action: "secret.put", Target: project + "/" + name, Outcome: outcome(err),
		Remote: remote(r), Detail: map[string]string{"env": env}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	project, name, env := r.PathValue("project"), r.PathValue("name"), r.URL.Query().Get("env")
	p, err := s.principal(r, project, ActSecretDelete)
	if err != nil {
		return err
	}
	sec, err := s.secretsOrUnavailable()
	if err != nil {
		return err
	}
	err = sec.Delete(r.Context(), project, env, name)
	s.audit(r.Context(), &gantry.AuditEvent{Actor: p.Name, Action: "secret.delete", Target: project + "/" + name, Outcome: outcome(err),
		Remote: remote(r), Detail: map[string]string{"env": env}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
