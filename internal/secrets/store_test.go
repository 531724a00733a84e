package secrets

import (
	"context"
	"path/filepath"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

// newTestStore returns a real SQLite store in a temporary directory with
// the given projects, which secrets need.
func newTestStore(t *testing.T, projects ...string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, p := range projects {
		if err := st.PutProject(ctx, &gantry.Project{Name: p, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}
