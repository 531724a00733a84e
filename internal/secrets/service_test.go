package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// newTestService returns a Service over store with a keyring of keys and a
// clock stopped at t0.
func newTestService(t *testing.T, store gantry.SecretStore, keys ...Key) *Service {
	t.Helper()
	s := NewService(store, NewSealer(mustRing(t, keys...), testRand(7)))
	s.Now = func() time.Time { return t0 }
	return s
}

func mustPut(t *testing.T, s *Service, project, env, name, value string) {
	t.Helper()
	if err := s.Put(context.Background(), project, env, name, value, "alice"); err != nil {
		t.Fatalf("put %s/%s/%s: %v", project, env, name, err)
	}
}

func TestServicePutListResolveDelete(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, "web", "api", "empty")
	s := newTestService(t, store, mustKey(t, "k1", 1))

	mustPut(t, s, "web", "", "DB_PASSWORD", "all-envs-pw")
	mustPut(t, s, "web", "prod", "DB_PASSWORD", "prod-pw")
	mustPut(t, s, "web", "", "API_TOKEN", "tok-123")
	mustPut(t, s, "api", "", "DB_PASSWORD", "api-pw")

	list, err := s.List(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []Info{
		{Project: "web", Env: "", Name: "API_TOKEN", KeyID: "k1", UpdatedAt: t0, UpdatedBy: "alice"},
		{Project: "web", Env: "", Name: "DB_PASSWORD", KeyID: "k1", UpdatedAt: t0, UpdatedBy: "alice"},
		{Project: "web", Env: "prod", Name: "DB_PASSWORD", KeyID: "k1", UpdatedAt: t0, UpdatedBy: "alice"},
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	js, _ := json.Marshal(list)
	for _, v := range []string{"all-envs-pw", "prod-pw", "tok-123"} {
		if bytes.Contains(js, []byte(v)) {
			t.Errorf("List shows the value %q", v)
		}
	}
	recs, err := store.Secrets(ctx, "web")
	if err != nil || len(recs) != 3 {
		t.Fatalf("stored: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if bytes.Contains(r.Ciphertext, []byte("pw")) {
			t.Errorf("the store holds a value in clear: %s/%s/%s", r.Project, r.Env, r.Name)
		}
	}

	for _, tc := range []struct {
		env  string
		want map[string]string
	}{
		{"prod", map[string]string{"DB_PASSWORD": "prod-pw", "API_TOKEN": "tok-123"}},
		{"staging", map[string]string{"DB_PASSWORD": "all-envs-pw", "API_TOKEN": "tok-123"}},
		{"", map[string]string{"DB_PASSWORD": "all-envs-pw", "API_TOKEN": "tok-123"}},
	} {
		got, err := s.Resolve(ctx, "web", tc.env, []string{"DB_PASSWORD", "API_TOKEN", "DB_PASSWORD"})
		if err != nil {
			t.Fatalf("Resolve env %q: %v", tc.env, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Resolve env %q (-want +got):\n%s", tc.env, diff)
		}
	}
	if got, err := s.Resolve(ctx, "web", "prod", nil); err != nil || len(got) != 0 {
		t.Errorf("Resolve of nothing = %v, %v", got, err)
	}

	_, err = s.Resolve(ctx, "web", "prod", []string{"API_TOKEN", "NOPE", "ALSO_NOPE"})
	if gantry.ErrorKind(err) != gantry.ENotFound || !strings.Contains(err.Error(), "secrets NOPE, ALSO_NOPE of project web not set for environment prod or project-wide") {
		t.Errorf("missing: error = %v", err)
	}
	_, err = s.Resolve(ctx, "api", "", []string{"API_TOKEN"})
	if err == nil || !strings.Contains(err.Error(), "secret API_TOKEN of project api not set project-wide") {
		t.Errorf("other project's secret: error = %v", err)
	}

	if err := s.Delete(ctx, "web", "prod", "DB_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, "web", "prod", []string{"DB_PASSWORD"})
	if err != nil || got["DB_PASSWORD"] != "all-envs-pw" {
		t.Errorf("after deleting the prod value: %v, %v", got, err)
	}
	err = s.Delete(ctx, "web", "prod", "DB_PASSWORD")
	if gantry.ErrorKind(err) != gantry.ENotFound || !strings.Contains(err.Error(), "web/prod/DB_PASSWORD is not set") {
		t.Errorf("delete twice: error = %v", err)
	}

	// Put replaces, and records who and when.
	s.Now = func() time.Time { return t0.Add(time.Hour) }
	if err := s.Put(ctx, "web", "", "API_TOKEN", "tok-456", "bob"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Resolve(ctx, "web", "", []string{"API_TOKEN"})
	if got["API_TOKEN"] != "tok-456" {
		t.Errorf("after a second put: %q", got["API_TOKEN"])
	}
	list, _ = s.List(ctx, "web")
	if list[0].UpdatedBy != "bob" || !list[0].UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after a second put: %+v", list[0])
	}
	if list, err := s.List(ctx, "empty"); err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of a project without secrets = %#v, %v", list, err)
	}
}

func TestServiceValidation(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, newTestStore(t, "web"), mustKey(t, "k1", 1))
	for _, tc := range []struct {
		project, env, name, value, actor, want string
	}{
		{"web", "", "1ABC", "v", "a", `invalid secret name "1ABC"`},
		{"web", "", "A-B", "v", "a", `invalid secret name "A-B"`},
		{"web", "", "", "v", "a", `invalid secret name ""`},
		{"web", "", strings.Repeat("A", 129), "v", "a", "at most 128 characters"},
		{"Web", "", "A", "v", "a", `invalid project name "Web"`},
		{"../web", "", "A", "v", "a", `invalid project name "../web"`},
		{"web", "_all", "A", "v", "a", `invalid environment name "_all"`},
		{"web", "Prod", "A", "v", "a", `invalid environment name "Prod"`},
		{"web", "prod/x", "A", "v", "a", `invalid environment name "prod/x"`},
		{"web", "", "A", "", "a", "the value of secret A is empty"},
		{"web", "", "A", strings.Repeat("x", MaxValueSize+1), "a", "the value of secret A is 65537 bytes; at most 64 KiB"},
		{"web", "", "A", "a\x00b", "a", "holds a NUL byte"},
		{"web", "", "A", "v", "", "no actor"},
	} {
		err := s.Put(ctx, tc.project, tc.env, tc.name, tc.value, tc.actor)
		if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Put(%q, %q, %.10q, ...) error = %v, want %q", tc.project, tc.env, tc.name, err, tc.want)
		}
	}
	if err := s.Put(ctx, "web", "prod-eu-1", "_A1", strings.Repeat("x", MaxValueSize), "a"); err != nil {
		t.Errorf("largest value: %v", err)
	}
	if _, err := s.Resolve(ctx, "web", "", []string{"OK", "bad-name"}); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Resolve of a bad name: error = %v", err)
	}
	if _, err := s.Resolve(ctx, "web", "a b", nil); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Resolve in a bad env: error = %v", err)
	}
	if _, err := s.List(ctx, "WEB"); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("List of a bad project: error = %v", err)
	}
	if err := s.Delete(ctx, "web", "", "a-b"); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Delete of a bad name: error = %v", err)
	}
}

// TestServiceMovedRecord checks that the associated data binds a sealed
// value to its place: a ciphertext copied to another secret, environment or
// project does not open there.
func TestServiceMovedRecord(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, "web", "api")
	s := newTestService(t, store, mustKey(t, "k1", 1))
	mustPut(t, s, "web", "", "PUBLIC", "nothing")
	mustPut(t, s, "web", "prod", "DB", "prod-pw")
	src, _ := store.Secret(ctx, "web", "prod", "DB")

	for _, dst := range [][3]string{
		{"web", "prod", "PUBLIC"}, // another name
		{"web", "", "DB"},         // another environment
		{"api", "prod", "DB"},     // another project
	} {
		moved := *src
		moved.Project, moved.Env, moved.Name = dst[0], dst[1], dst[2]
		if err := store.PutSecret(ctx, &moved); err != nil {
			t.Fatal(err)
		}
		got, err := s.Resolve(ctx, dst[0], dst[1], []string{dst[2]})
		if err == nil {
			t.Errorf("moved to %v: opened to %v", dst, got)
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "open secret "+place(dst[0], dst[1], dst[2])) {
			t.Errorf("moved to %v: error = %v", dst, err)
		}
		if strings.Contains(err.Error(), "prod-pw") {
			t.Errorf("error shows the value: %v", err)
		}
	}
}

func TestServiceTamperedAndKeyID(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, "web")
	s := newTestService(t, store, mustKey(t, "k1", 1), mustKey(t, "k0", 2))
	mustPut(t, s, "web", "", "DB", "pw")
	rec, _ := store.Secret(ctx, "web", "", "DB")

	resolveErr := func(mutate func(r *gantry.SecretRecord)) error {
		r := *rec
		r.Ciphertext = bytes.Clone(rec.Ciphertext)
		mutate(&r)
		if err := store.PutSecret(ctx, &r); err != nil {
			t.Fatal(err)
		}
		_, err := s.Resolve(ctx, "web", "", []string{"DB"})
		return err
	}
	if err := resolveErr(func(r *gantry.SecretRecord) { r.Ciphertext[len(r.Ciphertext)-1] ^= 1 }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("value ciphertext changed: error = %v", err)
	}
	if err := resolveErr(func(r *gantry.SecretRecord) { r.Ciphertext[20] ^= 1 }); err == nil {
		t.Errorf("wrapped key changed: no error")
	}
	if err := resolveErr(func(r *gantry.SecretRecord) { r.Ciphertext = r.Ciphertext[:10] }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("cut short: error = %v", err)
	}
	err := resolveErr(func(r *gantry.SecretRecord) { r.KeyID = "k0" })
	if err == nil || !strings.Contains(err.Error(), `the record names key "k0" but its ciphertext was sealed under "k1"`) {
		t.Errorf("another key's ID: error = %v", err)
	}
	err = resolveErr(func(r *gantry.SecretRecord) { r.KeyID = "k9" })
	if err == nil || !strings.Contains(err.Error(), `the record names key "k9" but its ciphertext was sealed under "k1"`) {
		t.Errorf("an unknown key's ID: error = %v", err)
	}
	// A record without a key ID does not even reach the store.
	noID := *rec
	noID.KeyID = ""
	if err := store.PutSecret(ctx, &noID); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("put without a key ID: error = %v", err)
	}
	// Relabelled inside the ciphertext as well: k0 does not open what k1 sealed.
	err = resolveErr(func(r *gantry.SecretRecord) { r.KeyID = "k0"; r.Ciphertext[3] = '0' })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("relabelled key: error = %v", err)
	}
	if err := resolveErr(func(*gantry.SecretRecord) {}); err != nil {
		t.Errorf("the record as it was: %v", err)
	}
}

func TestServiceKeyGone(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, "web")
	mustPut(t, newTestService(t, store, mustKey(t, "k0", 1)), "web", "", "DB", "pw")
	s := newTestService(t, store, mustKey(t, "k1", 2))
	_, err := s.Resolve(ctx, "web", "", []string{"DB"})
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(gantry.ErrorMessage(err), `open secret web/*/DB: key-encryption key "k0" is not in the keyring (it has k1)`) {
		t.Errorf("error = %v (message %q)", err, gantry.ErrorMessage(err))
	}
}

func TestServiceRotate(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, "web", "api", "none")
	k1, k2, k3 := mustKey(t, "k1", 1), mustKey(t, "k2", 2), mustKey(t, "k3", 3)
	old := newTestService(t, store, k1)
	mustPut(t, old, "web", "", "A", "a-value")
	mustPut(t, old, "web", "prod", "A", "a-prod")
	mustPut(t, old, "api", "", "B", "b-value")
	before, _ := store.Secret(ctx, "web", "", "A")

	s := newTestService(t, store, k2, k1)
	if _, err := s.Rotate(ctx, "k1"); gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), `key "k1" is not the current key "k2"`) {
		t.Errorf("rotate to an old key: error = %v", err)
	}
	if _, err := s.Rotate(ctx, "k2", "Bad"); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("rotate a bad project: error = %v", err)
	}

	rot, err := s.Rotate(ctx, "k2", "api")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Rotation{Secrets: 1, Resealed: 1}, rot); diff != "" {
		t.Errorf("rotate api (-want +got):\n%s", diff)
	}
	if r, _ := store.Secret(ctx, "web", "", "A"); r.KeyID != "k1" {
		t.Errorf("rotating api touched web")
	}

	rot, err = s.Rotate(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Rotation{Secrets: 3, Resealed: 2}, rot); diff != "" {
		t.Errorf("rotate all (-want +got):\n%s", diff)
	}
	after, _ := store.Secret(ctx, "web", "", "A")
	if after.KeyID != "k2" || bytes.Equal(after.Ciphertext, before.Ciphertext) {
		t.Errorf("not re-sealed: key %s", after.KeyID)
	}
	if after.UpdatedBy != before.UpdatedBy || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("rotation changed who and when: %+v", after)
	}

	// Without the old key, everything still opens.
	only := newTestService(t, store, k2)
	for _, c := range []struct{ project, env, name, want string }{
		{"web", "", "A", "a-value"}, {"web", "prod", "A", "a-prod"}, {"api", "", "B", "b-value"},
	} {
		got, err := only.Resolve(ctx, c.project, c.env, []string{c.name})
		if err != nil || got[c.name] != c.want {
			t.Errorf("after rotation, %s/%s/%s = %q, %v", c.project, c.env, c.name, got[c.name], err)
		}
	}
	if list, _ := only.List(ctx, "web"); list[0].KeyID != "k2" || list[1].KeyID != "k2" {
		t.Errorf("List after rotation: %+v", list)
	}

	rot, err = only.Rotate(ctx, "k2")
	if err != nil || rot != (Rotation{Secrets: 3}) {
		t.Errorf("rotate again = %+v, %v; want nothing re-sealed", rot, err)
	}

	// A record under a key that is gone is named, and the rest rotate.
	mustPut(t, newTestService(t, store, mustKey(t, "k0", 4)), "web", "", "LOST", "lost")
	s3 := newTestService(t, store, k3, k2)
	rot, err = s3.Rotate(ctx, "k3")
	if err == nil || gantry.ErrorKind(err) != gantry.EUnavailable ||
		!strings.Contains(err.Error(), `rotate secrets: 1 of 4 could not be re-sealed (web/*/LOST); the first: open secret web/*/LOST: key-encryption key "k0" is not in the keyring`) {
		t.Errorf("rotate with a lost key: error = %v", err)
	}
	if rot != (Rotation{Secrets: 4, Resealed: 3}) {
		t.Errorf("rotate with a lost key = %+v", rot)
	}
	if r, _ := store.Secret(ctx, "web", "", "LOST"); r.KeyID != "k0" {
		t.Errorf("the lost record was rewritten")
	}
}

// racingStore changes a record after Secrets lists it, as a Put on another
// server between Rotate's read and write would.
type racingStore struct {
	gantry.SecretStore
	race func()
}

func (r *racingStore) Secrets(ctx context.Context, project string) ([]*gantry.SecretRecord, error) {
	out, err := r.SecretStore.Secrets(ctx, project)
	if r.race != nil {
		r.race()
		r.race = nil
	}
	return out, err
}

func TestServiceRotateKeepsNewerPut(t *testing.T) {
	ctx := context.Background()
	mem := newTestStore(t, "web")
	k1, k2 := mustKey(t, "k1", 1), mustKey(t, "k2", 2)
	mustPut(t, newTestService(t, mem, k1), "web", "", "A", "old")
	mustPut(t, newTestService(t, mem, k1), "web", "", "GONE", "old")
	store := &racingStore{SecretStore: mem}
	s := newTestService(t, store, k2, k1)
	other := newTestService(t, mem, k2, k1)
	store.race = func() {
		if err := other.Put(ctx, "web", "", "A", "new", "bob"); err != nil {
			t.Error(err)
		}
		if err := other.Delete(ctx, "web", "", "GONE"); err != nil {
			t.Error(err)
		}
	}
	rot, err := s.Rotate(ctx, "k2", "web")
	if err != nil {
		t.Fatal(err)
	}
	if rot != (Rotation{Secrets: 2}) {
		t.Errorf("Rotate = %+v, want nothing re-sealed", rot)
	}
	got, err := s.Resolve(ctx, "web", "", []string{"A"})
	if err != nil || got["A"] != "new" {
		t.Errorf("after the race A = %q, %v; want the newer value", got["A"], err)
	}
	if _, err := mem.Secret(ctx, "web", "", "GONE"); !errors.Is(err, gantry.ErrNotFound) {
		t.Errorf("rotation brought back a deleted secret")
	}
}

// projectlessStore is a SecretStore that cannot list projects.
type projectlessStore struct{ gantry.SecretStore }

func TestServiceRotateNeedsProjects(t *testing.T) {
	s := newTestService(t, projectlessStore{newTestStore(t, "web")}, mustKey(t, "k1", 1))
	if _, err := s.Rotate(context.Background(), "k1"); err == nil || !strings.Contains(err.Error(), "cannot list projects") {
		t.Errorf("error = %v", err)
	}
	if _, err := s.Rotate(context.Background(), "k1", "web"); err != nil {
		t.Errorf("named project: %v", err)
	}
}

func TestSecretAD(t *testing.T) {
	// Length prefixes keep places apart that plain joining would merge.
	seen := map[string][3]string{}
	for _, p := range [][3]string{{"ab", "", "C"}, {"a", "b", "C"}, {"a", "", "bC"}, {"a", "bC", ""}} {
		k := string(secretAD(p[0], p[1], p[2]))
		if q, dup := seen[k]; dup {
			t.Errorf("%v and %v share associated data", p, q)
		}
		seen[k] = p
	}
}
