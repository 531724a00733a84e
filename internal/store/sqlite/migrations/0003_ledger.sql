-- The transparency log (internal/ledger). Every table is keyed by an
-- integer that is its rowid, so that appends go to the end of one b-tree
-- and reads of a range are one scan: entries by index, the Merkle tree's
-- stored hashes by stored-hash index (as golang.org/x/mod/sumdb/tlog
-- numbers them), checkpoints by tree size and inclusion proofs by the
-- index of their entry. Nothing else is indexed: nothing else is looked up.
CREATE TABLE ledger_entries (
	idx        INTEGER PRIMARY KEY,
	data       BLOB NOT NULL,
	created_at INTEGER
) STRICT;

CREATE TABLE ledger_hashes (
	idx  INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
) STRICT;

-- note is the signed note, C2SP tlog-checkpoint.
CREATE TABLE ledger_checkpoints (
	size       INTEGER PRIMARY KEY,
	note       BLOB NOT NULL,
	created_at INTEGER
) STRICT;

-- hashes is the proof's hashes, 32 bytes each, leaf to root.
CREATE TABLE ledger_proofs (
	idx       INTEGER PRIMARY KEY,
	tree_size INTEGER NOT NULL,
	hashes    BLOB NOT NULL
) STRICT;
