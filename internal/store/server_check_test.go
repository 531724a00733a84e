package store

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gantry.dev/gantry"
)

// nameRules are the name checks and the regular expressions (and length
// limits) they implement.
var nameRules = []struct {
	name  string
	valid func(string) bool
	re    *regexp.Regexp
	max   int
}{
	{"ValidName", ValidName, regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`), 63},
	{"ValidUserName", ValidUserName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`), 128},
	{"ValidAgentName", ValidAgentName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`), 63},
	{"ValidLabel", ValidLabel, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._=:/-]*$`), 63},
	{"ValidSecretName", ValidSecretName, regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), 256},
	{"ValidKeyID", ValidKeyID, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`), 64},
	{"ValidID", ValidID, regexp.MustCompile(`^[!-~]+$`), 128},
	{"ValidTokenHash", ValidTokenHash, regexp.MustCompile(`^[0-9a-f]{64}$`), 64},
	{"ValidAuditAction", ValidAuditAction, regexp.MustCompile(`^[a-z][a-z0-9._-]*$`), 63},
	{"ValidTokenUser", ValidTokenUser, regexp.MustCompile(`^(agent:[A-Za-z0-9][A-Za-z0-9._-]{0,62}|[A-Za-z0-9][A-Za-z0-9._@+-]{0,127})$`), 6 + 128},
}

func checkNameRules(t *testing.T, s string) {
	t.Helper()
	for _, r := range nameRules {
		want := r.re.MatchString(s) && len(s) <= r.max
		if r.name == "ValidTokenUser" {
			want = r.re.MatchString(s) // the expression bounds both forms
		}
		if got := r.valid(s); got != want {
			t.Errorf("%s(%q) = %v, want %v", r.name, s, got, want)
		}
	}
}

func TestNameRules(t *testing.T) {
	for _, s := range []string{
		"", "a", "0", "shop", "my-shop", "-shop", "shop-", "Shop", "my_shop", "a.b", "a b", "a/b", "a:b",
		"alice@example.com", "Bob.Smith+ci@example.com", ".alice", "agent:build-1", "agent:", "agent:-x",
		"build-1.example.com", "arch=amd64", "os/arch", "DB_PASSWORD", "_X", "1TOKEN", "kek-2025.03",
		"login.failed", "Login", "token.create", "shöp", "a\x00", "a\n", "\xff",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 128), strings.Repeat("a", 129),
		strings.Repeat("A", 256), strings.Repeat("A", 257),
		strings.Repeat("0f", 32), strings.Repeat("0F", 32), strings.Repeat("0f", 31),
		"agent:" + strings.Repeat("b", 63), "agent:" + strings.Repeat("b", 64),
	} {
		checkNameRules(t, s)
	}
}

// FuzzNameRules checks the hand-written name checks against their
// regular expressions.
func FuzzNameRules(f *testing.F) {
	for _, s := range []string{"shop", "alice@example.com", "agent:build-1", "arch=amd64", "DB_PASSWORD",
		strings.Repeat("0f", 32), "login.failed", "a b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkNameRules(t, s) })
}

func TestValidRoleAndStatus(t *testing.T) {
	for _, r := range []gantry.Role{gantry.RoleViewer, gantry.RoleDeveloper, gantry.RoleApprover, gantry.RoleAdmin} {
		if !ValidRole(r) {
			t.Errorf("ValidRole(%q) = false", r)
		}
	}
	for _, r := range []gantry.Role{"", "owner", "Admin"} {
		if ValidRole(r) {
			t.Errorf("ValidRole(%q) = true", r)
		}
	}
	for _, s := range []gantry.JobStatus{gantry.JobQueued, gantry.JobLeased, gantry.JobFinished} {
		if !ValidJobStatus(s) {
			t.Errorf("ValidJobStatus(%q) = false", s)
		}
	}
	for _, s := range []gantry.JobStatus{"", "running", "Queued"} {
		if ValidJobStatus(s) {
			t.Errorf("ValidJobStatus(%q) = true", s)
		}
	}
}

func TestText(t *testing.T) {
	for s, want := range map[string][2]bool{ // validText, printable
		"":               {true, true},
		"ünïcode ☃":      {true, true},
		"tab\tnewline\n": {true, false},
		"del\x7f":        {true, false},
		"nul\x00":        {false, false},
		"bad\xff":        {false, false},
		"cut\xc3":        {false, false},
	} {
		if got := [2]bool{validText(s), printable(s)}; got != want {
			t.Errorf("validText, printable(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzText checks that text the checks accept is what PostgreSQL's text
// keeps: UTF-8 without NUL.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "a", "ünïcode", "a\x00", "\xff", "\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validText(s) && (!utf8.ValidString(s) || strings.ContainsRune(s, 0)) {
			t.Errorf("validText(%q) accepts what PostgreSQL refuses", s)
		}
		if printable(s) && !validText(s) {
			t.Errorf("printable(%q) but not validText", s)
		}
	})
}

func TestCheckLease(t *testing.T) {
	now := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	until, err := CheckLease("build-1", []string{"docker"}, now, time.Minute)
	if err != nil || !until.Equal(now.Add(time.Minute)) {
		t.Errorf("CheckLease = %v, %v; want now+1m", until, err)
	}
	for name, args := range map[string]struct {
		agent  string
		labels []string
		now    time.Time
		ttl    time.Duration
	}{
		"no agent":     {"", nil, now, time.Minute},
		"zero now":     {"build-1", nil, time.Time{}, time.Minute},
		"zero ttl":     {"build-1", nil, now, 0},
		"bad label":    {"build-1", []string{"a b"}, now, time.Minute},
		"beyond range": {"build-1", nil, maxTime, time.Nanosecond},
	} {
		if _, err := CheckLease(args.agent, args.labels, args.now, args.ttl); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("CheckLease with %s: %v, want EInvalid", name, err)
		}
	}
}

// TestCheckProjectChecksItsChangeRules: one check refuses a project whose
// change rules are not text a store keeps, so that no store forgets it.
func TestCheckProjectChecksItsChangeRules(t *testing.T) {
	p := &gantry.Project{Name: "shop", CreatedAt: time.Now(), Changes: "approvals:\n  required: 2 # ünïcode\n"}
	if err := CheckProject(p); err != nil {
		t.Fatalf("valid rules: %v", err)
	}
	for _, rules := range []string{"a: 1\x00", "a: \xff"} {
		p.Changes = rules
		if err := CheckProject(p); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("rules %q: %v, want EInvalid", rules, err)
		}
	}
}
