package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const attestationColumns = `a.digest, a.run_id, a.stage, a.step, a.kind, a.predicate_type, a.subjects_json,
	a.envelope, a.key_hint, a.ledger_index, a.created_at`

const insertAttestationSQL = `INSERT INTO attestations (digest, run_id, stage, step, kind, predicate_type,
	subjects_json, envelope, key_hint, ledger_index, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// PutAttestations records attestations of known runs, all or none.
func (s *Store) PutAttestations(ctx context.Context, as []*gantry.Attestation) error {
	if err := s.check(); err != nil {
		return err
	}
	subjects := make([]string, len(as))
	for i, a := range as {
		if err := store.CheckAttestation(a); err != nil {
			return err
		}
		b, err := json.Marshal(a.Subjects)
		if err != nil {
			return fmt.Errorf("put attestation %s: %w", a.Digest, err)
		}
		subjects[i] = string(b)
	}
	if len(as) == 0 {
		return nil
	}
	var current *gantry.Attestation
	err := s.write(ctx, func(ctx context.Context) error {
		for i, a := range as {
			current = a
			res, err := s.insertAttestation.ExecContext(ctx, a.Digest, a.RunID, a.Stage, a.Step, a.Kind, a.PredicateType,
				subjects[i], a.Envelope, a.KeyHint, a.LedgerIndex, a.CreatedAt.UnixNano())
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			seen := map[gantry.Digest]bool{}
			for _, sub := range a.Subjects {
				if seen[sub.Digest] {
					continue
				}
				seen[sub.Digest] = true
				if _, err := s.insertSubject.ExecContext(ctx, id, sub.Digest); err != nil {
					return err
				}
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case isForeignKey(err):
		return gantry.Errorf(gantry.ENotFound, "put attestation %s: run %s not found", current.Digest.Short(), current.RunID)
	case isUnique(err):
		return gantry.Errorf(gantry.EConflict, "put attestation %s: already recorded", current.Digest.Short())
	}
	return wrap(err, "put attestation %s", current.Digest.Short())
}

// Attestation returns the attestation with digest d.
func (s *Store) Attestation(ctx context.Context, d gantry.Digest) (*gantry.Attestation, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !store.ValidDigest(d) {
		return nil, gantry.Errorf(gantry.EInvalid, "get attestation: malformed digest %q", d)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+attestationColumns+` FROM attestations a WHERE a.digest = ?`, d)
	if err != nil {
		return nil, fmt.Errorf("get attestation %s: %w", d.Short(), err)
	}
	as, err := scanAttestations(rows)
	if err != nil {
		return nil, fmt.Errorf("get attestation %s: %w", d.Short(), err)
	}
	if len(as) == 0 {
		return nil, gantry.Errorf(gantry.ENotFound, "attestation %s not found", d.Short())
	}
	return as[0], nil
}

// Attestations lists a run's attestations in the order they were put, or
// those with a subject of the filter's digest, newest run first.
func (s *Store) Attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckAttestationFilter(f); err != nil {
		return nil, err
	}
	var (
		q    string
		args []any
	)
	if f.Subject != "" {
		q = `SELECT ` + attestationColumns + ` FROM attestation_subjects sub
			JOIN attestations a ON a.id = sub.attestation JOIN runs r ON r.id = a.run_id
			WHERE sub.digest = ?`
		args = append(args, f.Subject)
		if f.RunID != "" {
			q += ` AND a.run_id = ?`
			args = append(args, f.RunID)
		}
		q += ` ORDER BY r.created_at DESC, r.id DESC, a.id`
	} else {
		q = `SELECT ` + attestationColumns + ` FROM attestations a WHERE a.run_id = ? ORDER BY a.id`
		args = append(args, f.RunID)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list attestations: %w", err)
	}
	as, err := scanAttestations(rows)
	if err != nil {
		return nil, fmt.Errorf("list attestations: %w", err)
	}
	if len(as) == 0 && f.RunID != "" {
		if err := s.exists(ctx, f.RunID); err != nil {
			return nil, wrap(err, "list attestations")
		}
	}
	return as, nil
}

func scanAttestations(rows *sql.Rows) ([]*gantry.Attestation, error) {
	defer rows.Close()
	var as []*gantry.Attestation
	for rows.Next() {
		var (
			a        gantry.Attestation
			subjects string
			created  int64
		)
		if err := rows.Scan(&a.Digest, &a.RunID, &a.Stage, &a.Step, &a.Kind, &a.PredicateType, &subjects,
			&a.Envelope, &a.KeyHint, &a.LedgerIndex, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(subjects), &a.Subjects); err != nil {
			return nil, fmt.Errorf("attestation %s: subjects: %w", a.Digest, err)
		}
		a.CreatedAt = timeOf(sql.NullInt64{Int64: created, Valid: true})
		as = append(as, &a)
	}
	return as, rows.Err()
}
