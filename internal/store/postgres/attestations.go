package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const attestationColumns = `a.digest, a.run_id, a.stage, a.step, a.kind, a.predicate_type, a.subjects_json,
	a.envelope, a.key_hint, a.ledger_index, a.created_at`

// putAttestationSQL inserts one attestation and the distinct digests of
// its subjects.
const putAttestationSQL = `WITH a AS (
	INSERT INTO attestations (digest, run_id, stage, step, kind, predicate_type,
		subjects_json, envelope, key_hint, ledger_index, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
	RETURNING id
)
INSERT INTO attestation_subjects (attestation, digest)
SELECT DISTINCT a.id, d FROM a, unnest($12::text[]) AS d`

// PutAttestations records attestations of known runs, all or none.
func (s *Store) PutAttestations(ctx context.Context, as []*gantry.Attestation) error {
	if err := s.check(); err != nil {
		return err
	}
	b := &pgx.Batch{}
	for _, a := range as {
		if err := store.CheckAttestation(a); err != nil {
			return err
		}
		subjects, err := json.Marshal(a.Subjects)
		if err != nil {
			return fmt.Errorf("put attestation %s: %w", a.Digest.Short(), err)
		}
		digests := make([]string, len(a.Subjects))
		for i, sub := range a.Subjects {
			digests[i] = string(sub.Digest)
		}
		b.Queue(putAttestationSQL, a.Digest, a.RunID, a.Stage, a.Step, a.Kind, a.PredicateType,
			string(subjects), a.Envelope, a.KeyHint, a.LedgerIndex, a.CreatedAt.UnixNano(), digests)
	}
	if len(as) == 0 {
		return nil
	}
	// One batch is one implicit transaction: the first failure undoes the
	// attestations before it, and names the one that failed.
	res := s.pool.SendBatch(ctx, b)
	var err error
	failed := as[0]
	for _, a := range as {
		if _, err = res.Exec(); err != nil {
			failed = a
			break
		}
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	return mapError(err, fmt.Sprintf("put attestation %s", failed.Digest.Short()),
		reason{gantry.ENotFound, fmt.Sprintf("run %s not found", failed.RunID)},
		reason{gantry.EConflict, "already recorded"})
}

// Attestation returns the attestation with digest d.
func (s *Store) Attestation(ctx context.Context, d gantry.Digest) (*gantry.Attestation, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !store.ValidDigest(d) {
		return nil, gantry.Errorf(gantry.EInvalid, "get attestation: malformed digest %q", d)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+attestationColumns+` FROM attestations a WHERE a.digest = $1`, d)
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("get attestation %s", d.Short()))
	}
	as, err := scanAttestations(rows)
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("get attestation %s", d.Short()))
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
	as, err := s.attestations(ctx, f)
	return as, mapError(err, "list attestations")
}

func (s *Store) attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error) {
	var (
		q    string
		args []any
	)
	if f.Subject != "" {
		q = `SELECT ` + attestationColumns + ` FROM attestation_subjects sub
			JOIN attestations a ON a.id = sub.attestation JOIN runs r ON r.id = a.run_id
			WHERE sub.digest = $1`
		args = append(args, f.Subject)
		if f.RunID != "" {
			q += ` AND a.run_id = $2`
			args = append(args, f.RunID)
		}
		q += ` ORDER BY r.created_at DESC, r.id DESC, a.id`
	} else {
		q = `SELECT ` + attestationColumns + ` FROM attestations a WHERE a.run_id = $1 ORDER BY a.id`
		args = append(args, f.RunID)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	as, err := scanAttestations(rows)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 && f.RunID != "" {
		if err := s.runExists(ctx, f.RunID); err != nil {
			return nil, err
		}
	}
	return as, nil
}

func scanAttestations(rows pgx.Rows) ([]*gantry.Attestation, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gantry.Attestation, error) {
		var (
			a        gantry.Attestation
			subjects string
			created  int64
		)
		if err := row.Scan(&a.Digest, &a.RunID, &a.Stage, &a.Step, &a.Kind, &a.PredicateType, &subjects,
			&a.Envelope, &a.KeyHint, &a.LedgerIndex, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(subjects), &a.Subjects); err != nil {
			return nil, fmt.Errorf("attestation %s: subjects: %w", a.Digest, err)
		}
		a.CreatedAt = timeOf(&created)
		return &a, nil
	})
}
