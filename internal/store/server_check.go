package store

import (
	"strings"
	"time"
	"unicode/utf8"

	"gantry.dev/gantry"
)

// The checks of the server's records: projects, jobs, users, grants,
// tokens, audit events, secrets and agents. Every ServerStore calls them
// before it writes, so that all stores refuse the same input, with an
// EInvalid error, and store none of it.

// Name lengths. A project or environment name is a DNS label, so that it
// can name a namespace or a host; the others are bounded so that nothing
// unbounded is indexed.
const (
	MaxNameLen       = 63
	MaxUserNameLen   = 128
	MaxLabelLen      = 63
	MaxSecretNameLen = 256
	MaxKeyIDLen      = 64
	MaxIDLen         = 128
	MaxActorLen      = 256
)

// AgentActorPrefix starts the user of a token, and the actor of an audit
// event, that is an agent: "agent:NAME". User names cannot contain the
// colon, so no user can pass for an agent.
const AgentActorPrefix = "agent:"

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validWord reports whether s has 1 to max bytes, starts with a byte first
// accepts and goes on with bytes first or rest accept.
func validWord(s string, max int, first, rest func(c byte) bool) bool {
	if len(s) == 0 || len(s) > max || !first(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !first(c) && !rest(c) {
			return false
		}
	}
	return true
}

func in(set string) func(c byte) bool {
	return func(c byte) bool { return strings.IndexByte(set, c) >= 0 }
}

// The bytes that may follow the first of a name.
var (
	hyphen      = in("-")
	userRest    = in("._@+-")
	hostRest    = in("._-")
	labelRest   = in("._=:/-")
	actionRest  = func(c byte) bool { return isDigit(c) || hostRest(c) }
	graphic     = func(c byte) bool { return '!' <= c && c <= '~' }
	lowerDigit  = func(c byte) bool { return isLower(c) || isDigit(c) }
	letterOrUnd = func(c byte) bool { return isLower(c) || isUpper(c) || c == '_' }
)

// ValidName reports whether s is a project or environment name:
// [a-z0-9][a-z0-9-]*, at most 63 bytes.
func ValidName(s string) bool {
	return validWord(s, MaxNameLen, lowerDigit, hyphen)
}

// ValidUserName reports whether s is a user's login:
// [A-Za-z0-9][A-Za-z0-9._@+-]*, at most 128 bytes. An email address is
// one; nothing with a colon or a space is.
func ValidUserName(s string) bool {
	return validWord(s, MaxUserNameLen, isAlnum, userRest)
}

// ValidAgentName reports whether s names an agent:
// [A-Za-z0-9][A-Za-z0-9._-]*, at most 63 bytes; a host name is one.
func ValidAgentName(s string) bool {
	return validWord(s, MaxNameLen, isAlnum, hostRest)
}

// ValidLabel reports whether s is a job's or an agent's label:
// [A-Za-z0-9][A-Za-z0-9._=:/-]*, at most 63 bytes ("docker",
// "arch=arm64").
func ValidLabel(s string) bool {
	return validWord(s, MaxLabelLen, isAlnum, labelRest)
}

// ValidSecretName reports whether s names a secret: it becomes an
// environment variable, [A-Za-z_][A-Za-z0-9_]*, at most 256 bytes.
func ValidSecretName(s string) bool {
	return validWord(s, MaxSecretNameLen, letterOrUnd, isDigit)
}

// ValidKeyID reports whether s names a key-encryption key:
// [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 bytes, as internal/secrets
// names them.
func ValidKeyID(s string) bool {
	return validWord(s, MaxKeyIDLen, isAlnum, hostRest)
}

// ValidID reports whether s is a job or token ID: 1 to 128 bytes of
// printable ASCII other than the space.
func ValidID(s string) bool {
	return validWord(s, MaxIDLen, graphic, graphic)
}

// ValidTokenHash reports whether s is a token's hash: 64 lowercase hex
// digits, a SHA-256 (one secret, one spelling).
func ValidTokenHash(s string) bool {
	return len(s) == 64 && validWord(s, 64, isHex, isHex)
}

// ValidRole reports whether r is one of the four roles.
func ValidRole(r gantry.Role) bool {
	switch r {
	case gantry.RoleViewer, gantry.RoleDeveloper, gantry.RoleApprover, gantry.RoleAdmin:
		return true
	}
	return false
}

// ValidJobStatus reports whether s is one of the job statuses.
func ValidJobStatus(s gantry.JobStatus) bool {
	switch s {
	case gantry.JobQueued, gantry.JobLeased, gantry.JobFinished:
		return true
	}
	return false
}

// The outcomes of audit events.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// ValidAuditAction reports whether s is an audit event's action:
// [a-z][a-z0-9._-]*, at most 63 bytes ("login.failed").
func ValidAuditAction(s string) bool {
	return validWord(s, MaxNameLen, isLower, actionRest)
}

// ValidActor reports whether s may be an audit event's actor: 1 to 256
// bytes without control characters ("alice", "agent:build-1",
// "webhook:github", "anonymous").
func ValidActor(s string) bool {
	return len(s) > 0 && len(s) <= MaxActorLen && printable(s)
}

func isAlnum(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) }
func isHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' }

// validText reports whether s is text every store keeps as it is: UTF-8
// without NUL (PostgreSQL's text refuses both).
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// printable reports whether s is valid text without ASCII control
// characters: a name, a URL, an address.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

func checkLabels(what string, labels []string) error {
	for _, l := range labels {
		if !ValidLabel(l) {
			return gantry.Errorf(gantry.EInvalid, "%s: malformed label %q", what, l)
		}
	}
	return nil
}

// CheckProject returns an EInvalid error when p cannot be stored: it needs
// a valid name and a creation time; protected branch patterns are not
// empty; its change configuration is text (CheckProjectChanges).
func CheckProject(p *gantry.Project) error {
	switch {
	case p == nil:
		return gantry.Errorf(gantry.EInvalid, "no project given")
	case !ValidName(p.Name):
		return gantry.Errorf(gantry.EInvalid, "project name %q: use lowercase letters, digits and '-', at most %d", p.Name, MaxNameLen)
	case !printable(p.RepoURL) || !printable(p.DefaultBranch) || !printable(p.PipelinePath):
		return gantry.Errorf(gantry.EInvalid, "project %s: control characters or invalid UTF-8 in its repository URL, branch or pipeline path", p.Name)
	case p.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "project %s has no creation time", p.Name)
	}
	for _, b := range p.ProtectedBranches {
		if b == "" || !printable(b) {
			return gantry.Errorf(gantry.EInvalid, "project %s: malformed protected branch pattern %q", p.Name, b)
		}
	}
	if err := CheckProjectChanges(p); err != nil {
		return err
	}
	return checkTimes("project "+p.Name, p.CreatedAt)
}

// CheckNewJob returns an EInvalid error when j cannot be queued: it needs
// an ID, a run, a project and a creation time, valid labels, and nothing
// of a lease (Status "" or queued, no agent, no lease, no attempt, not
// finished).
func CheckNewJob(j *gantry.Job) error {
	switch {
	case j == nil:
		return gantry.Errorf(gantry.EInvalid, "no job given")
	case !ValidID(string(j.ID)):
		return gantry.Errorf(gantry.EInvalid, "malformed job id %q", j.ID)
	case j.RunID == "" || !printable(string(j.RunID)):
		return gantry.Errorf(gantry.EInvalid, "job %s: malformed run id %q", j.ID, j.RunID)
	case !ValidName(j.Project):
		return gantry.Errorf(gantry.EInvalid, "job %s: malformed project name %q", j.ID, j.Project)
	case j.Status != "" && j.Status != gantry.JobQueued:
		return gantry.Errorf(gantry.EInvalid, "job %s: a new job is queued, not %q", j.ID, j.Status)
	case j.Agent != "" || !j.LeaseExpires.IsZero() || j.Attempts != 0 || !j.FinishedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "job %s: a new job has no agent, lease, attempt or finish time", j.ID)
	case j.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "job %s has no creation time", j.ID)
	}
	if err := checkLabels("job "+string(j.ID), j.Labels); err != nil {
		return err
	}
	return checkTimes("job "+string(j.ID), j.CreatedAt)
}

// CheckLease returns an EInvalid error when agent cannot lease a job with
// these arguments; otherwise it returns when the lease expires, now+ttl.
func CheckLease(agent string, labels []string, now time.Time, ttl time.Duration) (time.Time, error) {
	switch {
	case !ValidAgentName(agent):
		return time.Time{}, gantry.Errorf(gantry.EInvalid, "lease job: malformed agent name %q", agent)
	case now.IsZero():
		return time.Time{}, gantry.Errorf(gantry.EInvalid, "lease job for %s: no time given", agent)
	case ttl <= 0:
		return time.Time{}, gantry.Errorf(gantry.EInvalid, "lease job for %s: lease of %v, want more than 0", agent, ttl)
	}
	if err := checkLabels("agent "+agent, labels); err != nil {
		return time.Time{}, err
	}
	until := now.Add(ttl)
	if err := checkTimes("lease job for "+agent, now, until); err != nil {
		return time.Time{}, err
	}
	return until, nil
}

// CheckHolder returns an EInvalid error when agent cannot hold job id
// until t (RenewLease, FinishJob).
func CheckHolder(id gantry.JobID, agent string, t time.Time) error {
	switch {
	case id == "":
		return gantry.Errorf(gantry.EInvalid, "no job id given")
	case !ValidAgentName(agent):
		return gantry.Errorf(gantry.EInvalid, "job %s: malformed agent name %q", id, agent)
	case t.IsZero():
		return gantry.Errorf(gantry.EInvalid, "job %s: no time given", id)
	}
	return checkTimes("job "+string(id), t)
}

// CheckJobFilter returns an EInvalid error when f cannot be used.
func CheckJobFilter(f gantry.JobFilter) error {
	switch {
	case f.Limit < 0:
		return gantry.Errorf(gantry.EInvalid, "list jobs: negative limit %d", f.Limit)
	case f.Status != "" && !ValidJobStatus(f.Status):
		return gantry.Errorf(gantry.EInvalid, "list jobs: unknown status %q", f.Status)
	}
	return nil
}

// CheckUser returns an EInvalid error when u cannot be stored.
func CheckUser(u *gantry.User) error {
	switch {
	case u == nil:
		return gantry.Errorf(gantry.EInvalid, "no user given")
	case !ValidUserName(u.Name):
		return gantry.Errorf(gantry.EInvalid, "user name %q: use letters, digits and . _ @ + -, at most %d", u.Name, MaxUserNameLen)
	case !printable(u.Email) || !printable(u.PasswordHash):
		return gantry.Errorf(gantry.EInvalid, "user %s: control characters or invalid UTF-8 in the email or password hash", u.Name)
	case u.FailedLogins < 0:
		return gantry.Errorf(gantry.EInvalid, "user %s: negative failed logins", u.Name)
	case u.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "user %s has no creation time", u.Name)
	}
	return checkTimes("user "+u.Name, u.LockedUntil, u.CreatedAt)
}

// CheckGrant returns an EInvalid error when g cannot be put. An empty Role
// is valid: it removes the grant.
func CheckGrant(g gantry.Grant) error {
	switch {
	case !ValidUserName(g.User):
		return gantry.Errorf(gantry.EInvalid, "grant: malformed user name %q", g.User)
	case !ValidName(g.Project):
		return gantry.Errorf(gantry.EInvalid, "grant to %s: malformed project name %q", g.User, g.Project)
	case g.Role != "" && !ValidRole(g.Role):
		return gantry.Errorf(gantry.EInvalid, "grant to %s in %s: unknown role %q", g.User, g.Project, g.Role)
	}
	return nil
}

// CheckGrantsQuery returns an EInvalid error when Grants(user, project)
// asks for nothing.
func CheckGrantsQuery(user, project string) error {
	if user == "" && project == "" {
		return gantry.Errorf(gantry.EInvalid, "list grants: give a user or a project")
	}
	return nil
}

// ValidTokenUser reports whether s is whom a token acts for: a user name,
// or "agent:" and an agent name.
func ValidTokenUser(s string) bool {
	if name, ok := strings.CutPrefix(s, AgentActorPrefix); ok {
		return ValidAgentName(name)
	}
	return ValidUserName(s)
}

// CheckToken returns an EInvalid error when t cannot be stored.
func CheckToken(t *gantry.Token) error {
	switch {
	case t == nil:
		return gantry.Errorf(gantry.EInvalid, "no token given")
	case !ValidID(t.ID):
		return gantry.Errorf(gantry.EInvalid, "malformed token id %q", t.ID)
	case !ValidTokenHash(t.Hash):
		return gantry.Errorf(gantry.EInvalid, "token %s: hash is not 64 lowercase hex digits", t.ID)
	case !ValidTokenUser(t.User):
		return gantry.Errorf(gantry.EInvalid, "token %s: malformed user %q", t.ID, t.User)
	case !printable(t.Name):
		return gantry.Errorf(gantry.EInvalid, "token %s: control characters or invalid UTF-8 in its name", t.ID)
	case t.Project != "" && !ValidName(t.Project):
		return gantry.Errorf(gantry.EInvalid, "token %s: malformed project name %q", t.ID, t.Project)
	case !printable(string(t.RunID)):
		return gantry.Errorf(gantry.EInvalid, "token %s: malformed run id %q", t.ID, t.RunID)
	case t.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "token %s has no creation time", t.ID)
	}
	for _, sc := range t.Scopes {
		if !ValidID(sc) {
			return gantry.Errorf(gantry.EInvalid, "token %s: malformed scope %q", t.ID, sc)
		}
	}
	return checkTimes("token "+t.ID, t.ExpiresAt, t.CreatedAt)
}

// CheckAuditEvent returns an EInvalid error when e cannot be appended: it
// needs a time, an actor, an action and an outcome of success, failure or
// denied. Its ID and LedgerIndex are the store's to set.
func CheckAuditEvent(e *gantry.AuditEvent) error {
	switch {
	case e == nil:
		return gantry.Errorf(gantry.EInvalid, "no audit event given")
	case e.Time.IsZero():
		return gantry.Errorf(gantry.EInvalid, "audit event %s has no time", e.Action)
	case !ValidActor(e.Actor):
		return gantry.Errorf(gantry.EInvalid, "audit event %s: malformed actor %q", e.Action, e.Actor)
	case !ValidAuditAction(e.Action):
		return gantry.Errorf(gantry.EInvalid, "malformed audit action %q", e.Action)
	case e.Outcome != OutcomeSuccess && e.Outcome != OutcomeFailure && e.Outcome != OutcomeDenied:
		return gantry.Errorf(gantry.EInvalid, "audit event %s: outcome %q is not success, failure or denied", e.Action, e.Outcome)
	case !validText(e.Target) || !validText(e.Remote):
		return gantry.Errorf(gantry.EInvalid, "audit event %s: target or remote address is not UTF-8 text without NUL", e.Action)
	}
	for k, v := range e.Detail {
		if !validText(k) || !validText(v) {
			return gantry.Errorf(gantry.EInvalid, "audit event %s: detail %q is not UTF-8 text without NUL", e.Action, k)
		}
	}
	return checkTimes("audit event "+e.Action, e.Time)
}

// CheckAuditFilter returns an EInvalid error when f cannot be used.
func CheckAuditFilter(f gantry.AuditFilter) error {
	if f.Limit < 0 {
		return gantry.Errorf(gantry.EInvalid, "list audit events: negative limit %d", f.Limit)
	}
	return nil
}

// CheckSecretKey returns an EInvalid error when (project, env, name)
// cannot name a secret: env is "" (every environment) or a name.
func CheckSecretKey(project, env, name string) error {
	switch {
	case !ValidName(project):
		return gantry.Errorf(gantry.EInvalid, "secret %s: malformed project name %q", name, project)
	case env != "" && !ValidName(env):
		return gantry.Errorf(gantry.EInvalid, "secret %s: malformed environment name %q", name, env)
	case !ValidSecretName(name):
		return gantry.Errorf(gantry.EInvalid, "secret name %q must match [A-Za-z_][A-Za-z0-9_]*", name)
	}
	return nil
}

// CheckSecret returns an EInvalid error when s cannot be stored: besides
// its key it needs a ciphertext, the ID of the key that sealed it, and
// when and by whom it was written.
func CheckSecret(s *gantry.SecretRecord) error {
	if s == nil {
		return gantry.Errorf(gantry.EInvalid, "no secret given")
	}
	if err := CheckSecretKey(s.Project, s.Env, s.Name); err != nil {
		return err
	}
	switch {
	case len(s.Ciphertext) == 0:
		return gantry.Errorf(gantry.EInvalid, "secret %s has no ciphertext", s.Name)
	case !ValidKeyID(s.KeyID):
		return gantry.Errorf(gantry.EInvalid, "secret %s: malformed key id %q", s.Name, s.KeyID)
	case s.UpdatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "secret %s has no update time", s.Name)
	case !ValidActor(s.UpdatedBy):
		return gantry.Errorf(gantry.EInvalid, "secret %s: malformed updater %q", s.Name, s.UpdatedBy)
	}
	return checkTimes("secret "+s.Name, s.UpdatedAt)
}

// CheckAgent returns an EInvalid error when a cannot be stored.
func CheckAgent(a *gantry.Agent) error {
	switch {
	case a == nil:
		return gantry.Errorf(gantry.EInvalid, "no agent given")
	case !ValidAgentName(a.Name):
		return gantry.Errorf(gantry.EInvalid, "agent name %q: use letters, digits and . _ -, at most %d", a.Name, MaxNameLen)
	case a.Concurrency < 0:
		return gantry.Errorf(gantry.EInvalid, "agent %s: negative concurrency", a.Name)
	case a.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "agent %s has no creation time", a.Name)
	}
	if err := checkLabels("agent "+a.Name, a.Labels); err != nil {
		return err
	}
	return checkTimes("agent "+a.Name, a.LastSeen, a.CreatedAt)
}
