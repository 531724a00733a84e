-- Findings of security scanners, by run and step. The finding itself is
-- JSON; what is filtered or sorted on is a column.
CREATE TABLE findings (
	id          INTEGER PRIMARY KEY,
	run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step        TEXT NOT NULL,
	tool        TEXT NOT NULL,
	rule_id     TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	fingerprint TEXT NOT NULL,
	path        TEXT NOT NULL,
	line        INTEGER NOT NULL,
	json        TEXT NOT NULL
) STRICT;

CREATE INDEX findings_by_run ON findings (run_id, step);
