package auth

import (
	"context"
	"slices"
	"sort"
	"sync"

	"gantry.dev/gantry"
)

// memStore is a small in-memory gantry.IdentityStore and AuditStore for
// tests of this package, copying records in and out as a real store does.
type memStore struct {
	mu     sync.Mutex
	users  map[string]gantry.User
	grants map[[2]string]gantry.Role
	tokens map[string]gantry.Token // by id
	audit  []gantry.AuditEvent
}

var (
	_ gantry.IdentityStore = (*memStore)(nil)
	_ gantry.AuditStore    = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{users: map[string]gantry.User{}, grants: map[[2]string]gantry.Role{}, tokens: map[string]gantry.Token{}}
}

func (m *memStore) PutUser(_ context.Context, u *gantry.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *u
	c.TOTPSecret = slices.Clone(u.TOTPSecret)
	if old, ok := m.users[u.Name]; ok {
		c.CreatedAt = old.CreatedAt
	}
	m.users[u.Name] = c
	return nil
}

func (m *memStore) User(_ context.Context, name string) (*gantry.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return nil, gantry.ErrNotFound
	}
	u.TOTPSecret = slices.Clone(u.TOTPSecret)
	return &u, nil
}

func (m *memStore) Users(_ context.Context) ([]*gantry.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*gantry.User
	for _, u := range m.users {
		out = append(out, &u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memStore) PutGrant(_ context.Context, g gantry.Grant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{g.User, g.Project}
	if g.Role == "" {
		delete(m.grants, k)
	} else {
		m.grants[k] = g.Role
	}
	return nil
}

func (m *memStore) Grants(_ context.Context, user, project string) ([]gantry.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []gantry.Grant
	for k, r := range m.grants {
		if (user != "" && k[0] == user) || (user == "" && k[1] == project) {
			out = append(out, gantry.Grant{User: k[0], Project: k[1], Role: r})
		}
	}
	return out, nil
}

func (m *memStore) PutToken(_ context.Context, t *gantry.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *t
	c.Scopes = slices.Clone(t.Scopes)
	m.tokens[t.ID] = c
	return nil
}

func (m *memStore) TokenByHash(_ context.Context, hash string) (*gantry.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		if t.Hash == hash {
			t.Scopes = slices.Clone(t.Scopes)
			return &t, nil
		}
	}
	return nil, gantry.ErrNotFound
}

func (m *memStore) Tokens(_ context.Context, user string) ([]*gantry.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*gantry.Token
	for _, t := range m.tokens {
		if t.User == user {
			out = append(out, &t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) DeleteToken(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[id]; !ok {
		return gantry.ErrNotFound
	}
	delete(m.tokens, id)
	return nil
}

func (m *memStore) AppendAudit(_ context.Context, e *gantry.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = int64(len(m.audit) + 1)
	m.audit = append(m.audit, *e)
	return nil
}

func (m *memStore) SetAuditLedgerIndex(_ context.Context, id, index int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id < 1 || int(id) > len(m.audit) {
		return gantry.ErrNotFound
	}
	m.audit[id-1].LedgerIndex = index
	return nil
}

func (m *memStore) AuditEvents(_ context.Context, f gantry.AuditFilter) ([]*gantry.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*gantry.AuditEvent
	for i := len(m.audit) - 1; i >= 0; i-- {
		e := m.audit[i]
		if (f.Actor != "" && e.Actor != f.Actor) || (f.Action != "" && e.Action != f.Action) {
			continue
		}
		out = append(out, &e)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}
