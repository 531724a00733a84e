package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cheapParams keep tests fast; one test uses DefaultPasswordParams.
var cheapParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testStore is what the Service works over.
type testStore interface {
	gantry.IdentityStore
	gantry.AuditStore
}

type fixture struct {
	svc    *Service
	store  testStore
	clock  *testClock
	hooked []*gantry.AuditEvent
	mu     sync.Mutex
}

// newFixture returns a Service over a real SQLite store in a temporary
// directory.
func newFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureOn(t, st, edit...)
}

// newMemFixture returns a Service over the in-memory store, for the few
// tests that change records behind the Service's back.
func newMemFixture(t *testing.T, edit ...func(*Config)) (*fixture, *memStore) {
	t.Helper()
	m := newMemStore()
	return newFixtureOn(t, m, edit...), m
}

func newFixtureOn(t *testing.T, st testStore, edit ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{store: st, clock: newTestClock()}
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := NewAESGCM(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Identity: f.store, Audit: f.store, Sealer: sealer, Now: f.clock.Now, Password: cheapParams,
		OnAudit: func(_ context.Context, e *gantry.AuditEvent) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hooked = append(f.hooked, e)
		},
	}
	for _, e := range edit {
		e(&cfg)
	}
	f.svc, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// user makes a local user with a password and the given roles.
func (f *fixture) user(t *testing.T, name, password string, admin bool, roles map[string]gantry.Role) *gantry.User {
	t.Helper()
	ctx := context.Background()
	h, err := HashPassword(password, cheapParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &gantry.User{Name: name, PasswordHash: h, ServerAdmin: admin, CreatedAt: f.clock.Now()}
	if err := f.store.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for p, r := range roles {
		f.grant(t, name, p, r)
	}
	return u
}

// grant gives user role in project, creating the project when the store
// keeps projects.
func (f *fixture) grant(t *testing.T, user, project string, role gantry.Role) {
	t.Helper()
	f.project(t, project)
	if err := f.store.PutGrant(context.Background(), gantry.Grant{User: user, Project: project, Role: role}); err != nil {
		t.Fatal(err)
	}
}

// project creates a project when the store keeps projects.
func (f *fixture) project(t *testing.T, project string) {
	t.Helper()
	ctx := context.Background()
	if ps, ok := f.store.(gantry.ProjectStore); ok {
		if _, err := ps.Project(ctx, project); errors.Is(err, gantry.ErrNotFound) {
			if err := ps.PutProject(ctx, &gantry.Project{Name: project, RepoURL: "https://git.example/" + project, DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: f.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *fixture) principal(t *testing.T, name string) *Principal {
	t.Helper()
	p, err := f.svc.Principal(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// audit returns the stored audit events, oldest first.
func (f *fixture) audit(t *testing.T) []*gantry.AuditEvent {
	t.Helper()
	es, err := f.store.AuditEvents(context.Background(), gantry.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(es)
	return es
}

// actions returns the actions of the audit log, oldest first.
func (f *fixture) actions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range f.audit(t) {
		out = append(out, e.Action)
	}
	return out
}

func (f *fixture) lastAudit(t *testing.T) gantry.AuditEvent {
	t.Helper()
	es, err := f.store.AuditEvents(context.Background(), gantry.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		t.Fatal("no audit event")
	}
	return *es[0]
}

func wantKind(t *testing.T, err error, kind string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want a %s error", kind)
	}
	if got := gantry.ErrorKind(err); got != kind {
		t.Fatalf("err = %v (kind %s), want kind %s", err, got, kind)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
