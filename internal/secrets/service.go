package secrets

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

// MaxValueSize bounds a secret value: room for a certificate chain or a
// kubeconfig, not for data.
const MaxValueSize = 64 << 10

// maxNameLen bounds a secret name, which becomes an environment variable.
const maxNameLen = 128

var (
	validProject = store.ValidName
	validEnv     = store.ValidName // environments are named as projects are
)

// Info describes a secret without its value: what List returns.
type Info struct {
	Project   string    `json:"project"`
	Env       string    `json:"env"` // "" for every environment
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id,omitempty"` // the key that sealed it; empty in Vault
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// Rotation is what Rotate did.
type Rotation struct {
	Secrets  int `json:"secrets"`  // how many it looked at
	Resealed int `json:"resealed"` // how many it re-sealed under the new key
}

// Service keeps the secrets of projects, per environment, write-only: of
// its methods only Resolve, which hands values to a run, returns a value.
// Values are kept either sealed in a gantry.SecretStore (NewService) or in
// HashiCorp Vault (NewVaultService), which encrypts them itself.
type Service struct {
	// Now is the clock that stamps UpdatedAt; time.Now when nil.
	Now func() time.Time

	store  gantry.SecretStore // nil with Vault
	sealer *Sealer
	vault  *vaultBackend // nil with a store

	// mu keeps this process's Put and Delete from running between
	// Rotate's read and write of a record. Across servers, Rotate's
	// re-read narrows the window (the store has no compare-and-swap).
	mu sync.Mutex
}

// NewService returns a Service that keeps values sealed by sealer in store.
func NewService(store gantry.SecretStore, sealer *Sealer) *Service {
	return &Service{store: store, sealer: sealer}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Put sets the value of secret name of project, for environment env ("" for
// every environment), as written by actor.
func (s *Service) Put(ctx context.Context, project, env, name, value, actor string) error {
	if err := checkPlace(project, env, name); err != nil {
		return err
	}
	if err := checkValue(name, value); err != nil {
		return err
	}
	if actor == "" {
		return gantry.Errorf(gantry.EInvalid, "put secret %s: no actor", name)
	}
	if s.vault != nil {
		return s.vault.put(ctx, project, env, name, value, actor)
	}
	ct, err := s.sealer.Seal([]byte(value), secretAD(project, env, name))
	if err != nil {
		return fmt.Errorf("put secret %s: %w", place(project, env, name), err)
	}
	rec := &gantry.SecretRecord{
		Project:    project,
		Env:        env,
		Name:       name,
		Ciphertext: ct,
		KeyID:      s.sealer.ring.Current(),
		UpdatedAt:  s.now(),
		UpdatedBy:  actor,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.PutSecret(ctx, rec); err != nil {
		return fmt.Errorf("put secret %s: %w", place(project, env, name), err)
	}
	return nil
}

// List describes project's secrets in every environment, by env and name.
func (s *Service) List(ctx context.Context, project string) ([]Info, error) {
	if !validProject(project) {
		return nil, badProject(project)
	}
	if s.vault != nil {
		return s.vault.list(ctx, project)
	}
	recs, err := s.store.Secrets(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("list secrets of %s: %w", project, err)
	}
	out := make([]Info, 0, len(recs))
	for _, r := range recs {
		out = append(out, Info{Project: r.Project, Env: r.Env, Name: r.Name, KeyID: r.KeyID, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy})
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(infos []Info) {
	slices.SortFunc(infos, func(a, b Info) int {
		if c := strings.Compare(a.Env, b.Env); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Delete removes secret name of project for env ("" being the
// project-wide one, not every environment's). A secret that does not
// exist is a not-found error.
func (s *Service) Delete(ctx context.Context, project, env, name string) error {
	if err := checkPlace(project, env, name); err != nil {
		return err
	}
	if s.vault != nil {
		return s.vault.delete(ctx, project, env, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.store.Secret(ctx, project, env, name); err != nil {
		if errors.Is(err, gantry.ErrNotFound) {
			return gantry.Errorf(gantry.ENotFound, "delete secret: %s is not set", place(project, env, name))
		}
		return fmt.Errorf("delete secret %s: %w", place(project, env, name), err)
	}
	if err := s.store.DeleteSecret(ctx, project, env, name); err != nil {
		return fmt.Errorf("delete secret %s: %w", place(project, env, name), err)
	}
	return nil
}

// Resolve returns the values of names for a run of project in environment
// env: a secret set for env wins over the project-wide one (env ""). Any
// name set in neither is a not-found error that names every missing one.
// It is the only method that returns values: callers give them only to
// the steps that name them, and mask them in logs.
func (s *Service) Resolve(ctx context.Context, project, env string, names []string) (map[string]string, error) {
	if !validProject(project) {
		return nil, badProject(project)
	}
	if env != "" && !validEnv(env) {
		return nil, badEnv(env)
	}
	out := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, err
		}
		if _, done := out[name]; done || slices.Contains(missing, name) {
			continue
		}
		v, err := s.lookup(ctx, project, env, name)
		if errors.Is(err, gantry.ErrNotFound) && env != "" {
			v, err = s.lookup(ctx, project, "", name)
		}
		switch {
		case errors.Is(err, gantry.ErrNotFound):
			missing = append(missing, name)
		case err != nil:
			return nil, fmt.Errorf("resolve secrets of %s: %w", project, err)
		default:
			out[name] = v
		}
	}
	if len(missing) > 0 {
		where := "project-wide"
		if env != "" {
			where = fmt.Sprintf("for environment %s or project-wide", env)
		}
		word := "secret"
		if len(missing) > 1 {
			word = "secrets"
		}
		return nil, gantry.Errorf(gantry.ENotFound, "%s %s of project %s not set %s", word, strings.Join(missing, ", "), project, where)
	}
	return out, nil
}

// lookup returns one secret's value; ErrNotFound when it is not set.
func (s *Service) lookup(ctx context.Context, project, env, name string) (string, error) {
	if s.vault != nil {
		return s.vault.get(ctx, project, env, name)
	}
	rec, err := s.store.Secret(ctx, project, env, name)
	if err != nil {
		return "", err
	}
	plain, err := s.open(rec)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// open opens a record, checking that its KeyID is the key its ciphertext
// names: a record whose column and ciphertext disagree was tampered with.
func (s *Service) open(rec *gantry.SecretRecord) ([]byte, error) {
	at := place(rec.Project, rec.Env, rec.Name)
	id, err := SealedKeyID(rec.Ciphertext)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInternal, "open secret %s: %w", at, err)
	}
	if rec.KeyID != id {
		return nil, gantry.Errorf(gantry.EInternal, "open secret %s: the record names key %q but its ciphertext was sealed under %q", at, rec.KeyID, id)
	}
	plain, err := s.sealer.Open(rec.Ciphertext, secretAD(rec.Project, rec.Env, rec.Name))
	if err != nil {
		return nil, wrapOpenErr(at, err)
	}
	return plain, nil
}

func wrapOpenErr(at string, err error) error {
	var ge *gantry.Error
	if errors.As(err, &ge) {
		return gantry.Errorf(ge.Kind, "open secret %s: %s", at, ge.Message)
	}
	return gantry.Errorf(gantry.EInternal, "open secret %s: %w", at, err)
}

// Rotate re-seals under the keyring's current key the secrets of the
// given projects, or of every project when none is given (the store must
// then also list projects, as a gantry.ServerStore does). newKeyID must
// name the current key: a guard against rotating with a stale key file.
// Only the wrapped data keys change; values are never decrypted. A secret
// that does not open (its key is gone, or it was altered) is left as it
// is and named in the error; the others are still re-sealed, and the
// Rotation counts them.
func (s *Service) Rotate(ctx context.Context, newKeyID string, projects ...string) (Rotation, error) {
	var rot Rotation
	if s.vault != nil {
		return rot, gantry.Errorf(gantry.EInvalid, "rotate secrets: they are kept in Vault, which encrypts them under its own keys (rotate those with vault operator rotate)")
	}
	if cur := s.sealer.ring.Current(); newKeyID != cur {
		return rot, gantry.Errorf(gantry.EInvalid, "rotate secrets: key %q is not the current key %q; put it first in the key file and restart", newKeyID, cur)
	}
	for _, p := range projects {
		if !validProject(p) {
			return rot, badProject(p)
		}
	}
	if len(projects) == 0 {
		lister, ok := s.store.(interface {
			Projects(ctx context.Context) ([]*gantry.Project, error)
		})
		if !ok {
			return rot, fmt.Errorf("rotate secrets: the store cannot list projects; name them")
		}
		ps, err := lister.Projects(ctx)
		if err != nil {
			return rot, fmt.Errorf("rotate secrets: list projects: %w", err)
		}
		for _, p := range ps {
			projects = append(projects, p.Name)
		}
	}
	var failed []string
	var firstErr error
	for _, p := range projects {
		recs, err := s.store.Secrets(ctx, p)
		if err != nil {
			return rot, fmt.Errorf("rotate secrets of %s: %w", p, err)
		}
		for _, rec := range recs {
			rot.Secrets++
			done, err := s.reseal(ctx, rec)
			if err != nil {
				if ctx.Err() != nil {
					return rot, fmt.Errorf("rotate secrets: %w", ctx.Err())
				}
				failed = append(failed, place(rec.Project, rec.Env, rec.Name))
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if done {
				rot.Resealed++
			}
		}
	}
	if len(failed) > 0 {
		return rot, gantry.Errorf(gantry.ErrorKind(firstErr), "rotate secrets: %d of %d could not be re-sealed (%s); the first: %s", len(failed), rot.Secrets, strings.Join(failed, ", "), gantry.ErrorMessageOrText(firstErr))
	}
	return rot, nil
}

// reseal re-wraps one record under the current key; it reports whether it
// wrote the record.
func (s *Service) reseal(ctx context.Context, rec *gantry.SecretRecord) (bool, error) {
	at := place(rec.Project, rec.Env, rec.Name)
	id, err := SealedKeyID(rec.Ciphertext)
	if err != nil {
		return false, gantry.Errorf(gantry.EInternal, "open secret %s: %w", at, err)
	}
	if rec.KeyID != id {
		return false, gantry.Errorf(gantry.EInternal, "open secret %s: the record names key %q but its ciphertext was sealed under %q", at, rec.KeyID, id)
	}
	ct, err := s.sealer.Reseal(rec.Ciphertext, secretAD(rec.Project, rec.Env, rec.Name))
	if err != nil {
		return false, wrapOpenErr(at, err)
	}
	if id == s.sealer.ring.Current() {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A Put since the listing has written a newer value under the
	// current key: keep it rather than bring the old one back.
	now, err := s.store.Secret(ctx, rec.Project, rec.Env, rec.Name)
	if errors.Is(err, gantry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotate secret %s: %w", at, err)
	}
	if !bytes.Equal(now.Ciphertext, rec.Ciphertext) {
		return false, nil
	}
	next := *rec // UpdatedAt and UpdatedBy stay: they say who set the value
	next.Ciphertext = ct
	next.KeyID = s.sealer.ring.Current()
	if err := s.store.PutSecret(ctx, &next); err != nil {
		return false, fmt.Errorf("rotate secret %s: %w", at, err)
	}
	return true, nil
}

// secretAD is the associated data that binds a sealed value to its place:
// each field length-prefixed, so no two places share an encoding.
func secretAD(project, env, name string) []byte {
	b := []byte("gantry.secret.v1")
	for _, f := range []string{project, env, name} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func place(project, env, name string) string {
	if env == "" {
		env = "*"
	}
	return project + "/" + env + "/" + name
}

func checkPlace(project, env, name string) error {
	if !validProject(project) {
		return badProject(project)
	}
	if env != "" && !validEnv(env) {
		return badEnv(env)
	}
	return checkName(name)
}

// checkName takes secret names as the pipeline file does: a secret
// becomes the step's environment variable of the same name.
func checkName(name string) error {
	if len(name) > maxNameLen || !nameRE.MatchString(name) {
		return gantry.Errorf(gantry.EInvalid, "invalid secret name %q: use letters, digits and '_', not starting with a digit, at most %d characters", name, maxNameLen)
	}
	return nil
}

func checkValue(name, value string) error {
	switch {
	case value == "":
		return gantry.Errorf(gantry.EInvalid, "the value of secret %s is empty", name)
	case len(value) > MaxValueSize:
		return gantry.Errorf(gantry.EInvalid, "the value of secret %s is %d bytes; at most %d KiB", name, len(value), MaxValueSize>>10)
	case strings.IndexByte(value, 0) >= 0:
		return gantry.Errorf(gantry.EInvalid, "the value of secret %s holds a NUL byte, which an environment variable cannot carry", name)
	}
	return nil
}

func badProject(p string) error {
	return gantry.Errorf(gantry.EInvalid, "invalid project name %q: lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters", p)
}

func badEnv(e string) error {
	return gantry.Errorf(gantry.EInvalid, "invalid environment name %q: lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters", e)
}
