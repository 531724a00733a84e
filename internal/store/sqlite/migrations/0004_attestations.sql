-- Signed attestations of steps and gate decisions. The envelope is kept
-- byte for byte: it is what the signature covers. Its Sigstore bundle is
-- made from it and the key hint when asked for.
CREATE TABLE attestations (
	id             INTEGER PRIMARY KEY,
	digest         TEXT NOT NULL UNIQUE,
	run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	stage          TEXT NOT NULL,
	step           TEXT NOT NULL,
	kind           TEXT NOT NULL,
	predicate_type TEXT NOT NULL,
	subjects_json  TEXT NOT NULL,
	envelope       BLOB NOT NULL,
	key_hint       TEXT NOT NULL,
	ledger_index   INTEGER NOT NULL,
	created_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX attestations_by_run ON attestations (run_id, id);

-- Subjects by digest, to find what attests a file.
CREATE TABLE attestation_subjects (
	attestation INTEGER NOT NULL REFERENCES attestations (id) ON DELETE CASCADE,
	digest      TEXT NOT NULL
) STRICT;

CREATE INDEX attestation_subjects_by_digest ON attestation_subjects (digest);
