package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/evidence"
)

// The principals of the authorization matrix, in the order of its
// columns.
const (
	pAnonymous    = iota // no credentials
	pRevoked             // a token that was deleted
	pNoGrant             // a user with no role anywhere
	pViewer              // viewer of shop
	pDeveloper           // developer of shop
	pApprover            // approver of shop
	pProjectAdmin        // admin of shop
	pServerAdmin         // a server admin
	pAgent               // an enrolled agent's own token
	pOtherJob            // the job token of a run of another project
	pOwnJob              // the job token of the run in the path
	nPrincipals
)

var principalNames = [nPrincipals]string{"anonymous", "revoked", "no-grant", "viewer", "developer", "approver", "project-admin", "server-admin", "agent", "other-job", "own-job"}

// authzTable is what each principal gets from each route, written out by
// hand (not derived from internal/auth's permission table): "ok" is any
// answer but 401 and 403, otherwise the exact denial. A route with several
// cases has one line per case, its path suffixed with #case.
const authzTable = `
# route                                                 anon revkd nogrt viewr devlp apprv padmn sadmn agent ojob  own
GET    /api/v1/projects                                 401  401   ok    ok    ok    ok    ok    ok    403   403   403
POST   /api/v1/projects#existing                        401  401   403   403   403   403   ok    ok    403   403   403
POST   /api/v1/projects#new                             401  401   403   403   403   403   403   ok    403   403   403
GET    /api/v1/projects/{project}                       401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/projects/{project}/runs                  401  401   403   ok    ok    ok    ok    ok    403   403   403
POST   /api/v1/projects/{project}/runs                  401  401   403   403   ok    ok    ok    ok    403   403   403
GET    /api/v1/runs/{run}                               401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/runs/{run}/steps                         401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/runs/{run}/logs                          401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/runs/{run}/events                        401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/runs/{run}/findings                      401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/runs/{run}/attestations                  401  401   403   ok    ok    ok    ok    ok    403   403   403
# Developers list and set secrets; only admins delete them.
GET    /api/v1/projects/{project}/secrets               401  401   403   403   ok    ok    ok    ok    403   403   403
PUT    /api/v1/projects/{project}/secrets/{name}        401  401   403   403   ok    ok    ok    ok    403   403   403
DELETE /api/v1/projects/{project}/secrets/{name}        401  401   403   403   403   403   ok    ok    403   403   403
GET    /api/v1/audit                                    401  401   403   403   403   403   403   ok    403   403   403
# A webhook is verified by its signature: no bearer token stands in for one.
POST   /api/v1/hooks/{project}                          401  401   401   401   401   401   401   401   401   401   401
# Approvers approve changes; everyone in the project reads them and their
# report.
GET    /api/v1/projects/{project}/changes               401  401   403   ok    ok    ok    ok    ok    403   403   403
GET    /api/v1/projects/{project}/changes/{change}      401  401   403   ok    ok    ok    ok    ok    403   403   403
POST   /api/v1/projects/{project}/changes/{change}/approvals 401 401 403 403  403   ok    ok    ok    403   403   403
GET    /api/v1/projects/{project}/report                401  401   403   ok    ok    ok    ok    ok    403   403   403
POST   /api/v1/agents                                   401  401   403   403   403   403   403   ok    403   403   403
# The agent's own token leases and holds jobs; nothing else does.
POST   /api/v1/agent/lease                              401  401   403   403   403   403   403   403   ok    403   403
POST   /api/v1/agent/jobs/{job}/heartbeat               401  401   403   403   403   403   403   403   ok    403   403
POST   /api/v1/agent/jobs/{job}/finish                  401  401   403   403   403   403   403   403   ok    403   403
# A job token acts on its own run only; no user, not even a server admin,
# reports for a run.
POST   /api/v1/agent/runs/{run}/start                   401  401   403   403   403   403   403   403   403   403   ok
PUT    /api/v1/agent/runs/{run}                         401  401   403   403   403   403   403   403   403   403   ok
PUT    /api/v1/agent/runs/{run}/stages                  401  401   403   403   403   403   403   403   403   403   ok
PUT    /api/v1/agent/runs/{run}/steps                   401  401   403   403   403   403   403   403   403   403   ok
POST   /api/v1/agent/runs/{run}/logs                    401  401   403   403   403   403   403   403   403   403   ok
PUT    /api/v1/agent/runs/{run}/findings                401  401   403   403   403   403   403   403   403   403   ok
GET    /api/v1/agent/runs/{run}/findings                401  401   403   403   403   403   403   403   403   403   ok
GET    /api/v1/agent/runs/{run}                         401  401   403   403   403   403   403   403   403   403   ok
GET    /api/v1/agent/runs/{run}/steps                   401  401   403   403   403   403   403   403   403   403   ok
GET    /api/v1/agent/runs/{run}/attestations            401  401   403   403   403   403   403   403   403   403   ok
POST   /api/v1/agent/runs/{run}/attestations            401  401   403   403   403   403   403   403   403   403   ok
POST   /api/v1/agent/runs/{run}/seal                    401  401   403   403   403   403   403   403   403   403   ok
POST   /api/v1/agent/runs/{run}/secrets                 401  401   403   403   403   403   403   403   403   403   ok
GET    /api/v1/agent/runs/{run}/change                  401  401   403   403   403   403   403   403   403   403   ok
PUT    /api/v1/agent/runs/{run}/change                  401  401   403   403   403   403   403   403   403   403   ok
# Any job may upload (a blob is named by its content); a job reads only
# the artifacts of its own run.
PUT    /api/v1/agent/blobs/{digest}                     401  401   403   403   403   403   403   403   403   ok    ok
GET    /api/v1/agent/blobs/{digest}                     401  401   403   403   403   403   403   403   403   403   ok
`

// authzExpect parses authzTable: the expectations of each case, by
// "METHOD /path#case".
func authzExpect(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for i, line := range strings.Split(authzTable, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 2+nPrincipals {
			t.Fatalf("authzTable line %d: %d fields, want a method, a path and %d expectations", i, len(fields), nPrincipals)
		}
		key := fields[0] + " " + fields[1]
		if out[key] != nil {
			t.Fatalf("authzTable line %d: %s again", i, key)
		}
		for _, w := range fields[2:] {
			if w != "ok" && w != "401" && w != "403" {
				t.Fatalf("authzTable line %d: expectation %q is not ok, 401 or 403", i, w)
			}
		}
		out[key] = fields[2:]
	}
	return out
}

// authzCase is one request of the matrix, made by each principal.
type authzCase struct {
	key         string // its line in authzTable: "METHOD /path#case"
	method      string
	path        string
	contentType string
	body        []byte
}

// authzFixture is the world the matrix runs in: project shop, its users,
// an agent holding jobs of real runs, and an artifact of one of them.
type authzFixture struct {
	s       *stack
	tokens  [nPrincipals]string
	run     gantry.RunID // a run of shop, held by the agent; own-job's run
	job     gantry.JobID // another job of shop the agent holds
	blob    []byte       // an output of run
	change  string       // a change of shop, by none of the principals
	commit  string       // the head commit of repoURL
	repoURL string
	pubPEM  string
}

func TestAuthorizationMatrix(t *testing.T) {
	expect := authzExpect(t)
	f := newAuthzFixture(t)
	cases := f.cases()

	// Every route the server registers is in the table, and the table
	// names no route the server lacks: a new route cannot go untested.
	routes := f.s.srv.Routes()
	covered := map[string]bool{}
	for key := range expect {
		route, _, _ := strings.Cut(key, "#")
		covered[route] = true
		if !slices.Contains(routes, route) {
			t.Errorf("the matrix expects route %s, which the server does not register", route)
		}
	}
	for _, r := range routes {
		if !covered[r] {
			t.Errorf("route %s is not in the authorization matrix: add its line to authzTable", r)
		}
	}
	requested := map[string]bool{}
	for _, c := range cases {
		requested[c.key] = true
	}
	for key := range expect {
		if !requested[key] {
			t.Errorf("no request for %s: add it to authzFixture.cases", key)
		}
	}

	cells := 0
	for _, c := range cases {
		want := expect[c.key]
		if want == nil {
			t.Fatalf("case %s is not in authzTable", c.key)
		}
		for p := range nPrincipals {
			cells++
			code, body := f.do(c, f.tokens[p])
			got := "ok"
			if code == http.StatusUnauthorized || code == http.StatusForbidden {
				got = fmt.Sprint(code)
			}
			if got != want[p] {
				t.Errorf("%s %s as %s: %d %s, want %s", c.method, c.path, principalNames[p], code, bytes.TrimSpace(body), want[p])
			}
		}
	}
	t.Logf("%d routes, %d cases, %d principals: %d cells", len(routes), len(cases), nPrincipals, cells)

	// The project list a user may get shows only the projects they may
	// read: nothing to a user with no grant.
	for p, want := range map[int]string{pNoGrant: "", pViewer: "shop", pProjectAdmin: "shop", pServerAdmin: "fresh other shop"} {
		code, body := f.s.call("GET", "/api/v1/projects", f.tokens[p], nil)
		var list []gantry.Project
		if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("list projects as %s: %d %s", principalNames[p], code, body)
		}
		var names []string
		for _, pr := range list {
			names = append(names, pr.Name)
		}
		slices.Sort(names)
		if got := strings.Join(names, " "); got != want {
			t.Errorf("projects listed to %s: %q, want %q", principalNames[p], got, want)
		}
	}
}

// TestAnonymousIs401BeforeAnythingElse sends every route a request with
// no credentials and a body that does not parse: the answer is 401, not
// a complaint about the body or a sign that the object exists.
func TestAnonymousIs401BeforeAnythingElse(t *testing.T) {
	f := newAuthzFixture(t)
	for _, c := range f.cases() {
		c.body, c.contentType = []byte("{"), "application/json"
		if code, body := f.do(c, ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s anonymously with a broken body: %d %s, want 401", c.method, c.path, code, bytes.TrimSpace(body))
		}
	}
}

func newAuthzFixture(t *testing.T) *authzFixture {
	t.Helper()
	ctx := context.Background()
	s := newStack(t)
	f := &authzFixture{s: s}
	f.repoURL, f.commit = repo(t, pipeline)
	for _, name := range []string{"shop", "other"} {
		if code, body := s.call("POST", "/api/v1/projects", s.adminToken, gantry.Project{Name: name, RepoURL: f.repoURL}); code != http.StatusOK {
			t.Fatalf("create project %s: %d %s", name, code, body)
		}
	}

	admin, err := s.authSvc.Principal(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	userToken := func(name string) (string, *gantry.Token) {
		tok, rec, err := s.authSvc.CreateToken(ctx, admin, auth.TokenRequest{User: name, Name: "matrix",
			Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin}, TTL: time.Hour}, "test")
		if err != nil {
			t.Fatalf("token of %s: %v", name, err)
		}
		return tok, rec
	}
	for _, u := range []struct {
		p    int
		name string
		role gantry.Role
	}{
		{pNoGrant, "nobody", ""},
		{pViewer, "vera", gantry.RoleViewer},
		{pDeveloper, "dev", gantry.RoleDeveloper},
		{pApprover, "april", gantry.RoleApprover},
		{pProjectAdmin, "padma", gantry.RoleAdmin},
	} {
		if _, err := s.authSvc.CreateUser(ctx, admin, auth.NewUser{Name: u.name}, "test"); err != nil {
			t.Fatal(err)
		}
		if u.role != "" {
			if err := s.authSvc.SetGrant(ctx, admin, gantry.Grant{User: u.name, Project: "shop", Role: u.role}, "test"); err != nil {
				t.Fatal(err)
			}
		}
		f.tokens[u.p], _ = userToken(u.name)
	}
	// The project admin's second token, deleted.
	revoked, rec := userToken("padma")
	if err := s.authSvc.DeleteToken(ctx, admin, "padma", rec.ID, "test"); err != nil {
		t.Fatal(err)
	}
	f.tokens[pRevoked] = revoked
	f.tokens[pServerAdmin] = s.adminToken

	// An enrolled agent, holding the jobs of two runs of shop and one of
	// other.
	keys, err := evidence.GenerateKeys(filepath.Join(s.dir, "agent-matrix"), evidence.GenerateOptions{LedgerName: "unused.example/matrix"})
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := evidence.MarshalPublicKey(keys.Signing)
	f.pubPEM = string(pem)
	code, body := s.call("POST", "/api/v1/agents", s.adminToken, agentproto.EnrollRequest{Name: "matrix", Labels: []string{"linux"}, PublicKey: f.pubPEM})
	if code != http.StatusCreated {
		t.Fatalf("enroll: %d %s", code, body)
	}
	var enrolled agentproto.EnrollResponse
	if err := json.Unmarshal(body, &enrolled); err != nil {
		t.Fatal(err)
	}
	f.tokens[pAgent] = enrolled.Token
	hold := func(project string) *agentproto.Lease {
		if code, body := s.call("POST", "/api/v1/projects/"+project+"/runs", s.adminToken, map[string]string{"branch": "main"}); code != http.StatusAccepted {
			t.Fatalf("trigger %s: %d %s", project, code, body)
		}
		code, body := s.call("POST", "/api/v1/agent/lease", enrolled.Token, agentproto.LeaseRequest{Labels: []string{"linux"}, WaitMS: 5000})
		var l agentproto.Lease
		if code != http.StatusOK || json.Unmarshal(body, &l) != nil || l.Project.Name != project {
			t.Fatalf("lease the job of %s: %d %s", project, code, body)
		}
		return &l
	}
	own := hold("shop")
	f.run, f.tokens[pOwnJob] = own.Run.ID, own.Token
	f.job = hold("shop").Job.ID
	f.tokens[pOtherJob] = hold("other").Token

	// The run's build step made an artifact.
	f.blob = []byte("the app, built for the matrix\n")
	d := gantry.DigestBytes(f.blob)
	if code, body := f.do(authzCase{method: "PUT", path: "/api/v1/agent/blobs/" + string(d), contentType: "application/octet-stream", body: f.blob}, own.Token); code != http.StatusCreated {
		t.Fatalf("upload the artifact: %d %s", code, body)
	}
	step := gantry.StepResult{Stage: "commit", Name: "build", Executor: "local", Status: gantry.StatusSucceeded,
		Outputs: []gantry.Artifact{{Path: "bin/app", Digest: d, Size: int64(len(f.blob)), Step: "build"}}}
	if code, body := s.call("PUT", "/api/v1/agent/runs/"+string(f.run)+"/steps", own.Token, step); code != http.StatusNoContent {
		t.Fatalf("record the build step: %d %s", code, body)
	}

	// A change of shop someone else wrote, for the principals to read and
	// approve.
	f.change = "c0ffee00b1e5"
	now := time.Now()
	if err := s.store.PutChange(ctx, &gantry.Change{ID: f.change, Project: "shop", Title: "matrix", Author: "someone@example.com",
		Commits: []gantry.Commit{{SHA: f.change + strings.Repeat("0", 28), Author: "someone@example.com"}}, Opened: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return f
}

// cases returns the matrix's requests, with real objects in their paths:
// shop, its held run and job, the run's artifact.
func (f *authzFixture) cases() []authzCase {
	run, job := string(f.run), string(f.job)
	digest := string(gantry.DigestBytes(f.blob))
	now := time.Now().UTC()
	j := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	hook := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"acme/shop","clone_url":"https://git.example/acme/shop.git","html_url":"https://git.example/acme/shop"},"pusher":{"name":"dev","email":"dev@example.com"},"sender":{"login":"dev"},"head_commit":{"id":"%s","added":[],"removed":[],"modified":[".gantry.yml"]}}`,
		strings.Repeat("0", 40), strings.Repeat("1", 40), strings.Repeat("1", 40))
	cs := []authzCase{
		{key: "GET /api/v1/projects", path: "/api/v1/projects"},
		{key: "POST /api/v1/projects#existing", path: "/api/v1/projects", body: j(gantry.Project{Name: "shop", RepoURL: f.repoURL})},
		{key: "POST /api/v1/projects#new", path: "/api/v1/projects", body: j(gantry.Project{Name: "fresh", RepoURL: f.repoURL})},
		{key: "GET /api/v1/projects/{project}", path: "/api/v1/projects/shop"},
		{key: "GET /api/v1/projects/{project}/runs", path: "/api/v1/projects/shop/runs"},
		{key: "POST /api/v1/projects/{project}/runs", path: "/api/v1/projects/shop/runs", body: j(map[string]string{"branch": "main"})},
		{key: "GET /api/v1/runs/{run}", path: "/api/v1/runs/" + run},
		{key: "GET /api/v1/runs/{run}/steps", path: "/api/v1/runs/" + run + "/steps"},
		{key: "GET /api/v1/runs/{run}/logs", path: "/api/v1/runs/" + run + "/logs"},
		{key: "GET /api/v1/runs/{run}/events", path: "/api/v1/runs/" + run + "/events"},
		{key: "GET /api/v1/runs/{run}/findings", path: "/api/v1/runs/" + run + "/findings"},
		{key: "GET /api/v1/runs/{run}/attestations", path: "/api/v1/runs/" + run + "/attestations"},
		{key: "GET /api/v1/projects/{project}/secrets", path: "/api/v1/projects/shop/secrets"},
		{key: "PUT /api/v1/projects/{project}/secrets/{name}", path: "/api/v1/projects/shop/secrets/MATRIX_SECRET", contentType: "text/plain", body: []byte("s3cret value\n")},
		{key: "DELETE /api/v1/projects/{project}/secrets/{name}", path: "/api/v1/projects/shop/secrets/MATRIX_SECRET"},
		{key: "GET /api/v1/audit", path: "/api/v1/audit"},
		{key: "POST /api/v1/hooks/{project}", path: "/api/v1/hooks/shop", body: []byte(hook)},
		{key: "GET /api/v1/projects/{project}/changes", path: "/api/v1/projects/shop/changes"},
		{key: "GET /api/v1/projects/{project}/changes/{change}", path: "/api/v1/projects/shop/changes/" + f.change},
		{key: "POST /api/v1/projects/{project}/changes/{change}/approvals", path: "/api/v1/projects/shop/changes/" + f.change + "/approvals",
			body: j(ApproveRequest{Environment: "production", Comment: "matrix"})},
		{key: "GET /api/v1/projects/{project}/report", path: "/api/v1/projects/shop/report"},
		{key: "POST /api/v1/agents", path: "/api/v1/agents", body: j(agentproto.EnrollRequest{Name: "enrolled-in-matrix", Labels: []string{"linux"}, PublicKey: f.pubPEM})},
		{key: "POST /api/v1/agent/lease", path: "/api/v1/agent/lease", body: j(agentproto.LeaseRequest{Labels: []string{"linux"}, WaitMS: 1})},
		{key: "POST /api/v1/agent/jobs/{job}/heartbeat", path: "/api/v1/agent/jobs/" + job + "/heartbeat"},
		{key: "POST /api/v1/agent/jobs/{job}/finish", path: "/api/v1/agent/jobs/" + job + "/finish"},
		{key: "POST /api/v1/agent/runs/{run}/start", path: "/api/v1/agent/runs/" + run + "/start", body: j(gantry.Run{StartedAt: now})},
		{key: "PUT /api/v1/agent/runs/{run}", path: "/api/v1/agent/runs/" + run, body: j(gantry.Run{Status: gantry.StatusRunning, StartedAt: now})},
		{key: "PUT /api/v1/agent/runs/{run}/stages", path: "/api/v1/agent/runs/" + run + "/stages", body: j(gantry.StageResult{Name: "commit", Status: gantry.StatusRunning, StartedAt: now})},
		{key: "PUT /api/v1/agent/runs/{run}/steps", path: "/api/v1/agent/runs/" + run + "/steps", body: j(gantry.StepResult{Stage: "commit", Name: "test", Executor: "local", Status: gantry.StatusRunning, StartedAt: now})},
		{key: "POST /api/v1/agent/runs/{run}/logs", path: "/api/v1/agent/runs/" + run + "/logs", body: j([]gantry.LogLine{{Step: "test", Seq: 1, Time: now, Stream: gantry.Stdout, Text: "testing"}})},
		{key: "PUT /api/v1/agent/runs/{run}/findings", path: "/api/v1/agent/runs/" + run + "/findings?step=test", body: j([]gantry.Finding{})},
		{key: "GET /api/v1/agent/runs/{run}/findings", path: "/api/v1/agent/runs/" + run + "/findings"},
		{key: "GET /api/v1/agent/runs/{run}", path: "/api/v1/agent/runs/" + run},
		{key: "GET /api/v1/agent/runs/{run}/steps", path: "/api/v1/agent/runs/" + run + "/steps"},
		{key: "GET /api/v1/agent/runs/{run}/attestations", path: "/api/v1/agent/runs/" + run + "/attestations"},
		{key: "POST /api/v1/agent/runs/{run}/attestations", path: "/api/v1/agent/runs/" + run + "/attestations", body: j([]agentproto.AttestationUpload{})},
		{key: "POST /api/v1/agent/runs/{run}/seal", path: "/api/v1/agent/runs/" + run + "/seal"},
		{key: "POST /api/v1/agent/runs/{run}/secrets", path: "/api/v1/agent/runs/" + run + "/secrets", body: j([]string{"MATRIX_SECRET"})},
		{key: "GET /api/v1/agent/runs/{run}/change", path: "/api/v1/agent/runs/" + run + "/change"},
		// The run was triggered by its branch: it takes the change of the
		// commit checked out.
		{key: "PUT /api/v1/agent/runs/{run}/change", path: "/api/v1/agent/runs/" + run + "/change", body: j(gantry.Change{
			ID: f.commit[:12], Project: "shop", Author: "dev@example.com", Commits: []gantry.Commit{{SHA: f.commit, Author: "dev@example.com"}}})},
		{key: "PUT /api/v1/agent/blobs/{digest}", path: "/api/v1/agent/blobs/" + digest, contentType: "application/octet-stream", body: f.blob},
		{key: "GET /api/v1/agent/blobs/{digest}", path: "/api/v1/agent/blobs/" + digest},
	}
	for i := range cs {
		route, _, _ := strings.Cut(cs[i].key, "#")
		cs[i].method, _, _ = strings.Cut(route, " ")
		if cs[i].body != nil && cs[i].contentType == "" {
			cs[i].contentType = "application/json"
		}
	}
	return cs
}

// do makes a request of the matrix with a bearer token ("" for none). An
// event stream is closed as soon as its status is known.
func (f *authzFixture) do(c authzCase, token string) (int, []byte) {
	f.s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, f.s.http.URL+c.path, body)
	if err != nil {
		f.s.t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.key == "POST /api/v1/hooks/{project}" {
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "matrix")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.s.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, b
}
