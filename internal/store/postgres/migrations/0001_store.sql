-- The local store: runs, stages, steps, logs, artifacts, findings,
-- attestations and the ledger.
--
-- Times are BIGINT nanoseconds since 1970 (UTC), NULL for the zero time:
-- PostgreSQL's timestamps keep only microseconds. Small nested values
-- (trigger, gate, artifact lists, meta, a finding) are JSON text, which
-- Go's encoder always makes valid UTF-8; what a query filters or sorts on
-- is a column of its own. Text that is sorted on is COLLATE "C", so that
-- it sorts by bytes, as in every other store, whatever the database's
-- locale.

CREATE TABLE runs (
	id              TEXT COLLATE "C" PRIMARY KEY,
	project         TEXT NOT NULL,
	branch          TEXT NOT NULL, -- the trigger's, to filter on
	pipeline        TEXT NOT NULL,
	pipeline_digest TEXT NOT NULL,
	trigger_json    TEXT NOT NULL,
	status          TEXT NOT NULL,
	reason          TEXT NOT NULL,
	created_at      BIGINT NOT NULL,
	started_at      BIGINT,
	finished_at     BIGINT
);

CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_project ON runs (project, created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);
CREATE INDEX runs_by_branch ON runs (branch, created_at DESC, id DESC);

CREATE TABLE stages (
	run_id      TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name        TEXT COLLATE "C" NOT NULL,
	idx         INTEGER NOT NULL,
	status      TEXT NOT NULL,
	gate_json   TEXT NOT NULL,
	started_at  BIGINT,
	finished_at BIGINT,
	PRIMARY KEY (run_id, name),
	UNIQUE (run_id, idx)
);

-- id is the order steps were first put in, kept when a step is replaced.
CREATE TABLE steps (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id         TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name           TEXT COLLATE "C" NOT NULL,
	stage          TEXT NOT NULL,
	uses           TEXT NOT NULL,
	executor       TEXT NOT NULL,
	image          TEXT NOT NULL,
	status         TEXT NOT NULL,
	exit_code      INTEGER NOT NULL,
	attempts       INTEGER NOT NULL,
	reason         TEXT NOT NULL,
	allow_failure  BOOLEAN NOT NULL,
	started_at     BIGINT,
	finished_at    BIGINT,
	command_digest TEXT NOT NULL,
	env_digest     TEXT NOT NULL,
	inputs_json    TEXT,
	outputs_json   TEXT,
	log_digest     TEXT NOT NULL,
	sandbox        TEXT NOT NULL,
	meta_json      TEXT,
	UNIQUE (run_id, name)
);

-- id is the order lines were appended in. text is BYTEA: a step's output
-- is bytes, and PostgreSQL's TEXT refuses NUL and invalid UTF-8.
CREATE TABLE logs (
	id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step   TEXT COLLATE "C" NOT NULL,
	seq    BIGINT NOT NULL,
	time   BIGINT,
	stream TEXT NOT NULL,
	text   BYTEA NOT NULL
);

CREATE INDEX logs_by_step ON logs (run_id, step, id);

-- The index of the artifacts steps recorded as outputs, replaced with
-- the step; id is the order of the step's Outputs.
CREATE TABLE artifacts (
	id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id TEXT COLLATE "C" NOT NULL,
	step   TEXT COLLATE "C" NOT NULL,
	path   TEXT NOT NULL,
	digest TEXT COLLATE "C" NOT NULL,
	size   BIGINT NOT NULL,
	FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE
);

CREATE INDEX artifacts_by_step ON artifacts (run_id, step);
CREATE INDEX artifacts_by_digest ON artifacts (digest);

CREATE TABLE findings (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id      TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step        TEXT COLLATE "C" NOT NULL,
	tool        TEXT COLLATE "C" NOT NULL,
	rule_id     TEXT COLLATE "C" NOT NULL,
	severity    INTEGER NOT NULL,
	fingerprint TEXT NOT NULL,
	path        TEXT COLLATE "C" NOT NULL,
	line        INTEGER NOT NULL,
	json        TEXT NOT NULL
);

CREATE INDEX findings_by_run ON findings (run_id, step);

-- Signed attestations; the envelope is kept byte for byte: it is what
-- the signature covers.
CREATE TABLE attestations (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	digest         TEXT COLLATE "C" NOT NULL UNIQUE,
	run_id         TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	stage          TEXT NOT NULL,
	step           TEXT NOT NULL,
	kind           TEXT NOT NULL,
	predicate_type TEXT NOT NULL,
	subjects_json  TEXT NOT NULL,
	envelope       BYTEA NOT NULL,
	key_hint       TEXT NOT NULL,
	ledger_index   BIGINT NOT NULL,
	created_at     BIGINT NOT NULL
);

CREATE INDEX attestations_by_run ON attestations (run_id, id);

-- Subjects by digest, to find what attests a file.
CREATE TABLE attestation_subjects (
	attestation BIGINT NOT NULL REFERENCES attestations (id) ON DELETE CASCADE,
	digest      TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (digest, attestation)
);

-- The transparency log (internal/ledger): entries by index, the Merkle
-- tree's stored hashes by stored-hash index (as golang.org/x/mod/sumdb/tlog
-- numbers them), signed checkpoints by tree size (note: a C2SP signed
-- note) and inclusion proofs by entry (hashes: 32 bytes each, leaf to
-- root).
CREATE TABLE ledger_entries (
	idx        BIGINT PRIMARY KEY,
	data       BYTEA NOT NULL,
	created_at BIGINT
);

CREATE TABLE ledger_hashes (
	idx  BIGINT PRIMARY KEY,
	hash BYTEA NOT NULL
);

CREATE TABLE ledger_checkpoints (
	size       BIGINT PRIMARY KEY,
	note       BYTEA NOT NULL,
	created_at BIGINT
);

CREATE TABLE ledger_proofs (
	idx       BIGINT PRIMARY KEY,
	tree_size BIGINT NOT NULL,
	hashes    BYTEA NOT NULL
);
