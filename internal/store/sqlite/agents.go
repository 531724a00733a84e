package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const agentColumns = `name, labels_json, concurrency, public_key, last_seen, created_at`

// The agent statements. A replaced agent keeps its created_at.
const (
	putAgentSQL = `INSERT INTO agents (` + agentColumns + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET labels_json = excluded.labels_json, concurrency = excluded.concurrency,
		public_key = excluded.public_key, last_seen = excluded.last_seen`
	getAgentSQL   = `SELECT ` + agentColumns + ` FROM agents WHERE name = ?`
	listAgentsSQL = `SELECT ` + agentColumns + ` FROM agents ORDER BY name`
)

// PutAgent enrols an agent or replaces the one of that name, which keeps
// its CreatedAt.
func (s *Store) PutAgent(ctx context.Context, a *gantry.Agent) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckAgent(a); err != nil {
		return err
	}
	labels, err := jsonArg(a.Labels)
	if err != nil {
		return fmt.Errorf("put agent %s: %w", a.Name, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putAgent.ExecContext(ctx, a.Name, labels, a.Concurrency, blobArg(a.PublicKey),
			timeArg(a.LastSeen), a.CreatedAt.UnixNano())
		return err
	})
	if err != nil {
		return wrap(err, "put agent %s", a.Name)
	}
	return nil
}

// Agent returns the agent named name.
func (s *Store) Agent(ctx context.Context, name string) (*gantry.Agent, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	a, err := scanAgent(s.server.agent.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "agent %s not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get agent %s: %w", name, err)
	}
	return a, nil
}

// Agents lists every agent by name.
func (s *Store) Agents(ctx context.Context) ([]*gantry.Agent, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.server.agents.QueryContext(ctx)
	as, err := scanRows(rows, err, scanAgent)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}

func scanAgent(sc scanner) (*gantry.Agent, error) {
	var (
		a        gantry.Agent
		labels   sql.NullString
		lastSeen sql.NullInt64
		created  int64
	)
	if err := sc.Scan(&a.Name, &labels, &a.Concurrency, &a.PublicKey, &lastSeen, &created); err != nil {
		return nil, err
	}
	if err := unmarshalNull(labels, &a.Labels); err != nil {
		return nil, fmt.Errorf("agent %s: labels: %w", a.Name, err)
	}
	if len(a.PublicKey) == 0 {
		a.PublicKey = nil
	}
	a.LastSeen, a.CreatedAt = timeOf(lastSeen), timeAt(created)
	return &a, nil
}
