package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// subjects of the authorization matrix, each acting on project "web".
var subjects = []string{"none", "viewer", "developer", "approver", "admin", "server-admin", "agent", "job"}

func subject(name string) *Principal {
	switch name {
	case "none":
		return &Principal{Name: "nobody", Roles: map[string]gantry.Role{"other": gantry.RoleAdmin}}
	case "server-admin":
		return &Principal{Name: "root", ServerAdmin: true}
	case "agent":
		return &Principal{Name: "agent:a1", Token: &gantry.Token{User: "agent:a1", Scopes: []string{"job"}}}
	case "job":
		return &Principal{Name: "agent:a1", Token: &gantry.Token{User: "agent:a1", Scopes: []string{"job"}, Project: "web", RunID: "r1"}}
	}
	return &Principal{Name: "u-" + name, Roles: map[string]gantry.Role{"web": gantry.Role(name)}}
}

// allowed is the whole matrix written out by hand, action by action, so
// that a change to Permissions is a change to this test too.
var allowed = map[Action]string{
	ActionProjectRead:   "viewer developer approver admin server-admin",
	ActionRunRead:       "viewer developer approver admin server-admin",
	ActionRunTrigger:    "developer approver admin server-admin",
	ActionRunCancel:     "developer approver admin server-admin",
	ActionSecretList:    "developer approver admin server-admin",
	ActionSecretWrite:   "developer approver admin server-admin",
	ActionSecretDelete:  "admin server-admin",
	ActionChangeApprove: "approver admin server-admin",
	ActionFindingWaive:  "approver admin server-admin",
	ActionMemberManage:  "admin server-admin",
	ActionProjectManage: "admin server-admin",
	ActionProjectCreate: "server-admin",
	ActionUserManage:    "server-admin",
	ActionAuditRead:     "server-admin",
	ActionAgentManage:   "server-admin",
	ActionTokenCreate:   "none viewer developer approver admin server-admin",
	ActionTokenDelete:   "none viewer developer approver admin server-admin",
	ActionAccountManage: "none viewer developer approver admin server-admin",
	ActionJobLease:      "agent",
	ActionJobReport:     "job",
	ActionSecretUse:     "job",
}

func TestAuthorizeMatrix(t *testing.T) {
	if len(allowed) != len(Permissions) {
		t.Fatalf("the matrix has %d actions and Permissions %d: write the new action's row", len(allowed), len(Permissions))
	}
	for _, action := range Actions() {
		row, ok := allowed[action]
		if !ok {
			t.Errorf("action %s is not in the matrix", action)
			continue
		}
		want := map[string]bool{}
		for _, s := range strings.Fields(row) {
			want[s] = true
		}
		for _, s := range subjects {
			perm := Permissions[action]
			project := "web"
			if perm.Who != WhoMember && perm.Who != WhoJob {
				project = ""
			}
			var err error
			if perm.Who == WhoJob {
				err = AuthorizeRun(subject(s), project, "r1", action)
			} else {
				err = Authorize(subject(s), project, action)
			}
			if got := err == nil; got != want[s] {
				t.Errorf("%s by %s: allowed = %v, want %v (%v)", action, s, got, want[s], err)
			}
			if err != nil {
				wantKind(t, err, gantry.EForbidden)
			}
		}
	}
}

func TestAuthorizeNoPrincipal(t *testing.T) {
	for _, a := range Actions() {
		wantKind(t, Authorize(nil, "web", a), gantry.EUnauthorized)
	}
	wantKind(t, Authorize(subject("admin"), "web", "run.delete-everything"), gantry.EForbidden)
}

func TestAuthorizeMessages(t *testing.T) {
	for _, tc := range []struct {
		p       *Principal
		project string
		action  Action
		want    string
	}{
		{subject("viewer"), "web", ActionRunTrigger, "u-viewer is viewer in project web and may not run.trigger: it takes developer"},
		{subject("none"), "web", ActionRunRead, "nobody has no role in project web and may not run.read: it takes viewer"},
		{subject("admin"), "", ActionUserManage, "u-admin may not user.manage: it takes a server admin"},
		{subject("admin"), "", ActionRunRead, "run.read needs a project"},
		{subject("job"), "web", ActionJobReport, "job.report is bound to a run"},
	} {
		err := Authorize(tc.p, tc.project, tc.action)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Authorize(%s, %q, %s) = %v, want %q", tc.p.Name, tc.project, tc.action, err, tc.want)
		}
	}
}

// TestLeastPrivilege: a user with no grant may do nothing in any project.
func TestLeastPrivilege(t *testing.T) {
	p := &Principal{Name: "newcomer"}
	for _, a := range Actions() {
		if perm := Permissions[a]; perm.Who == WhoMember {
			if err := Authorize(p, "web", a); err == nil {
				t.Errorf("a new user may %s", a)
			}
		}
	}
}

func TestTokenScopesLimit(t *testing.T) {
	admin := func(scopes ...string) *Principal {
		return &Principal{Name: "ann", ServerAdmin: true, Roles: map[string]gantry.Role{"web": gantry.RoleAdmin},
			Token: &gantry.Token{User: "ann", Scopes: scopes, ExpiresAt: time.Now().Add(time.Hour)}}
	}
	for _, a := range Actions() {
		perm := Permissions[a]
		if perm.Who == WhoJob || perm.Who == WhoAgent {
			continue
		}
		project := ""
		if perm.Who == WhoMember {
			project = "web"
		}
		for _, sc := range []Scope{ScopeRead, ScopeWrite, ScopeAdmin} {
			err := Authorize(admin(string(sc)), project, a)
			if want := sc == perm.Scope; (err == nil) != want {
				t.Errorf("%s with a %s token: err = %v, want allowed %v", a, sc, err, want)
			}
		}
		if err := Authorize(admin("read", "write", "admin"), project, a); err != nil {
			t.Errorf("%s with every user scope: %v", a, err)
		}
		if err := Authorize(admin(), project, a); err == nil {
			t.Errorf("%s with a token of no scope was allowed", a)
		}
	}
}

func TestProjectToken(t *testing.T) {
	p := &Principal{Name: "dev", Roles: map[string]gantry.Role{"web": gantry.RoleDeveloper, "api": gantry.RoleDeveloper},
		Token: &gantry.Token{User: "dev", Scopes: []string{"read", "write", "admin"}, Project: "web"}}
	if err := Authorize(p, "web", ActionRunTrigger); err != nil {
		t.Errorf("project token in its project: %v", err)
	}
	for _, tc := range []struct {
		project string
		action  Action
	}{{"api", ActionRunTrigger}, {"api", ActionRunRead}, {"", ActionTokenCreate}, {"", ActionAccountManage}} {
		if err := Authorize(p, tc.project, tc.action); err == nil || !strings.Contains(err.Error(), "limited to project web") {
			t.Errorf("project token, %s in %q: err = %v", tc.action, tc.project, err)
		}
	}
}

func TestJobTokenBoundToRun(t *testing.T) {
	job := subject("job")
	if err := AuthorizeRun(job, "web", "r1", ActionJobReport); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		project string
		run     gantry.RunID
		action  Action
	}{
		{"web", "r2", ActionJobReport},
		{"web", "r2", ActionSecretUse},
		{"api", "r1", ActionJobReport},
		{"web", "", ActionJobReport},
		{"web", "r1", ActionRunRead},
		{"web", "r1", ActionJobLease},
	} {
		if err := AuthorizeRun(job, tc.project, tc.run, tc.action); err == nil {
			t.Errorf("job token for web/r1 may %s on %s/%s", tc.action, tc.project, tc.run)
		}
	}
	// A person with every role cannot use a job's powers.
	if err := AuthorizeRun(subject("server-admin"), "web", "r1", ActionSecretUse); err == nil {
		t.Error("a server admin may read a secret's value")
	}
}

func TestRoleRank(t *testing.T) {
	for i, r := range Roles {
		if RoleRank(r) != i+1 {
			t.Errorf("RoleRank(%s) = %d", r, RoleRank(r))
		}
	}
	for _, r := range []gantry.Role{"", "owner", "Admin"} {
		if RoleRank(r) != 0 || ValidRole(r) {
			t.Errorf("role %q is ranked", r)
		}
	}
}

func ExampleAuthorize() {
	p := &Principal{Name: "dana", Roles: map[string]gantry.Role{"web": gantry.RoleDeveloper}}
	fmt.Println(Authorize(p, "web", ActionRunTrigger))
	fmt.Println(Authorize(p, "web", ActionMemberManage))
	// Output:
	// <nil>
	// dana is developer in project web and may not member.manage: it takes admin
}
