-- Times are int64 nanoseconds since 1970 (UTC); NULL is the zero time.
-- Small nested values (trigger, gate, artifacts lists, meta) are JSON text;
-- everything a query filters or sorts on is a column of its own.
--
-- Every index is paid for on the hot path: each b-tree page a write touches
-- is one more WAL frame per commit. So the tables the engine writes for
-- every step (steps, logs) have one index each, and a run's rows are
-- sorted when read instead.

CREATE TABLE runs (
	id              TEXT PRIMARY KEY,
	project         TEXT NOT NULL,
	pipeline        TEXT NOT NULL,
	pipeline_digest TEXT NOT NULL,
	trigger_json    TEXT NOT NULL,
	status          TEXT NOT NULL,
	reason          TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	started_at      INTEGER,
	finished_at     INTEGER
) STRICT;

CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_project ON runs (project, created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);

CREATE TABLE stages (
	run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	idx         INTEGER NOT NULL,
	status      TEXT NOT NULL,
	gate_json   TEXT NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	PRIMARY KEY (run_id, name),
	UNIQUE (run_id, idx)
) STRICT, WITHOUT ROWID;

-- id is the insertion order, kept when a step is replaced. Steps are read
-- by run and sorted then: there are few per run.
CREATE TABLE steps (
	id             INTEGER PRIMARY KEY,
	run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	stage          TEXT NOT NULL,
	uses           TEXT NOT NULL,
	executor       TEXT NOT NULL,
	image          TEXT NOT NULL,
	status         TEXT NOT NULL,
	exit_code      INTEGER NOT NULL,
	attempts       INTEGER NOT NULL,
	reason         TEXT NOT NULL,
	allow_failure  INTEGER NOT NULL,
	started_at     INTEGER,
	finished_at    INTEGER,
	command_digest TEXT NOT NULL,
	env_digest     TEXT NOT NULL,
	inputs_json    TEXT,
	outputs_json   TEXT,
	log_digest     TEXT NOT NULL,
	sandbox        TEXT NOT NULL,
	meta_json      TEXT,
	UNIQUE (run_id, name)
) STRICT;

-- id is the order lines were appended in. One index serves both reads: a
-- step's lines come from it in id order (an index entry ends with the
-- rowid), a run's lines are sorted by id.
CREATE TABLE logs (
	id     INTEGER PRIMARY KEY,
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step   TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	time   INTEGER,
	stream TEXT NOT NULL,
	text   TEXT NOT NULL
) STRICT;

CREATE INDEX logs_by_step ON logs (run_id, step);

-- The index of the artifacts steps recorded as outputs; a step's rows are
-- replaced with the step.
CREATE TABLE artifacts (
	id     INTEGER PRIMARY KEY,
	run_id TEXT NOT NULL,
	step   TEXT NOT NULL,
	path   TEXT NOT NULL,
	digest TEXT NOT NULL,
	size   INTEGER NOT NULL,
	FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE
) STRICT;

CREATE INDEX artifacts_by_step ON artifacts (run_id, step);

-- Replacing a step drops its artifacts; PutStep inserts the new ones. In a
-- trigger, so that putting a step without outputs is one statement.
CREATE TRIGGER steps_replaced AFTER UPDATE ON steps
BEGIN
	DELETE FROM artifacts WHERE run_id = NEW.run_id AND step = NEW.name;
END;
CREATE INDEX artifacts_by_digest ON artifacts (digest);
