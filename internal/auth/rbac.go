package auth

import (
	"slices"
	"sort"
	"strings"

	"gantry.dev/gantry"
)

// Action is something a principal may be allowed to do.
type Action string

// The actions. Project actions are checked against the principal's role
// in the project; the others say in Permissions who may do them.
const (
	ActionProjectRead   Action = "project.read"   // see a project, its runs' summaries
	ActionRunRead       Action = "run.read"       // see runs, logs, findings, artifacts, evidence
	ActionRunTrigger    Action = "run.trigger"    // start a run
	ActionRunCancel     Action = "run.cancel"     // stop a run
	ActionSecretList    Action = "secret.list"    // list secrets' names (never values)
	ActionSecretWrite   Action = "secret.write"   // set a secret's value
	ActionSecretDelete  Action = "secret.delete"  // delete a secret
	ActionChangeApprove Action = "change.approve" // approve a normal or urgent change
	ActionFindingWaive  Action = "finding.waive"  // waive a finding with a reason and an expiry
	ActionMemberManage  Action = "member.manage"  // grant and revoke roles in the project
	ActionProjectManage Action = "project.manage" // change the project's settings, delete it

	ActionProjectCreate Action = "project.create" // server admin
	ActionUserManage    Action = "user.manage"    // server admin: create, disable, reset users
	ActionAuditRead     Action = "audit.read"     // server admin
	ActionAgentManage   Action = "agent.manage"   // server admin: enrol agents, make agent tokens

	ActionTokenCreate   Action = "token.create"   // any user, for their own tokens
	ActionTokenDelete   Action = "token.delete"   // any user, for their own tokens
	ActionAccountManage Action = "account.manage" // any user: own password and two-factor

	ActionJobLease  Action = "job.lease"   // an agent, with an agent token
	ActionJobReport Action = "job.report"  // a job token, for its run: logs, results, artifacts
	ActionSecretUse Action = "secret.read" // a job token, for its run: a secret's value for a step
)

// Scope is what kind of action an API token may do. A token carries one
// or more; a session (a person in the web UI) has all but ScopeJob.
type Scope string

// The scopes.
const (
	ScopeRead  Scope = "read"  // read-only actions
	ScopeWrite Scope = "write" // state changes within projects: trigger, secrets, approvals
	ScopeAdmin Scope = "admin" // management: members, projects, users, agents, tokens, account
	ScopeJob   Scope = "job"   // agents and job tokens only
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeAdmin, ScopeJob}

// Who says which principals an action is for, besides its minimum role.
type Who string

// The kinds of principal an action can be for.
const (
	WhoMember      Who = "member"       // a user with at least Permission.Role in the project, or a server admin
	WhoServerAdmin Who = "server-admin" // a server admin only
	WhoUser        Who = "user"         // any signed-in user, acting on themselves
	WhoAgent       Who = "agent"        // an agent token
	WhoJob         Who = "job"          // a job token, for its own project and run
)

// Permission says who may do an action and with which token scope.
type Permission struct {
	Action Action
	Who    Who
	Role   gantry.Role // the minimum project role, for WhoMember
	Scope  Scope       // the scope a token needs
}

// Permissions is the permission table, by action. Anything not in it is
// denied.
var Permissions = map[Action]Permission{
	ActionProjectRead:   {ActionProjectRead, WhoMember, gantry.RoleViewer, ScopeRead},
	ActionRunRead:       {ActionRunRead, WhoMember, gantry.RoleViewer, ScopeRead},
	ActionRunTrigger:    {ActionRunTrigger, WhoMember, gantry.RoleDeveloper, ScopeWrite},
	ActionRunCancel:     {ActionRunCancel, WhoMember, gantry.RoleDeveloper, ScopeWrite},
	ActionSecretList:    {ActionSecretList, WhoMember, gantry.RoleDeveloper, ScopeRead},
	ActionSecretWrite:   {ActionSecretWrite, WhoMember, gantry.RoleDeveloper, ScopeWrite},
	ActionSecretDelete:  {ActionSecretDelete, WhoMember, gantry.RoleAdmin, ScopeWrite},
	ActionChangeApprove: {ActionChangeApprove, WhoMember, gantry.RoleApprover, ScopeWrite},
	ActionFindingWaive:  {ActionFindingWaive, WhoMember, gantry.RoleApprover, ScopeWrite},
	ActionMemberManage:  {ActionMemberManage, WhoMember, gantry.RoleAdmin, ScopeAdmin},
	ActionProjectManage: {ActionProjectManage, WhoMember, gantry.RoleAdmin, ScopeAdmin},

	ActionProjectCreate: {ActionProjectCreate, WhoServerAdmin, "", ScopeAdmin},
	ActionUserManage:    {ActionUserManage, WhoServerAdmin, "", ScopeAdmin},
	ActionAuditRead:     {ActionAuditRead, WhoServerAdmin, "", ScopeRead},
	ActionAgentManage:   {ActionAgentManage, WhoServerAdmin, "", ScopeAdmin},

	ActionTokenCreate:   {ActionTokenCreate, WhoUser, "", ScopeAdmin},
	ActionTokenDelete:   {ActionTokenDelete, WhoUser, "", ScopeAdmin},
	ActionAccountManage: {ActionAccountManage, WhoUser, "", ScopeAdmin},

	ActionJobLease:  {ActionJobLease, WhoAgent, "", ScopeJob},
	ActionJobReport: {ActionJobReport, WhoJob, "", ScopeJob},
	ActionSecretUse: {ActionSecretUse, WhoJob, "", ScopeJob},
}

// Actions lists every action in Permissions, sorted.
func Actions() []Action {
	out := make([]Action, 0, len(Permissions))
	for a := range Permissions {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Roles lists the project roles, least first.
var Roles = []gantry.Role{gantry.RoleViewer, gantry.RoleDeveloper, gantry.RoleApprover, gantry.RoleAdmin}

// RoleRank returns a role's place in Roles counting from 1, or 0 for no
// role or an unknown one.
func RoleRank(r gantry.Role) int {
	return slices.Index(Roles, r) + 1
}

// ValidRole reports whether r is one of Roles.
func ValidRole(r gantry.Role) bool { return RoleRank(r) > 0 }

// Principal is who a request acts for: a user (signed in with a session,
// or with one of their API tokens), an agent, or a job.
type Principal struct {
	Name        string                 // the user's name, or "agent:NAME"
	ServerAdmin bool                   // a server admin may do everything a user may, everywhere
	Roles       map[string]gantry.Role // the user's role per project
	// Token is the API token the request carried; nil for a session. Its
	// scopes, project and run limit what the principal may do.
	Token *gantry.Token
	// Stamp is the UserStamp of a user who signed in (with a password or
	// single sign-on), for Sessions.New; "" otherwise.
	Stamp string
}

// AgentPrefix starts the Token.User and Principal.Name of an agent.
const AgentPrefix = "agent:"

// IsAgent reports whether p is an agent or a job of an agent.
func (p *Principal) IsAgent() bool { return strings.HasPrefix(p.Name, AgentPrefix) }

// IsJob reports whether p carries a job token.
func (p *Principal) IsJob() bool { return p.Token != nil && p.Token.RunID != "" }

// Role returns p's role in project, "" for none.
func (p *Principal) Role(project string) gantry.Role {
	return p.Roles[project]
}

// HasScope reports whether p may do actions of scope s as far as its
// token goes; a session has every scope but ScopeJob.
func (p *Principal) HasScope(s Scope) bool {
	if p.Token == nil {
		return s != ScopeJob
	}
	return slices.Contains(p.Token.Scopes, string(s))
}

// Authorize returns nil when p may do action in project (project is ""
// for actions that are not about one project), or an error saying why
// not: EUnauthorized for no principal, EForbidden otherwise. Job actions
// are bound to a run and must be checked with AuthorizeRun.
func Authorize(p *Principal, project string, action Action) error {
	return authorize(p, project, "", action)
}

// AuthorizeRun is Authorize for an action on one run of project. A job
// token may act only on its own run.
func AuthorizeRun(p *Principal, project string, run gantry.RunID, action Action) error {
	if run == "" {
		return gantry.Errorf(gantry.EForbidden, "%s needs a run", action)
	}
	return authorize(p, project, run, action)
}

func authorize(p *Principal, project string, run gantry.RunID, action Action) error {
	if p == nil || p.Name == "" {
		return gantry.Errorf(gantry.EUnauthorized, "sign in to %s", action)
	}
	perm, ok := Permissions[action]
	if !ok {
		return gantry.Errorf(gantry.EForbidden, "%s may not %s: no such action", p.Name, action)
	}
	if !p.HasScope(perm.Scope) {
		return gantry.Errorf(gantry.EForbidden, "this token may not %s: it needs the %s scope", action, perm.Scope)
	}
	if t := p.Token; t != nil && t.Project != "" && t.Project != project {
		if project == "" {
			return gantry.Errorf(gantry.EForbidden, "this token is limited to project %s and may not %s", t.Project, action)
		}
		return gantry.Errorf(gantry.EForbidden, "this token is limited to project %s and may not %s in %s", t.Project, action, project)
	}
	// Job tokens do job actions and nothing else; agents likewise.
	if p.IsJob() != (perm.Who == WhoJob) {
		return gantry.Errorf(gantry.EForbidden, "%s may not %s", describe(p), action)
	}
	if p.IsAgent() && !p.IsJob() && perm.Who != WhoAgent {
		return gantry.Errorf(gantry.EForbidden, "%s may not %s", describe(p), action)
	}

	switch perm.Who {
	case WhoJob:
		if run == "" {
			return gantry.Errorf(gantry.EForbidden, "%s is bound to a run: it must be checked with its run", action)
		}
		if p.Token.RunID != run || p.Token.Project != project {
			return gantry.Errorf(gantry.EForbidden, "this job token is for run %s and may not %s for run %s", p.Token.RunID, action, run)
		}
		return nil
	case WhoAgent:
		if p.IsAgent() {
			return nil
		}
		return gantry.Errorf(gantry.EForbidden, "only agents may %s", action)
	case WhoUser:
		return nil
	case WhoServerAdmin:
		if p.ServerAdmin {
			return nil
		}
		return gantry.Errorf(gantry.EForbidden, "%s may not %s: it takes a server admin", p.Name, action)
	case WhoMember:
		if project == "" {
			return gantry.Errorf(gantry.EForbidden, "%s needs a project", action)
		}
		if p.ServerAdmin {
			return nil
		}
		have := p.Role(project)
		if RoleRank(have) >= RoleRank(perm.Role) && RoleRank(have) > 0 {
			return nil
		}
		if have == "" {
			return gantry.Errorf(gantry.EForbidden, "%s has no role in project %s and may not %s: it takes %s", p.Name, project, action, perm.Role)
		}
		return gantry.Errorf(gantry.EForbidden, "%s is %s in project %s and may not %s: it takes %s", p.Name, have, project, action, perm.Role)
	}
	return gantry.Errorf(gantry.EForbidden, "%s may not %s", p.Name, action)
}

func describe(p *Principal) string {
	switch {
	case p.IsJob():
		return "a job token"
	case p.IsAgent():
		return "an agent"
	}
	return p.Name
}
