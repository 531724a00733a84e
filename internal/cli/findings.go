package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

func newFindingsCmd(e *env, g *globals) *cobra.Command {
	var format, step string
	cmd := &cobra.Command{
		Use:   "findings [RUN]",
		Short: "List what the security steps of a run found (default: the latest run)",
		Long: `List a run's findings: the stored results of its security steps, waived
ones apart with their waivers. RUN is a run ID, a unique prefix of one, or
"latest". --format sarif writes SARIF 2.1.0.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			ref := "latest"
			if len(args) == 1 {
				ref = args[0]
			}
			r, err := findRun(ctx, st, ref)
			if err != nil {
				return err
			}
			recs, err := st.Findings(ctx, r.ID, step)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(e.stdout)
				for _, rec := range recs {
					if err := enc.Encode(rec); err != nil {
						return err
					}
				}
				return nil
			case "sarif":
				return scan.WriteSARIF(e.stdout, resultsByTool(recs), scan.ToolInfo{Version: Version})
			case "table":
				fmt.Fprintf(e.stdout, "run %s (%s)\n", r.ID, r.Status)
				return scan.WriteTable(e.stdout, resultsByTool(recs), scan.TableOptions{Width: termWidth(e)})
			}
			return gantry.Errorf(gantry.EInvalid, "unknown format %q (want table, json or sarif)", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output `FORMAT`: table, json or sarif")
	cmd.Flags().StringVar(&step, "step", "", "only the findings of this `STEP`")
	return cmd
}

// resultsByTool groups stored findings back into one result per tool.
func resultsByTool(recs []gantry.FindingRecord) []*scan.Result {
	byTool := map[string]*scan.Result{}
	for _, rec := range recs {
		r := byTool[rec.Tool]
		if r == nil {
			r = &scan.Result{Tool: rec.Tool}
			byTool[rec.Tool] = r
		}
		r.Findings = append(r.Findings, rec.Finding)
	}
	out := make([]*scan.Result, 0, len(byTool))
	for _, r := range byTool {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out
}

// termWidth is the width of the terminal e writes to, or 0.
func termWidth(e *env) int {
	if f, ok := e.stdout.(*os.File); ok && e.isTerminal(e.stdout) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			return w
		}
	}
	return 0
}
