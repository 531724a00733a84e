-- What a server keeps besides runs: projects, the job queue, users with
-- their grants and tokens, audit events, encrypted secrets and agents.
-- Lists of names (labels, scopes, protected branches) are text arrays;
-- the audit detail is JSON text, NULL when empty.

CREATE TABLE projects (
	name           TEXT COLLATE "C" PRIMARY KEY,
	repo_url       TEXT NOT NULL,
	default_branch TEXT NOT NULL,
	pipeline_path  TEXT NOT NULL,
	protected      TEXT[] NOT NULL,
	created_at     BIGINT NOT NULL
);

-- lease_expires is NULL while a job is queued: a job is leasable when it
-- is not finished and lease_expires is NULL or before now. jobs_leasable
-- holds the unfinished jobs only, oldest first, so that a lease reads
-- the first entries of a small index however many finished jobs the
-- table holds.
CREATE TABLE jobs (
	id            TEXT COLLATE "C" PRIMARY KEY,
	run_id        TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	project       TEXT NOT NULL,
	labels        TEXT[] NOT NULL,
	status        TEXT NOT NULL,
	agent         TEXT NOT NULL,
	lease_expires BIGINT,
	attempts      INTEGER NOT NULL,
	created_at    BIGINT NOT NULL,
	finished_at   BIGINT
);

CREATE INDEX jobs_leasable ON jobs (created_at, id) WHERE status <> 'finished';
CREATE INDEX jobs_by_created ON jobs (created_at, id);
CREATE INDEX jobs_by_status ON jobs (status, created_at, id);
CREATE INDEX jobs_by_run ON jobs (run_id, created_at, id);

CREATE TABLE users (
	name          TEXT COLLATE "C" PRIMARY KEY,
	email         TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	totp_secret   BYTEA,
	server_admin  BOOLEAN NOT NULL,
	disabled      BOOLEAN NOT NULL,
	failed_logins INTEGER NOT NULL,
	locked_until  BIGINT,
	created_at    BIGINT NOT NULL
);

-- A user's grants by the primary key, a project's by grants_by_project.
CREATE TABLE grants (
	user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	project   TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	role      TEXT NOT NULL,
	PRIMARY KEY (user_name, project)
);

CREATE INDEX grants_by_project ON grants (project, user_name);

-- user_name is a user's name or "agent:NAME": not a foreign key.
CREATE TABLE tokens (
	id         TEXT COLLATE "C" PRIMARY KEY,
	hash       TEXT NOT NULL UNIQUE,
	user_name  TEXT NOT NULL,
	name       TEXT NOT NULL,
	scopes     TEXT[] NOT NULL,
	project    TEXT NOT NULL,
	run_id     TEXT NOT NULL,
	expires_at BIGINT,
	created_at BIGINT NOT NULL
);

CREATE INDEX tokens_by_user ON tokens (user_name, created_at, id);

-- An identity never gives an ID twice, even were the newest events
-- deleted behind the store's back, so that a ledger entry names one
-- event.
CREATE TABLE audit_events (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time         BIGINT NOT NULL,
	actor        TEXT NOT NULL,
	action       TEXT NOT NULL,
	target       TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	remote       TEXT NOT NULL,
	detail_json  TEXT,
	ledger_index BIGINT NOT NULL
);

CREATE INDEX audit_by_actor ON audit_events (actor, id);
CREATE INDEX audit_by_action ON audit_events (action, id);

CREATE TABLE secrets (
	project    TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	env        TEXT COLLATE "C" NOT NULL,
	name       TEXT COLLATE "C" NOT NULL,
	ciphertext BYTEA NOT NULL,
	key_id     TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (project, env, name)
);

CREATE TABLE agents (
	name        TEXT COLLATE "C" PRIMARY KEY,
	labels      TEXT[] NOT NULL,
	concurrency INTEGER NOT NULL,
	public_key  BYTEA,
	last_seen   BIGINT,
	created_at  BIGINT NOT NULL
);
