package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/store/sqlite"
)

// storeChanges gives a gate the local store's changes.
type storeChanges struct{ st *sqlite.Store }

func (s storeChanges) ChangeState(ctx context.Context, project, id string, since time.Time) (*change.State, error) {
	return change.LoadState(ctx, s.st, project, id, since)
}

func (s storeChanges) PutChange(ctx context.Context, c *gantry.Change) error {
	return s.st.PutChange(ctx, c)
}

// gitUser is who git says is working in the repository at dir: its
// user.email, or user.name; "" when git knows neither.
func gitUser(ctx context.Context, dir string) string {
	for _, key := range []string{"user.email", "user.name"} {
		cmd := exec.CommandContext(ctx, "git", "config", "--get", key)
		cmd.Dir = dir
		if out, err := cmd.Output(); err == nil {
			if v := strings.TrimSpace(string(out)); v != "" {
				return v
			}
		}
	}
	return ""
}

func newChangeCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "change",
		Short: "Show changes: their classification, risk factors, approvals and runs",
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show [CHANGE|latest]",
		Short: "Show a change: why it is standard, normal or urgent, who approved it, what it still needs",
		Long: `Show a change from the local state: its commits, author and reviewers, its
class with the risk score and every factor behind it, its approvals, and
what each environment still needs before it may be deployed there.

CHANGE is a change's ID (the head commit's first 12 hex digits, or pr-N), a
unique prefix of one, or latest.`,
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
			c, err := findChange(ctx, st, ref)
			if err != nil {
				return err
			}
			approvals, err := st.Approvals(ctx, c.Project, c.ID)
			if err != nil {
				return err
			}
			repo, err := g.repo(e)
			if err != nil {
				return err
			}
			cfg, err := change.LoadConfig(repo)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, changeView{Change: c, Approvals: approvals,
					RetrospectiveDue: change.RetrospectiveDue(c, approvals)})
			}
			printChange(e.stdout, cfg, c, approvals)
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the change and its approvals as JSON")
	var limit int
	var due bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List changes, newest first, with their class and approvals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			changes, err := st.Changes(ctx, gantry.ChangeFilter{})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CHANGE\tCLASS\tRISK\tAUTHOR\tOPENED\tAPPROVALS\tTITLE")
			shown := 0
			for _, c := range changes {
				if limit > 0 && shown == limit {
					break
				}
				approvals, err := st.Approvals(ctx, c.Project, c.ID)
				if err != nil {
					return err
				}
				retro := change.RetrospectiveDue(c, approvals)
				if due && !retro {
					continue
				}
				shown++
				class, risk := "-", "-"
				if cl := c.Classification; cl != nil {
					class, risk = string(cl.Class), fmt.Sprintf("%.1f", cl.Score)
				}
				if retro {
					class += " (retrospective due)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.ID, class, risk, dash(c.Author),
					c.Opened.Local().Format(time.DateTime), len(approvals), oneLine(c.Title, 50))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVarP(&limit, "limit", "n", 20, "show at most `N` changes (0: all)")
	list.Flags().BoolVar(&due, "retrospective-due", false, "only urgent changes whose retrospective review is not done")
	cmd.AddCommand(show, list)
	return cmd
}

// changeView is a change as gantry change show --json prints it.
type changeView struct {
	Change           *gantry.Change     `json:"change"`
	Approvals        []*gantry.Approval `json:"approvals"`
	RetrospectiveDue bool               `json:"retrospective_due"`
}

// findChange resolves "latest", a change ID or a unique prefix of one.
func findChange(ctx context.Context, st gantry.ChangeStore, ref string) (*gantry.Change, error) {
	changes, err := st.Changes(ctx, gantry.ChangeFilter{})
	if err != nil {
		return nil, err
	}
	if ref == "latest" || ref == "" {
		// The change of the newest run, not the oldest change a run
		// touched again.
		var latest *gantry.Change
		for _, c := range changes {
			if latest == nil || c.UpdatedAt.After(latest.UpdatedAt) {
				latest = c
			}
		}
		if latest == nil {
			return nil, gantry.Errorf(gantry.ENotFound, "no changes yet (a run in a git repository records its change)")
		}
		return latest, nil
	}
	var match []*gantry.Change
	for _, c := range changes {
		if c.ID == ref {
			return c, nil
		}
		if strings.HasPrefix(c.ID, ref) {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 0:
		return nil, gantry.Errorf(gantry.ENotFound, "no change %q (see 'gantry change list')", ref)
	case 1:
		return match[0], nil
	}
	return nil, gantry.Errorf(gantry.EInvalid, "%q matches %d changes; give more of the ID", ref, len(match))
}

// printChange writes a change for people.
func printChange(w io.Writer, cfg *change.Config, c *gantry.Change, approvals []*gantry.Approval) {
	fmt.Fprintf(w, "change %s: %s\n", c.ID, c.Title)
	fmt.Fprintf(w, "  author     %s\n", dash(c.Author))
	if c.Branch != "" {
		fmt.Fprintf(w, "  branch     %s", c.Branch)
		if c.BaseBranch != "" && c.BaseBranch != c.Branch {
			fmt.Fprintf(w, " (into %s)", c.BaseBranch)
		}
		fmt.Fprintln(w)
	}
	if pr := c.PullRequest; pr != nil {
		fmt.Fprintf(w, "  pull       #%d %s\n", pr.Number, pr.URL)
	}
	fmt.Fprintf(w, "  opened     %s\n", c.Opened.Local().Format(time.DateTime))
	fmt.Fprintf(w, "  size       %d %s in %d %s\n", c.Lines, plural(c.Lines, "line", "lines"), c.Files, plural(c.Files, "file", "files"))
	fmt.Fprintf(w, "  commits    %d\n", len(c.Commits))
	for _, cm := range c.Commits {
		fmt.Fprintf(w, "    %s  %s  %s\n", shortSHA(cm.SHA), cmp.Or(cm.AuthorEmail, cm.Author), oneLine(cm.Subject, 60))
	}
	for _, r := range c.Reviews {
		fmt.Fprintf(w, "  reviewed   %s by %s\n", r.State, r.Reviewer)
	}
	if c.Urgent != "" {
		fmt.Fprintf(w, "  urgent     %s\n", c.Urgent)
	}
	fmt.Fprintln(w)
	if cl := c.Classification; cl == nil {
		fmt.Fprintln(w, "class: not classified yet (a run's first gate classifies it)")
	} else {
		fmt.Fprintf(w, "class: %s, risk %.1f (normal from %.0f), by run %s\n", cl.Class, cl.Score, cl.Threshold, cl.RunID)
		for _, r := range cl.Reasons {
			fmt.Fprintf(w, "  %s\n", r)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  FACTOR\tSCORE\tWEIGHT\tWHY")
		for _, f := range cl.Factors {
			fmt.Fprintf(tw, "  %s\t%.1f\t%.0f\t%s\n", f.Name, f.Score, f.Weight, f.Detail)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if len(approvals) == 0 {
		fmt.Fprintln(w, "approvals: none")
	} else {
		fmt.Fprintln(w, "approvals:")
	}
	for _, a := range approvals {
		line := fmt.Sprintf("  %s %s for %s by %s", a.At.Local().Format(time.DateTime), a.Kind, a.Environment, a.Approver)
		if a.Role != "" {
			line += " (" + string(a.Role) + ")"
		}
		if a.Exception != "" {
			line += "; single-maintainer exception: " + a.Exception
		}
		if a.Comment != "" {
			line += `: "` + oneLine(a.Comment, 60) + `"`
		}
		fmt.Fprintln(w, line)
	}
	if change.RetrospectiveDue(c, approvals) {
		fmt.Fprintf(w, "\nretrospective review due: gantry approve %s --env ENV --retrospective\n", c.ID)
	}
	if cfg == nil || c.Classification == nil {
		return
	}
	fmt.Fprintln(w, "\nenvironments (approvals and freezes, as of now; the run checks its gates and deployer):")
	now := time.Now()
	for _, name := range cfg.EnvironmentNames() {
		adm := change.Admit(cfg, name, c, approvals, nil, change.Actor{Role: gantry.RoleAdmin}, now)
		var missing []string
		for _, r := range adm.Reasons {
			if strings.Contains(r, "has not passed") {
				continue // gates are the run's business
			}
			missing = append(missing, r)
		}
		if len(missing) == 0 {
			fmt.Fprintf(w, "  %-12s ready\n", name)
			continue
		}
		for i, r := range missing {
			label := ""
			if i == 0 {
				label = name
			}
			fmt.Fprintf(w, "  %-12s %s\n", label, r)
		}
	}
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

type approveFlags struct {
	env           string
	retrospective bool
	comment       string
}

func newApproveCmd(e *env, g *globals) *cobra.Command {
	f := &approveFlags{}
	cmd := &cobra.Command{
		Use:   "approve CHANGE --env ENV",
		Short: "Approve a change for an environment (never your own, unless the project allows it)",
		Long: `Approve a normal change for an environment, or give an urgent change its
retrospective review (--retrospective). In local mode the approver is the git
user (user.email). Nobody may approve a change they wrote, unless
.gantry/changes.yml documents a single-maintainer exception; such an approval
records the exception. Every approval is an audit event in the ledger.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return approveChange(cmd.Context(), e, g, f, args[0]) },
	}
	cmd.Flags().StringVar(&f.env, "env", "", "the `ENV`ironment the approval is for (required)")
	cmd.Flags().BoolVar(&f.retrospective, "retrospective", false, "give an urgent change its retrospective review")
	cmd.Flags().StringVarP(&f.comment, "comment", "m", "", "why, in your words")
	return cmd
}

func approveChange(ctx context.Context, e *env, g *globals, f *approveFlags, ref string) error {
	if f.env == "" {
		return gantry.Errorf(gantry.EInvalid, "approve: say which environment with --env ENV")
	}
	st, _, stateDir, err := openLedgerState(ctx, e, g)
	if err != nil {
		return err
	}
	defer st.Close()
	repo, err := g.repo(e)
	if err != nil {
		return err
	}
	cfg, err := change.LoadConfig(repo)
	if err != nil {
		return err
	}
	c, err := findChange(ctx, st, ref)
	if err != nil {
		return err
	}
	who := gitUser(ctx, repo)
	if who == "" {
		return gantry.Errorf(gantry.EInvalid, "approve: git does not say who you are: set git config user.email")
	}
	kind := gantry.ApprovalDeploy
	if f.retrospective {
		kind = gantry.ApprovalRetrospective
	}
	keys, err := loadKeys(e, repo, stateDir, false)
	if err != nil {
		return err
	}
	log, err := ledger.Open(ctx, st, keys.ledger, nil)
	if err != nil {
		return err
	}
	now := time.Now()
	ev := &gantry.AuditEvent{Time: now.UTC(), Actor: who, Action: "change.approve", Target: c.ID,
		Detail: map[string]string{"environment": f.env, "kind": kind}}
	a, err := change.Approve(cfg, c, f.env, kind, change.Approver{Name: who, Email: who, Role: gantry.RoleAdmin}, now, f.comment)
	if err == nil {
		err = st.PutApproval(ctx, a)
	}
	ev.Outcome = "success"
	if err != nil {
		ev.Outcome = "denied"
		ev.Detail["reason"] = gantry.ErrorMessageOrText(err)
	} else if a.Exception != "" {
		ev.Detail["exception"] = a.Exception
	}
	if aerr := st.AppendAudit(ctx, ev); aerr != nil {
		return errors.Join(err, aerr)
	}
	if lerr := server.LedgerAudit(ctx, log, st, ev); lerr != nil {
		return errors.Join(err, lerr)
	}
	if _, cerr := log.Checkpoint(ctx); cerr != nil {
		return errors.Join(err, cerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "approved change %s for %s as %s (%s); audit event in ledger entry %d\n", c.ID, f.env, who, kind, ev.LedgerIndex)
	if a.Exception != "" {
		fmt.Fprintf(e.stdout, "recorded as a single-maintainer exception: %s\n", a.Exception)
	}
	return nil
}
