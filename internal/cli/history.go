package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/store/sqlite"
)

// openState opens the local state for reading; no state yet is a clear
// not-found error rather than an empty database left behind.
func openState(ctx context.Context, e *env, g *globals) (*sqlite.Store, error) {
	dir, err := g.state(e)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "gantry.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, gantry.Errorf(gantry.ENotFound, "no runs yet in %s (start one with 'gantry run')", displayPath(dir))
	}
	return sqlite.Open(ctx, path)
}

// findRun resolves "latest", a full run ID or a unique prefix of one.
func findRun(ctx context.Context, st gantry.RunStore, ref string) (*gantry.Run, error) {
	if ref == "latest" || ref == "" {
		runs, err := st.Runs(ctx, gantry.RunFilter{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return nil, gantry.Errorf(gantry.ENotFound, "no runs yet")
		}
		return runs[0], nil
	}
	if r, err := st.Run(ctx, gantry.RunID(ref)); err == nil {
		return r, nil
	} else if !errors.Is(err, gantry.ErrNotFound) {
		return nil, err
	}
	runs, err := st.Runs(ctx, gantry.RunFilter{})
	if err != nil {
		return nil, err
	}
	var match []*gantry.Run
	for _, r := range runs {
		if strings.HasPrefix(string(r.ID), ref) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return nil, gantry.Errorf(gantry.ENotFound, "no run %q (see 'gantry runs')", ref)
	case 1:
		return match[0], nil
	}
	return nil, gantry.Errorf(gantry.EInvalid, "%q matches %d runs; give more of the ID", ref, len(match))
}

func newRunsCmd(e *env, g *globals) *cobra.Command {
	var limit int
	var asJSON bool
	var status string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List past runs from local state, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			filter := gantry.RunFilter{Limit: limit}
			if status != "" {
				s, err := gantry.ParseStatus(status)
				if err != nil {
					return err
				}
				filter.Status = s
			}
			st, err := openState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.Runs(ctx, filter)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				for _, r := range runs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tSTARTED\tDURATION\tBRANCH\tCOMMIT\tREASON")
			for _, r := range runs {
				commit := r.Trigger.Commit
				if len(commit) > 10 {
					commit = commit[:10]
				}
				fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", r.ID, symbol(r.Status), r.Status,
					r.StartedAt.Local().Format(time.DateTime), round(r.Duration()), dash(r.Trigger.Branch), dash(commit), oneLine(r.Reason, 60))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most `N` runs (0: all)")
	cmd.Flags().StringVar(&status, "status", "", "only runs with this `STATUS`")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print runs as JSON lines")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newLogsCmd(e *env, g *globals) *cobra.Command {
	var asJSON, timestamps bool
	cmd := &cobra.Command{
		Use:   "logs RUN [STEP]",
		Short: "Print the stored (masked) log of a run, or of one of its steps",
		Long:  "Print a run's stored log. RUN is a run ID, a unique prefix of one, or \"latest\".",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := findRun(ctx, st, args[0])
			if err != nil {
				return err
			}
			step := ""
			if len(args) == 2 {
				step = args[1]
				steps, err := st.Steps(ctx, r.ID)
				if err != nil {
					return err
				}
				var names []string
				found := false
				for _, s := range steps {
					names = append(names, s.Name)
					found = found || s.Name == step
				}
				if !found {
					return gantry.Errorf(gantry.ENotFound, "run %s has no step %q (it has: %s)", r.ID, step, strings.Join(names, ", "))
				}
			}
			lines, err := st.Logs(ctx, r.ID, step)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			for _, l := range lines {
				switch {
				case asJSON:
					if err := enc.Encode(l); err != nil {
						return err
					}
				case step != "" && !timestamps:
					fmt.Fprintln(e.stdout, l.Text)
				default:
					prefix := ""
					if timestamps {
						prefix = l.Time.Local().Format("15:04:05.000") + " "
					}
					if step == "" {
						prefix += l.Step + " │ "
					}
					fmt.Fprintln(e.stdout, prefix+l.Text)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print lines as JSON")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "show each line's time")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
