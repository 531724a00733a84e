package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// TestChangesMigration: a database of the schema before changes keeps its
// projects, with no change configuration, and takes changes after Open
// migrates it.
func TestChangesMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gantry.db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	var before int
	for i, m := range ms {
		if m.Name == "0006_changes.sql" {
			before = i
		}
	}
	if before == 0 {
		t.Fatal("no migration 0006_changes.sql")
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	err = migrate(ctx, db, ms[:before], created)
	if err == nil {
		_, err = db.ExecContext(ctx, `INSERT INTO projects (name, repo_url, default_branch, pipeline_path, created_at)
			VALUES ('shop', 'https://git.example.com/acme/shop.git', 'main', '.gantry.yml', ?)`, created.UnixNano())
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Project(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p.Changes != "" || !p.CreatedAt.Equal(created) {
		t.Errorf("project after the migration: Changes %q, CreatedAt %v; want \"\", %v", p.Changes, p.CreatedAt, created)
	}
	c := &gantry.Change{ID: "pr-1", Project: "shop", Opened: created, UpdatedAt: created}
	if err := s.PutChange(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Change(ctx, "shop", "pr-1"); err != nil {
		t.Fatal(err)
	}
}
