-- Changes and their approvals. A change is kept whole as JSON text in
-- doc, beside the columns that find and order it; opened_at and
-- updated_at are what a read gives back as Opened and UpdatedAt, so that
-- a replaced change keeps the Opened of its first put. Project is "" in
-- local mode, so it is not a foreign key to projects.
CREATE TABLE changes (
	project    TEXT COLLATE "C" NOT NULL,
	id         TEXT COLLATE "C" NOT NULL,
	opened_at  BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	doc        TEXT NOT NULL,
	PRIMARY KEY (project, id)
);

CREATE INDEX changes_by_project ON changes (project, opened_at DESC, id DESC);
CREATE INDEX changes_by_opened ON changes (opened_at DESC, id DESC, project DESC);

-- The identity orders approvals given at the same instant as they were
-- given. The unique key also serves the foreign key.
CREATE TABLE approvals (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	project     TEXT COLLATE "C" NOT NULL,
	change_id   TEXT COLLATE "C" NOT NULL,
	environment TEXT COLLATE "C" NOT NULL,
	kind        TEXT COLLATE "C" NOT NULL,
	approver    TEXT COLLATE "C" NOT NULL,
	at          BIGINT NOT NULL,
	doc         TEXT NOT NULL,
	UNIQUE (project, change_id, environment, kind, approver),
	FOREIGN KEY (project, change_id) REFERENCES changes (project, id) ON DELETE CASCADE
);

CREATE INDEX approvals_by_change ON approvals (project, change_id, at, id);

-- A project's change-management configuration, as YAML text; '' for the
-- defaults.
ALTER TABLE projects ADD COLUMN changes TEXT NOT NULL DEFAULT '';
