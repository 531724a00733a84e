-- What a server keeps besides runs: projects, the job queue, users with
-- their grants and tokens, audit events, encrypted secrets and agents.
-- Lists of names (labels, scopes, protected branches) and the audit
-- detail are JSON text, NULL when empty. Rows are replaced with
-- INSERT … ON CONFLICT DO UPDATE, never INSERT OR REPLACE, which would
-- delete the row first and cascade to what references it.

CREATE TABLE projects (
	name           TEXT PRIMARY KEY,
	repo_url       TEXT NOT NULL,
	default_branch TEXT NOT NULL,
	pipeline_path  TEXT NOT NULL,
	protected_json TEXT,
	created_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- lease_expires is NULL while a job is queued: a job is leasable when it
-- is not finished and lease_expires is NULL or before now. jobs_leasable
-- holds the unfinished jobs only, oldest first, with all a lease filters
-- on, so that a lease reads the first few entries of a small index,
-- however many finished jobs the table holds, and no row but its job's.
-- It also lists the queued and the leased jobs; finished ones are listed
-- from jobs_by_created. A lease or a finish changes two pages: the job's
-- and its entry in jobs_leasable.
CREATE TABLE jobs (
	id            TEXT PRIMARY KEY,
	run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	project       TEXT NOT NULL,
	labels_json   TEXT,
	status        TEXT NOT NULL,
	agent         TEXT NOT NULL,
	lease_expires INTEGER,
	attempts      INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	finished_at   INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX jobs_leasable ON jobs (created_at, id, status, lease_expires, labels_json) WHERE status <> 'finished';
CREATE INDEX jobs_by_created ON jobs (created_at, id);
CREATE INDEX jobs_by_run ON jobs (run_id, created_at, id);

CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	totp_secret   BLOB,
	server_admin  INTEGER NOT NULL,
	disabled      INTEGER NOT NULL,
	failed_logins INTEGER NOT NULL,
	locked_until  INTEGER,
	created_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A user's grants by the primary key, a project's by grants_by_project.
CREATE TABLE grants (
	user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	project   TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	role      TEXT NOT NULL,
	PRIMARY KEY (user_name, project)
) STRICT, WITHOUT ROWID;

CREATE INDEX grants_by_project ON grants (project, user_name);

-- user_name is a user's name or "agent:NAME": not a foreign key.
CREATE TABLE tokens (
	id          TEXT PRIMARY KEY,
	hash        TEXT NOT NULL UNIQUE,
	user_name   TEXT NOT NULL,
	name        TEXT NOT NULL,
	scopes_json TEXT,
	project     TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	expires_at  INTEGER,
	created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX tokens_by_user ON tokens (user_name, created_at, id);

-- AUTOINCREMENT: an ID is never given twice, even were the newest events
-- deleted behind the store's back, so that a ledger entry names one event.
-- The filters' indexes end with the rowid: newest first is a scan of them
-- backwards.
CREATE TABLE audit_events (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	time         INTEGER NOT NULL,
	actor        TEXT NOT NULL,
	action       TEXT NOT NULL,
	target       TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	remote       TEXT NOT NULL,
	detail_json  TEXT,
	ledger_index INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_by_actor ON audit_events (actor);
CREATE INDEX audit_by_action ON audit_events (action);

CREATE TABLE secrets (
	project    TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	env        TEXT NOT NULL,
	name       TEXT NOT NULL,
	ciphertext BLOB NOT NULL,
	key_id     TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (project, env, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE agents (
	name        TEXT PRIMARY KEY,
	labels_json TEXT,
	concurrency INTEGER NOT NULL,
	public_key  BLOB,
	last_seen   INTEGER,
	created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
