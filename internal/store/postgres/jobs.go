package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

var _ gantry.ServerStore = (*Store)(nil)

const jobColumns = `id, run_id, project, labels, status, agent, lease_expires, attempts, created_at, finished_at`

// leaseJobSQL leases the oldest leasable job in one statement, and so one
// transaction: the subquery walks jobs_leasable, the unfinished jobs
// oldest first, to the first that is queued (lease_expires NULL) or whose
// lease expired before now ($3), and whose labels are all among the
// agent's ($4), and locks it. SKIP LOCKED passes over a job that another
// lease, from this server or another, has locked and is taking: it never
// waits, and no job is leased twice. A job that another lease took
// between this statement's snapshot and its lock is checked again on its
// newest version, and passed over as well.
const leaseJobSQL = `UPDATE jobs SET status = 'leased', agent = $1, lease_expires = $2, attempts = attempts + 1
	WHERE id = (
		SELECT id FROM jobs
		WHERE status <> 'finished' AND (lease_expires IS NULL OR lease_expires < $3) AND labels <@ $4::text[]
		ORDER BY created_at, id
		LIMIT 1
		FOR UPDATE SKIP LOCKED)
	RETURNING ` + jobColumns

// EnqueueJob queues a new job of a stored run. A job with the same ID is
// an EConflict error; a run that does not exist, ErrNotFound.
func (s *Store) EnqueueJob(ctx context.Context, j *gantry.Job) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckNewJob(j); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO jobs (`+jobColumns+`)
		VALUES ($1, $2, $3, $4, 'queued', '', NULL, 0, $5, NULL)`,
		j.ID, j.RunID, j.Project, textArray(j.Labels), j.CreatedAt.UnixNano())
	return mapError(err, fmt.Sprintf("queue job %s", j.ID),
		reason{gantry.ENotFound, fmt.Sprintf("run %s not found", j.RunID)},
		reason{gantry.EConflict, "job exists already"})
}

// LeaseJob leases to agent, until now+ttl, the oldest job that is queued,
// or leased with its lease expired before now, and whose labels are all
// among labels; it counts the attempt. No such job is ErrNotFound.
func (s *Store) LeaseJob(ctx context.Context, agent string, labels []string, now time.Time, ttl time.Duration) (*gantry.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	until, err := store.CheckLease(agent, labels, now, ttl)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, leaseJobSQL, agent, until.UnixNano(), now.UnixNano(), textArray(labels))
	if err == nil {
		var j *gantry.Job
		j, err = pgx.CollectExactlyOneRow(rows, scanJob)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, gantry.Errorf(gantry.ENotFound, "lease job for %s: no job to run", agent)
		}
		if err == nil {
			return j, nil
		}
	}
	return nil, mapError(err, fmt.Sprintf("lease job for %s", agent))
}

// RenewLease extends agent's lease of job id to until. A job the agent
// does not hold is an EConflict error; an unknown job, ErrNotFound.
func (s *Store) RenewLease(ctx context.Context, id gantry.JobID, agent string, until time.Time) error {
	return s.holderUpdate(ctx, "renew lease of",
		`UPDATE jobs SET lease_expires = $1 WHERE id = $2 AND agent = $3 AND status = 'leased'`, id, agent, until)
}

// FinishJob marks a job the agent holds as finished at now; a job it does
// not hold is an EConflict error, an unknown job ErrNotFound.
func (s *Store) FinishJob(ctx context.Context, id gantry.JobID, agent string, now time.Time) error {
	return s.holderUpdate(ctx, "finish",
		`UPDATE jobs SET status = 'finished', finished_at = $1 WHERE id = $2 AND agent = $3 AND status = 'leased'`, id, agent, now)
}

// holderUpdate runs q, an update of job id with arguments t, id and
// agent that changes the job only while agent holds it.
func (s *Store) holderUpdate(ctx context.Context, what, q string, id gantry.JobID, agent string, t time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckHolder(id, agent, t); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, q, t.UnixNano(), id, agent)
	if err != nil {
		return mapError(err, fmt.Sprintf("%s job %s", what, id))
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	// No job changed: the job is unknown, or the agent does not hold it.
	// Jobs are not deleted but with their run, so reading after the
	// update is enough.
	var one int
	err = s.pool.QueryRow(ctx, `SELECT 1 FROM jobs WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return gantry.Errorf(gantry.ENotFound, "%s job %s: job not found", what, id)
	case err != nil:
		return mapError(err, fmt.Sprintf("%s job %s", what, id))
	}
	return gantry.Errorf(gantry.EConflict, "%s job %s: agent %s does not hold it", what, id, agent)
}

// Job returns the job with the given ID.
func (s *Store) Job(ctx context.Context, id gantry.JobID) (*gantry.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id)
	if err == nil {
		var j *gantry.Job
		j, err = pgx.CollectExactlyOneRow(rows, scanJob)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, gantry.Errorf(gantry.ENotFound, "job %s not found", id)
		}
		if err == nil {
			return j, nil
		}
	}
	return nil, mapError(err, fmt.Sprintf("get job %s", id))
}

// Jobs lists jobs oldest first (by CreatedAt, then ID), of a status and a
// run when the filter says, at most f.Limit of them when it is above 0.
func (s *Store) Jobs(ctx context.Context, f gantry.JobFilter) ([]*gantry.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := store.CheckJobFilter(f); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	}
	if f.RunID != "" {
		args = append(args, f.RunID)
		where = append(where, "run_id = $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at, id`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	jobs, err := getAll(ctx, s.pool, scanJob, q, args...)
	return jobs, mapError(err, "list jobs")
}

func scanJob(row pgx.CollectableRow) (*gantry.Job, error) {
	var (
		j                 gantry.Job
		expires, finished *int64
		created           int64
	)
	if err := row.Scan(&j.ID, &j.RunID, &j.Project, &j.Labels, &j.Status, &j.Agent, &expires, &j.Attempts,
		&created, &finished); err != nil {
		return nil, err
	}
	j.Labels = nilIfEmpty(j.Labels)
	j.LeaseExpires, j.FinishedAt, j.CreatedAt = timeOf(expires), timeOf(finished), timeOf(&created)
	return &j, nil
}

// textArray returns list, or an empty list for nil, which pgx would send
// as NULL.
func textArray(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// nilIfEmpty returns nil for an empty list, so that an empty list comes
// back as the SQLite store gives it: nil.
func nilIfEmpty[T any](list []T) []T {
	if len(list) == 0 {
		return nil
	}
	return list
}
