package change

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// change returns a change by alice, classified as class.
func change(class gantry.ChangeClass) *gantry.Change {
	c := &gantry.Change{
		ID:      "pr-7",
		Project: "shop",
		Author:  "alice",
		Commits: []gantry.Commit{{SHA: "1111", Author: "Alice Liddell", AuthorEmail: "alice@example.com"}},
	}
	if class != "" {
		c.Classification = &gantry.Classification{Class: class}
	}
	if class == gantry.ClassUrgent {
		c.Urgent = "payments are down"
	}
	return c
}

const exception = "Only one maintainer until 2027; every self-approval is reviewed in the quarterly audit."

func singleMaintainer() *Config {
	cfg := DefaultConfig()
	cfg.Approvals.SingleMaintainer = exception
	return cfg
}

func TestApprove(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	bob := Approver{Name: "bob", Email: "bob@example.com", Role: gantry.RoleApprover}
	for _, tc := range []struct {
		name     string
		cfg      *Config
		c        *gantry.Change
		env      string
		kind     string
		by       Approver
		want     *gantry.Approval
		wantKind string // the error's kind
		wantErr  string
	}{
		{
			name: "someone else with the role",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy, by: bob,
			want: &gantry.Approval{Project: "shop", Change: "pr-7", Environment: "production", Kind: gantry.ApprovalDeploy, Approver: "bob", Role: gantry.RoleApprover, Commit: "1111", Comment: "looks good", At: now},
		},
		{
			name: "an admin, kind left out, change not classified yet",
			cfg:  DefaultConfig(), c: change(""), env: "staging", by: Approver{Name: "carol", Role: gantry.RoleAdmin},
			want: &gantry.Approval{Project: "shop", Change: "pr-7", Environment: "staging", Kind: gantry.ApprovalDeploy, Approver: "carol", Role: gantry.RoleAdmin, Commit: "1111", Comment: "looks good", At: now},
		},
		{
			name: "the author by name",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy,
			by:       Approver{Name: "Alice", Role: gantry.RoleAdmin},
			wantKind: gantry.EForbidden, wantErr: "you wrote change pr-7; an approval must come from someone else",
		},
		{
			name: "a commit's author by e-mail",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy,
			by:       Approver{Name: "al", Email: "ALICE@example.com", Role: gantry.RoleApprover},
			wantKind: gantry.EForbidden, wantErr: "you wrote change pr-7; an approval must come from someone else",
		},
		{
			name: "the author under the single-maintainer exception",
			cfg:  singleMaintainer(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy,
			by:   Approver{Name: "alice", Email: "alice@example.com", Role: gantry.RoleAdmin},
			want: &gantry.Approval{Project: "shop", Change: "pr-7", Environment: "production", Kind: gantry.ApprovalDeploy, Approver: "alice", Role: gantry.RoleAdmin, Exception: exception, Commit: "1111", Comment: "looks good", At: now},
		},
		{
			name: "a developer",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy,
			by:       Approver{Name: "dave", Role: gantry.RoleDeveloper},
			wantKind: gantry.EForbidden, wantErr: "approving a change for production needs the approver role or a higher one; dave has developer",
		},
		{
			name: "no role",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy,
			by:       Approver{Name: "eve"},
			wantKind: gantry.EForbidden, wantErr: "approving a change for production needs the approver role or a higher one; eve has no role",
		},
		{
			name: "retrospective of an urgent change",
			cfg:  DefaultConfig(), c: change(gantry.ClassUrgent), env: "production", kind: gantry.ApprovalRetrospective, by: bob,
			want: &gantry.Approval{Project: "shop", Change: "pr-7", Environment: "production", Kind: gantry.ApprovalRetrospective, Approver: "bob", Role: gantry.RoleApprover, Commit: "1111", Comment: "looks good", At: now},
		},
		{
			name: "retrospective of a normal change",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalRetrospective, by: bob,
			wantKind: gantry.EInvalid, wantErr: "change pr-7 is not urgent: only an urgent change has a retrospective review",
		},
		{
			name: "unknown kind",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: "blessing", by: bob,
			wantKind: gantry.EInvalid, wantErr: `unknown kind of approval "blessing": expected "approval" or "retrospective"`,
		},
		{
			name: "unknown environment",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "prod", kind: gantry.ApprovalDeploy, by: bob,
			wantKind: gantry.EInvalid, wantErr: `unknown environment "prod": the project has "acceptance", "staging" or "production"`,
		},
		{
			name: "nobody",
			cfg:  DefaultConfig(), c: change(gantry.ClassNormal), env: "production", kind: gantry.ApprovalDeploy, by: Approver{Role: gantry.RoleAdmin},
			wantKind: gantry.EInvalid, wantErr: "approve change pr-7: who approves is not known",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Approve(tc.cfg, tc.c, tc.env, tc.kind, tc.by, now, "looks good")
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("approved: %+v", got)
				}
				if gantry.ErrorKind(err) != tc.wantKind || err.Error() != tc.wantErr {
					t.Errorf("error %s %q, want %s %q", gantry.ErrorKind(err), err, tc.wantKind, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Approve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC) // a Tuesday
	inFreeze := time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC)
	rules, err := ParseConfig("c.yml", []byte(`approvals:
  required: 2
environments:
  - name: acceptance
    required_approvals: 0
  - name: production
    deployers: ["role:approver", "dave"]
    required_gates: [commit, acceptance]
    freeze:
      - {start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year-end}
`))
	if err != nil {
		t.Fatal(err)
	}
	withException := *rules
	withException.Approvals.SingleMaintainer = exception
	passed := map[string]bool{"commit": true, "acceptance": true}
	dave := Actor{Name: "dave", Role: gantry.RoleDeveloper}
	approval := func(who string, role gantry.Role) *gantry.Approval {
		return &gantry.Approval{Change: "pr-7", Environment: "production", Kind: gantry.ApprovalDeploy, Approver: who, Role: role}
	}
	bob, carol := approval("bob", gantry.RoleApprover), approval("carol", gantry.RoleAdmin)
	stale := approval("bob", gantry.RoleApprover)
	stale.Commit = "0000"
	own := approval("alice@example.com", gantry.RoleAdmin)
	ownExc := approval("alice", gantry.RoleAdmin)
	ownExc.Exception = exception
	for _, tc := range []struct {
		name      string
		cfg       *Config
		env       string
		c         *gantry.Change
		approvals []*gantry.Approval
		gates     map[string]bool
		actor     Actor
		now       time.Time
		want      Admission
	}{
		{
			name: "normal change with two approvals",
			cfg:  rules, env: "production", c: change(gantry.ClassNormal), approvals: []*gantry.Approval{bob, carol}, gates: passed, actor: dave, now: now,
			want: Admission{Allowed: true},
		},
		{
			name: "an approval of an earlier head does not count",
			cfg:  rules, env: "production", c: change(gantry.ClassNormal), approvals: []*gantry.Approval{stale, carol}, gates: passed, actor: dave, now: now,
			want: Admission{
				Reasons: []string{"needs 2 approvals for production from an approver other than the author, has 1: gantry approve pr-7 --env production"},
				Notes:   []string{"the approval by bob does not count: it was given at commit 0000, and the change has new commits since"},
			},
		},
		{
			name: "unknown environment",
			cfg:  rules, env: "staging", c: change(gantry.ClassStandard), gates: passed, actor: dave, now: now,
			want: Admission{Reasons: []string{`unknown environment "staging": the project has "acceptance" or "production"`}},
		},
		{
			name: "deployer by role",
			cfg:  rules, env: "production", c: change(gantry.ClassStandard), gates: passed, actor: Actor{Name: "erin", Role: gantry.RoleAdmin}, now: now,
			want: Admission{Allowed: true, Notes: []string{"standard change: pre-approved"}},
		},
		{
			name: "not a deployer",
			cfg:  rules, env: "production", c: change(gantry.ClassStandard), gates: passed, actor: Actor{Name: "frank", Role: gantry.RoleDeveloper}, now: now,
			want: Admission{
				Reasons: []string{"frank may not deploy to production: its deployers are role:approver, dave"},
				Notes:   []string{"standard change: pre-approved"},
			},
		},
		{
			name: "anyone deploys to an environment without deployers",
			cfg:  rules, env: "acceptance", c: change(gantry.ClassNormal), actor: Actor{Name: "frank", Role: gantry.RoleViewer}, now: now,
			want: Admission{Allowed: true},
		},
		{
			name: "required gates",
			cfg:  rules, env: "production", c: change(gantry.ClassStandard), gates: map[string]bool{"commit": true, "acceptance": false}, actor: dave, now: now,
			want: Admission{
				Reasons: []string{`stage "acceptance" has not passed in this run`},
				Notes:   []string{"standard change: pre-approved"},
			},
		},
		{
			name: "not classified, no gates: every rule listed",
			cfg:  rules, env: "production", c: change(""), actor: Actor{Name: "frank"}, now: now,
			want: Admission{Reasons: []string{
				"frank may not deploy to production: its deployers are role:approver, dave",
				`stage "commit" has not passed in this run`,
				`stage "acceptance" has not passed in this run`,
				"the change has not been classified",
			}},
		},
		{
			name: "normal change without approvals",
			cfg:  rules, env: "production", c: change(gantry.ClassNormal), gates: passed, actor: dave, now: now,
			want: Admission{Reasons: []string{"needs 2 approvals for production from an approver other than the author, has 0: gantry approve pr-7 --env production"}},
		},
		{
			name: "the author's own approval does not count",
			cfg:  rules, env: "production", c: change(gantry.ClassNormal), approvals: []*gantry.Approval{bob, own}, gates: passed, actor: dave, now: now,
			want: Admission{
				Reasons: []string{"needs 2 approvals for production from an approver other than the author, has 1: gantry approve pr-7 --env production"},
				Notes:   []string{"the approval by alice@example.com does not count: they wrote the change"},
			},
		},
		{
			name: "the same approver twice, a low role and another environment",
			cfg:  rules, env: "production", c: change(gantry.ClassNormal), gates: passed, actor: dave, now: now,
			approvals: []*gantry.Approval{bob, approval("BOB", gantry.RoleApprover), approval("dave", gantry.RoleDeveloper),
				{Change: "pr-7", Environment: "acceptance", Kind: gantry.ApprovalDeploy, Approver: "carol", Role: gantry.RoleAdmin},
				{Change: "pr-7", Environment: "production", Kind: gantry.ApprovalRetrospective, Approver: "carol", Role: gantry.RoleAdmin}},
			want: Admission{
				Reasons: []string{"needs 2 approvals for production from an approver other than the author, has 1: gantry approve pr-7 --env production"},
				Notes:   []string{`the approval by dave does not count: it needs the approver role, they had "developer"`},
			},
		},
		{
			name: "the single-maintainer exception counts and is noted",
			cfg:  &withException, env: "production", c: change(gantry.ClassNormal), approvals: []*gantry.Approval{bob, ownExc}, gates: passed, actor: dave, now: now,
			want: Admission{
				Allowed: true,
				Notes:   []string{"alice approved their own change under the single-maintainer exception: " + exception},
			},
		},
		{
			name: "an exception under a login the commits do not show",
			cfg:  &withException, env: "production", c: change(gantry.ClassNormal), gates: passed, actor: dave, now: now,
			approvals: []*gantry.Approval{bob, {Change: "pr-7", Environment: "production", Kind: gantry.ApprovalDeploy, Approver: "al", Role: gantry.RoleAdmin, Exception: exception}},
			want: Admission{
				Allowed: true,
				Notes:   []string{"al approved their own change under the single-maintainer exception: " + exception},
			},
		},
		{
			name: "an exception the project has withdrawn",
			cfg:  rules, env: "production", c: change(gantry.ClassNormal), approvals: []*gantry.Approval{bob, ownExc}, gates: passed, actor: dave, now: now,
			want: Admission{
				Reasons: []string{"needs 2 approvals for production from an approver other than the author, has 1: gantry approve pr-7 --env production"},
				Notes:   []string{"the approval by alice does not count: they wrote the change, and the project no longer allows the single-maintainer exception"},
			},
		},
		{
			name: "standard change inside a freeze",
			cfg:  rules, env: "production", c: change(gantry.ClassStandard), gates: passed, actor: dave, now: inFreeze,
			want: Admission{
				Reasons: []string{"production is inside freeze window year-end until 2027-01-04 00:00 UTC: only an urgent change may be deployed"},
				Notes:   []string{"standard change: pre-approved"},
			},
		},
		{
			name: "urgent change inside a freeze",
			cfg:  rules, env: "production", c: change(gantry.ClassUrgent), gates: passed, actor: dave, now: inFreeze,
			want: Admission{
				Allowed: true,
				Notes: []string{
					"production is inside freeze window year-end until 2027-01-04 00:00 UTC: allowed because the change is urgent",
					"urgent change: a retrospective review is due",
				},
			},
		},
		{
			name: "urgent change still needs its gates",
			cfg:  rules, env: "production", c: change(gantry.ClassUrgent), gates: map[string]bool{"commit": true}, actor: dave, now: now,
			want: Admission{
				Reasons: []string{`stage "acceptance" has not passed in this run`},
				Notes:   []string{"urgent change: a retrospective review is due"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Admit(tc.cfg, tc.env, tc.c, tc.approvals, tc.gates, tc.actor, tc.now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Admit (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApproveThenAdmit runs the two together: what Approve returns is
// what Admit counts.
func TestApproveThenAdmit(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	cfg := singleMaintainer()
	c := change(gantry.ClassNormal)
	a, err := Approve(cfg, c, "production", gantry.ApprovalDeploy, Approver{Name: "alice", Role: gantry.RoleAdmin}, now, "")
	if err != nil {
		t.Fatal(err)
	}
	got := Admit(cfg, "production", c, []*gantry.Approval{a}, nil, Actor{Name: "alice", Role: gantry.RoleAdmin}, now)
	want := Admission{Allowed: true, Notes: []string{"alice approved their own change under the single-maintainer exception: " + exception}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Admit (-want +got):\n%s", diff)
	}
}

func TestRetrospectiveDue(t *testing.T) {
	retro := &gantry.Approval{Change: "pr-7", Environment: "production", Kind: gantry.ApprovalRetrospective, Approver: "bob"}
	deploy := &gantry.Approval{Change: "pr-7", Environment: "production", Kind: gantry.ApprovalDeploy, Approver: "bob"}
	for _, tc := range []struct {
		name      string
		c         *gantry.Change
		approvals []*gantry.Approval
		want      bool
	}{
		{"urgent without review", change(gantry.ClassUrgent), []*gantry.Approval{deploy}, true},
		{"urgent with review", change(gantry.ClassUrgent), []*gantry.Approval{deploy, retro}, false},
		{"declared urgent, not classified yet", &gantry.Change{ID: "x", Urgent: "down"}, nil, true},
		{"normal", change(gantry.ClassNormal), nil, false},
		{"standard", change(gantry.ClassStandard), nil, false},
	} {
		if got := RetrospectiveDue(tc.c, tc.approvals); got != tc.want {
			t.Errorf("%s: RetrospectiveDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}
