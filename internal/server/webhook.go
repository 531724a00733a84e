package server

import (
	"cmp"
	"errors"
	"net/http"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/forge"
)

// webhook turns a forge's push or pull-request webhook into a run. The
// request is verified with the project's webhook secret before anything
// in it is believed; an unverified one is refused and recorded as a
// security event.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	refuse := func(err error) error {
		s.metrics.webhooks.WithLabelValues("refused").Inc()
		s.audit(ctx, &gantry.AuditEvent{Actor: "webhook", Action: "webhook.refused", Target: name, Outcome: "denied",
			Remote: remote(r), Detail: map[string]string{"reason": gantry.ErrorMessageOrText(err)}})
		return err
	}
	pr, err := s.opts.Store.Project(ctx, name)
	if errors.Is(err, gantry.ErrNotFound) {
		// The same answer as a bad signature: no one learns which
		// projects exist.
		return refuse(gantry.Errorf(gantry.EUnauthorized, "webhook not verified"))
	}
	if err != nil {
		return err
	}
	var secret []byte
	switch {
	case s.opts.WebhookSecret != nil:
		if secret, err = s.opts.WebhookSecret(ctx, name); err != nil && !errors.Is(err, gantry.ErrNotFound) {
			return err
		}
	case s.opts.Secrets != nil:
		v, err := s.opts.Secrets.Resolve(ctx, name, "", []string{WebhookSecretName})
		if err != nil && !errors.Is(err, gantry.ErrNotFound) {
			return err
		}
		secret = []byte(v[WebhookSecretName])
	}
	if len(secret) == 0 {
		return refuse(gantry.Errorf(gantry.EUnauthorized, "project %s has no webhook secret: set its secret %s", name, WebhookSecretName))
	}
	ev, err := forge.ParseWebhook(r, secret)
	switch {
	case errors.Is(err, forge.ErrUnsupportedEvent):
		s.metrics.webhooks.WithLabelValues("ignored").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": gantry.ErrorMessageOrText(err)})
		return nil
	case err != nil && (gantry.ErrorKind(err) == gantry.EUnauthorized || gantry.ErrorKind(err) == gantry.EInvalid):
		return refuse(err)
	case err != nil:
		return err
	}
	actor := "webhook:" + string(ev.Forge)
	if !ev.ShouldRun() {
		s.metrics.webhooks.WithLabelValues("ignored").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": "no change to run: " + ev.String()})
		return nil
	}
	t := gantry.Trigger{Event: string(ev.Kind), Branch: ev.Branch, Commit: ev.Commit, Changed: ev.Changed,
		Forge: string(ev.Forge), ForgeAPI: forgeAPI(ev.Forge, ev.Repo.CloneURL), Repo: ev.Repo.FullName,
		Actor: cmp.Or(ev.Author.Login, ev.Author.Name)}
	// What the forge says of the change; the agent adds its commits and
	// size from the checkout.
	seed := &gantry.Change{Author: t.Actor}
	if ev.Kind == forge.EventPullRequest && ev.PRNumber > 0 {
		t.PullRequest = ev.PRNumber
		seed.PullRequest = &gantry.PullRequest{Number: ev.PRNumber, URL: ev.PRURL, Base: ev.BaseBranch, Head: ev.Branch}
		seed.BaseBranch = ev.BaseBranch
	}
	run, err := s.trigger(ctx, gantry.NewRunID(s.opts.Now()), pr, t, nil, seed)
	s.audit(ctx, &gantry.AuditEvent{Actor: actor, Action: "run.trigger", Target: name, Outcome: outcome(err), Remote: remote(r),
		Detail: map[string]string{"event": string(ev.Kind), "branch": ev.Branch, "commit": ev.Commit, "author": ev.Author.Login}})
	if err != nil {
		return err
	}
	s.metrics.webhooks.WithLabelValues("accepted").Inc()
	s.reportStatus(ctx, run)
	writeJSON(w, http.StatusAccepted, run)
	return nil
}
