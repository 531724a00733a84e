package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store"
)

var _ gantry.ServerStore = (*Store)(nil)

// serverStmts are the prepared statements of the server's records. (Jobs
// and AuditEvents build theirs from the filter.)
type serverStmts struct {
	// On w.
	putProject                             *sql.Stmt
	enqueueJob, leaseJob, renew, finishJob *sql.Stmt
	putUser, putGrant, deleteGrant         *sql.Stmt
	putToken, deleteToken                  *sql.Stmt
	appendAudit, setLedgerIndex            *sql.Stmt
	putSecret, deleteSecret                *sql.Stmt
	putAgent                               *sql.Stmt
	putChange, putApproval                 *sql.Stmt
	// On r.
	project, projects                *sql.Stmt
	job, jobExists                   *sql.Stmt
	user, users, userExists          *sql.Stmt
	userGrants, projectGrants, grant *sql.Stmt
	tokenByHash, tokens              *sql.Stmt
	auditExists                      *sql.Stmt
	secret, secrets, agent, agents   *sql.Stmt
	change, approvals                *sql.Stmt
}

func (s *Store) prepareServer(ctx context.Context) error {
	st := &s.server
	for _, p := range []struct {
		on   preparer
		stmt **sql.Stmt
		sql  string
	}{
		{s.w, &st.putProject, putProjectSQL},
		{s.w, &st.enqueueJob, enqueueJobSQL},
		{s.w, &st.leaseJob, leaseJobSQL},
		{s.w, &st.renew, renewLeaseSQL},
		{s.w, &st.finishJob, finishJobSQL},
		{s.w, &st.putUser, putUserSQL},
		{s.w, &st.putGrant, putGrantSQL},
		{s.w, &st.deleteGrant, `DELETE FROM grants WHERE user_name = ? AND project = ?`},
		{s.w, &st.putToken, putTokenSQL},
		{s.w, &st.deleteToken, `DELETE FROM tokens WHERE id = ?`},
		{s.w, &st.appendAudit, appendAuditSQL},
		{s.w, &st.setLedgerIndex, setLedgerIndexSQL},
		{s.w, &st.putSecret, putSecretSQL},
		{s.w, &st.deleteSecret, `DELETE FROM secrets WHERE project = ? AND env = ? AND name = ?`},
		{s.w, &st.putAgent, putAgentSQL},
		{s.w, &st.putChange, putChangeSQL},
		{s.w, &st.putApproval, putApprovalSQL},
		{s.r, &st.project, getProjectSQL},
		{s.r, &st.projects, listProjectsSQL},
		{s.r, &st.job, getJobSQL},
		{s.r, &st.jobExists, jobExistsSQL},
		{s.r, &st.user, getUserSQL},
		{s.r, &st.users, listUsersSQL},
		{s.r, &st.userExists, userExistsSQL},
		{s.r, &st.userGrants, userGrantsSQL},
		{s.r, &st.projectGrants, projectGrantsSQL},
		{s.r, &st.grant, grantSQL},
		{s.r, &st.tokenByHash, tokenByHashSQL},
		{s.r, &st.tokens, listTokensSQL},
		{s.r, &st.auditExists, auditExistsSQL},
		{s.r, &st.secret, getSecretSQL},
		{s.r, &st.secrets, listSecretsSQL},
		{s.r, &st.agent, getAgentSQL},
		{s.r, &st.agents, listAgentsSQL},
		{s.r, &st.change, getChangeSQL},
		{s.r, &st.approvals, listApprovalsSQL},
	} {
		stmt, err := p.on.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = stmt
	}
	return nil
}

func (st *serverStmts) all() []*sql.Stmt {
	return []*sql.Stmt{st.putProject, st.enqueueJob, st.leaseJob, st.renew, st.finishJob,
		st.putUser, st.putGrant, st.deleteGrant, st.putToken, st.deleteToken, st.appendAudit,
		st.setLedgerIndex, st.putSecret, st.deleteSecret, st.putAgent,
		st.project, st.projects, st.job, st.jobExists, st.user, st.users, st.userExists,
		st.userGrants, st.projectGrants, st.grant, st.tokenByHash, st.tokens,
		st.auditExists, st.secret, st.secrets, st.agent, st.agents,
		st.putChange, st.putApproval, st.change, st.approvals}
}

const projectColumns = `name, repo_url, default_branch, pipeline_path, protected_json, changes, created_at`

// The project statements. A replaced project keeps its created_at.
const (
	putProjectSQL = `INSERT INTO projects (` + projectColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET repo_url = excluded.repo_url, default_branch = excluded.default_branch,
		pipeline_path = excluded.pipeline_path, protected_json = excluded.protected_json, changes = excluded.changes`
	getProjectSQL   = `SELECT ` + projectColumns + ` FROM projects WHERE name = ?`
	listProjectsSQL = `SELECT ` + projectColumns + ` FROM projects ORDER BY name`
)

// PutProject creates a project or replaces the one of that name, which
// keeps its CreatedAt.
func (s *Store) PutProject(ctx context.Context, p *gantry.Project) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := store.CheckProject(p); err != nil {
		return err
	}
	protected, err := jsonArg(p.ProtectedBranches)
	if err != nil {
		return fmt.Errorf("put project %s: %w", p.Name, err)
	}
	err = s.exclusive(ctx, func(ctx context.Context) error {
		_, err := s.server.putProject.ExecContext(ctx, p.Name, p.RepoURL, p.DefaultBranch, p.PipelinePath,
			protected, p.Changes, p.CreatedAt.UnixNano())
		return err
	})
	if err != nil {
		return wrap(err, "put project %s", p.Name)
	}
	return nil
}

// Project returns the project named name.
func (s *Store) Project(ctx context.Context, name string) (*gantry.Project, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	p, err := scanProject(s.server.project.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gantry.Errorf(gantry.ENotFound, "project %s not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get project %s: %w", name, err)
	}
	return p, nil
}

// Projects lists every project by name.
func (s *Store) Projects(ctx context.Context) ([]*gantry.Project, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.server.projects.QueryContext(ctx)
	ps, err := scanRows(rows, err, scanProject)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return ps, nil
}

func scanProject(sc scanner) (*gantry.Project, error) {
	var (
		p         gantry.Project
		protected sql.NullString
		created   int64
	)
	if err := sc.Scan(&p.Name, &p.RepoURL, &p.DefaultBranch, &p.PipelinePath, &protected, &p.Changes, &created); err != nil {
		return nil, err
	}
	if err := unmarshalNull(protected, &p.ProtectedBranches); err != nil {
		return nil, fmt.Errorf("project %s: protected branches: %w", p.Name, err)
	}
	p.CreatedAt = timeAt(created)
	return &p, nil
}

// scanRows scans every row of a query's result with scan, and closes
// the rows; err is the query's error.
func scanRows[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	return list, rows.Err()
}

// timeAt is the time of n nanoseconds since 1970, in UTC.
func timeAt(n int64) time.Time { return time.Unix(0, n).UTC() }

// blobArg returns NULL for an empty slice, so that nil and empty come
// back alike: nil.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// rowExists reports whether q (a SELECT 1 …) finds a row.
func rowExists(ctx context.Context, q *sql.Stmt, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
