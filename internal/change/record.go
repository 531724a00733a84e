package change

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gantry.dev/gantry"
)

// Record records that run belongs to c, a change as its source sees it
// (git, a webhook): a change already stored keeps when it was opened, its
// runs, its declared urgency and, unless c carries one, its
// classification; c's commits, size and reviews replace the stored ones,
// so that a pull request's new pushes count. It returns the change as
// stored.
func Record(ctx context.Context, st gantry.ChangeStore, c *gantry.Change, run gantry.RunID, now time.Time) (*gantry.Change, error) {
	n := *c
	old, err := st.Change(ctx, c.Project, c.ID)
	switch {
	case err == nil:
		n.Opened = old.Opened
		n.Runs = slices.Clone(old.Runs)
		if n.Classification == nil {
			n.Classification = old.Classification
		}
		if n.Urgent == "" {
			n.Urgent = old.Urgent
		}
	case errors.Is(err, gantry.ErrNotFound):
		if n.Opened.IsZero() {
			n.Opened = now
		}
	default:
		return nil, fmt.Errorf("read change %s: %w", c.ID, err)
	}
	if run != "" && !slices.Contains(n.Runs, run) {
		n.Runs = append(n.Runs, run)
	}
	n.UpdatedAt = now
	if err := st.PutChange(ctx, &n); err != nil {
		return nil, fmt.Errorf("record change %s: %w", c.ID, err)
	}
	return &n, nil
}
