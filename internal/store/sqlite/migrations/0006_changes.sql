-- Changes and their approvals. A change is kept whole as JSON text in
-- doc, beside the columns that find and order it; opened_at and
-- updated_at are what a read gives back as Opened and UpdatedAt, so that
-- a replaced change keeps the Opened of its first put. Project is "" in
-- local mode, so it is not a foreign key to projects.
CREATE TABLE changes (
	project    TEXT NOT NULL,
	id         TEXT NOT NULL,
	opened_at  INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	doc        TEXT NOT NULL,
	PRIMARY KEY (project, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX changes_by_project ON changes (project, opened_at DESC, id DESC);
CREATE INDEX changes_by_opened ON changes (opened_at DESC, id DESC, project DESC);

-- The rowid orders approvals given at the same instant as they were
-- given. The unique key also serves the foreign key and the lists.
CREATE TABLE approvals (
	id          INTEGER PRIMARY KEY,
	project     TEXT NOT NULL,
	change_id   TEXT NOT NULL,
	environment TEXT NOT NULL,
	kind        TEXT NOT NULL,
	approver    TEXT NOT NULL,
	at          INTEGER NOT NULL,
	doc         TEXT NOT NULL,
	UNIQUE (project, change_id, environment, kind, approver),
	FOREIGN KEY (project, change_id) REFERENCES changes (project, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX approvals_by_change ON approvals (project, change_id, at, id);

-- A project's change-management configuration, as YAML text; '' for the
-- defaults.
ALTER TABLE projects ADD COLUMN changes TEXT NOT NULL DEFAULT '';
