package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

const jobColumns = `id, run_id, project, labels_json, status, agent, lease_expires, attempts, created_at, finished_at`

// The job statements.
//
// A lease is one UPDATE of the job its subquery picks. A statement that
// writes takes the write lock before it reads (as BEGIN IMMEDIATE does),
// and other stores on the same file wait for it: no two leases read the
// same queue. The subquery walks jobs_leasable, the unfinished jobs
// oldest first, and stops at the first that is queued (lease_expires
// NULL) or whose lease expired before now, and whose labels are all among
// the agent's (?4, a JSON array). INDEXED BY keeps the plan from ever
// turning to a sort.
const (
	enqueueJobSQL = `INSERT INTO jobs (` + jobColumns + `) VALUES (?, ?, ?, ?, 'queued', '', NULL, 0, ?, NULL)`
	leaseJobSQL   = `UPDATE jobs SET status = 'leased', agent = ?1, lease_expires = ?2, attempts = attempts + 1
		WHERE id = (
			SELECT id FROM jobs INDEXED BY jobs_leasable
			WHERE status <> 'finished' AND (lease_expires IS NULL OR lease_expires < ?3)
				AND (labels_json IS NULL OR NOT EXISTS (
					SELECT 1 FROM json_each(labels_json) AS l
					WHERE l.value NOT IN (SELECT a.value FROM json_each(?4) AS a)))
			ORDER BY created_at, id LIMIT 1)
		RETURNING ` + jobColumns
	renewLeaseSQL = `UPDATE jobs SET lease_expires = ? WHERE id = ? AND agent = ? AND status = 'leased'`
	finishJobSQL  = `UPDATE jobs SET status = 'finished', finished_at = ? WHERE id = ? AND agent = ? AND status = 'leased'`
	getJobSQL     = `SELECT ` + jobColumns + ` FROM jobs WHERE id = ?`
	jobExistsSQL  = `SELECT 1 FROM jobs WHERE id = ?`
)

// EnqueueJob queues a new job of a stored run. A job with the same ID is
// an EConflict error; a run that does not exist, ErrNotFound.
func (s *Store) EnqueueJob(ctx context.Context, j *gantry.Job) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckNewJob(j); err != nil {
		return err
	}
	labels, err := jsonArg(j.Labels)
	if err != nil {
		return fmt.Errorf("queue job %s: %w", j.ID, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.enqueueJob.ExecContext(ctx, j.ID, j.RunID, j.Project, labels, j.CreatedAt.UnixNano())
		return err
	})
	switch {
	case isForeignKey(err):
		return gantry.Errorf(gantry.ENotFound, "queue job %s: run %s not found", j.ID, j.RunID)
	case isUnique(err):
		return gantry.Errorf(gantry.EConflict, "queue job %s: job exists already", j.ID)
	case err != nil:
		return wrap(err, "queue job %s", j.ID)
	}
	return nil
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
	have := "[]"
	if len(labels) > 0 {
		b, err := json.Marshal(labels)
		if err != nil {
			return nil, fmt.Errorf("lease job for %s: %w", agent, err)
		}
		have = string(b)
	}
	var j *gantry.Job
	err = s.exclusive(ctx, func(ctx context.Context) error {
		var err error
		j, err = scanJob(s.server.leaseJob.QueryRowContext(ctx, agent, until.UnixNano(), now.UnixNano(), have))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "lease job for %s: no job to run", agent)
	}
	if err != nil {
		return nil, wrap(err, "lease job for %s", agent)
	}
	return j, nil
}

// RenewLease extends agent's lease of job id to until. A job the agent
// does not hold is an EConflict error; an unknown job, ErrNotFound.
func (s *Store) RenewLease(ctx context.Context, id gantry.JobID, agent string, until time.Time) error {
	return s.holderUpdate(ctx, "renew lease of", s.server.renew, id, agent, until)
}

// FinishJob marks a job the agent holds as finished at now; a job it does
// not hold is an EConflict error, an unknown job ErrNotFound.
func (s *Store) FinishJob(ctx context.Context, id gantry.JobID, agent string, now time.Time) error {
	return s.holderUpdate(ctx, "finish", s.server.finishJob, id, agent, now)
}

// holderUpdate runs an update of job id, with arguments t, id and agent,
// that changes the job only while agent holds it.
func (s *Store) holderUpdate(ctx context.Context, what string, stmt *sql.Stmt, id gantry.JobID, agent string, t time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckHolder(id, agent, t); err != nil {
		return err
	}
	n, err := s.execCount(ctx, stmt, t.UnixNano(), id, agent)
	if err != nil {
		return wrap(err, "%s job %s", what, id)
	}
	if n > 0 {
		return nil
	}
	// No job changed: the job is unknown, or the agent does not hold it.
	// Jobs are never deleted, so reading outside the write is enough.
	ok, err := rowExists(ctx, s.server.jobExists, id)
	switch {
	case err != nil:
		return fmt.Errorf("%s job %s: %w", what, id, err)
	case !ok:
		return gantry.Errorf(gantry.ENotFound, "%s job %s: job not found", what, id)
	}
	return gantry.Errorf(gantry.EConflict, "%s job %s: agent %s does not hold it", what, id, agent)
}

// Job returns the job with the given ID.
func (s *Store) Job(ctx context.Context, id gantry.JobID) (*gantry.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	j, err := scanJob(s.server.job.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "job %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
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
	q, args := jobsQuery(f)
	rows, err := s.r.QueryContext(ctx, q, args...)
	jobs, err := scanRows(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

func jobsQuery(f gantry.JobFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	switch f.Status {
	case "":
	case gantry.JobFinished:
		where = append(where, "status = 'finished'")
	default: // from jobs_leasable, which holds the unfinished jobs
		where, args = append(where, "status <> 'finished' AND status = ?"), append(args, f.Status)
	}
	if f.RunID != "" {
		where, args = append(where, "run_id = ?"), append(args, f.RunID)
	}
	q := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at, id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

func scanJob(sc scanner) (*gantry.Job, error) {
	var (
		j                 gantry.Job
		labels            sql.NullString
		status            string
		expires, finished sql.NullInt64
		created           int64
	)
	if err := sc.Scan(&j.ID, &j.RunID, &j.Project, &labels, &status, &j.Agent, &expires, &j.Attempts,
		&created, &finished); err != nil {
		return nil, err
	}
	if err := unmarshalNull(labels, &j.Labels); err != nil {
		return nil, fmt.Errorf("job %s: labels: %w", j.ID, err)
	}
	j.Status = gantry.JobStatus(status)
	j.LeaseExpires, j.FinishedAt = timeOf(expires), timeOf(finished)
	j.CreatedAt = timeAt(created)
	return &j, nil
}
