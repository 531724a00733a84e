package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/change"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/report"
	"gantry.dev/gantry/internal/server"
)

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

// changeRemote says where gantry change, approve and report read: a
// server's project when --project is given, else the local state.
type changeRemote struct {
	serverConn
	project string
}

func (r *changeRemote) flags(fl interface {
	StringVar(p *string, name, value, usage string)
}) {
	fl.StringVar(&r.project, "project", "", "read the server's `PROJECT` instead of the local state (with --server and a token)")
	r.serverConn.flags(fl)
}

// on reports whether the command talks to a server, and checks that it
// can.
func (r *changeRemote) on(e *env) (bool, error) {
	if r.project == "" {
		if r.server != "" {
			return false, gantry.Errorf(gantry.EInvalid, "--server: say which project with --project NAME")
		}
		return false, nil
	}
	return true, r.resolve(e)
}

// ref resolves latest to the ID of the project's newest change.
func (r *changeRemote) ref(ctx context.Context, ref string) (string, error) {
	if ref != "latest" {
		return ref, nil
	}
	var latest []*gantry.Change
	if err := apiCall(ctx, r.server, r.token, "GET", r.path("/changes?limit=1"), nil, &latest); err != nil {
		return "", err
	}
	if len(latest) == 0 {
		return "", gantry.Errorf(gantry.ENotFound, "project %s has no changes yet", r.project)
	}
	return latest[0].ID, nil
}

func (r *changeRemote) path(rest string) string {
	return "/api/v1/projects/" + url.PathEscape(r.project) + rest
}

// changeView is a change as gantry change show --json prints it, and as
// a server's API returns it.
type changeView struct {
	Change           *gantry.Change     `json:"change"`
	Approvals        []*gantry.Approval `json:"approvals"`
	RetrospectiveDue bool               `json:"retrospective_due"`
	Environments     []change.Readiness `json:"environments"`
}

// viewChange reads a change with its approvals and what each environment
// still needs.
func viewChange(ctx context.Context, e *env, g *globals, r *changeRemote, ref string) (*changeView, error) {
	remote, err := r.on(e)
	if err != nil {
		return nil, err
	}
	if remote {
		if ref, err = r.ref(ctx, ref); err != nil {
			return nil, err
		}
		v := &changeView{}
		if err := apiCall(ctx, r.server, r.token, "GET", r.path("/changes/"+url.PathEscape(ref)), nil, v); err != nil {
			return nil, err
		}
		return v, nil
	}
	st, err := openState(ctx, e, g)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	c, err := findChange(ctx, st, ref)
	if err != nil {
		return nil, err
	}
	approvals, err := st.Approvals(ctx, c.Project, c.ID)
	if err != nil {
		return nil, err
	}
	repo, err := g.repo(e)
	if err != nil {
		return nil, err
	}
	cfg, err := loadChangeRules(e, repo)
	if err != nil {
		return nil, err
	}
	return &changeView{Change: c, Approvals: approvals, RetrospectiveDue: change.RetrospectiveDue(c, approvals),
		Environments: change.ReadinessOf(cfg, c, approvals, time.Now())}, nil
}

func newChangeCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "change",
		Short: "Show changes: their classification, risk factors, approvals and runs",
	}
	var asJSON bool
	showRemote := &changeRemote{}
	show := &cobra.Command{
		Use:   "show [CHANGE|latest]",
		Short: "Show a change: why it is standard, normal or urgent, who approved it, what it still needs",
		Long: `Show a change: its commits, author and reviewers, its class with the risk
score and every factor behind it, its approvals, and what each environment
still needs before it may be deployed there. It reads the local state, or a
server's project with --project NAME (and --server, --token).

CHANGE is a change's ID (the head commit's first 12 hex digits, or pr-N), a
unique prefix of one (locally), or latest.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := "latest"
			if len(args) == 1 {
				ref = args[0]
			}
			v, err := viewChange(cmd.Context(), e, g, showRemote, ref)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, v)
			}
			printChange(e.stdout, v)
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the change, its approvals and readiness as JSON")
	showRemote.flags(show.Flags())
	var limit int
	var due bool
	listRemote := &changeRemote{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List changes, newest first, with their class and approvals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			remote, err := listRemote.on(e)
			if err != nil {
				return err
			}
			var changes []*gantry.Change
			var approvals func(c *gantry.Change) ([]*gantry.Approval, error)
			if remote {
				q := ""
				if limit > 0 && !due {
					q = fmt.Sprintf("?limit=%d", limit)
				}
				if err := apiCall(ctx, listRemote.server, listRemote.token, "GET", listRemote.path("/changes"+q), nil, &changes); err != nil {
					return err
				}
				approvals = func(c *gantry.Change) ([]*gantry.Approval, error) {
					v, err := viewChange(ctx, e, g, listRemote, c.ID)
					if err != nil {
						return nil, err
					}
					return v.Approvals, nil
				}
			} else {
				st, err := openState(ctx, e, g)
				if err != nil {
					return err
				}
				defer st.Close()
				if changes, err = st.Changes(ctx, gantry.ChangeFilter{}); err != nil {
					return err
				}
				approvals = func(c *gantry.Change) ([]*gantry.Approval, error) { return st.Approvals(ctx, c.Project, c.ID) }
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CHANGE\tCLASS\tRISK\tAUTHOR\tOPENED\tAPPROVALS\tTITLE")
			shown := 0
			for _, c := range changes {
				if limit > 0 && shown == limit {
					break
				}
				as, err := approvals(c)
				if err != nil {
					return err
				}
				retro := change.RetrospectiveDue(c, as)
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
					c.Opened.Local().Format(time.DateTime), len(as), oneLine(c.Title, 50))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVarP(&limit, "limit", "n", 20, "show at most `N` changes (0: all)")
	list.Flags().BoolVar(&due, "retrospective-due", false, "only urgent changes whose retrospective review is not done")
	listRemote.flags(list.Flags())
	cmd.AddCommand(show, list)
	return cmd
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
func printChange(w io.Writer, v *changeView) {
	c, approvals := v.Change, v.Approvals
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
	if v.RetrospectiveDue {
		fmt.Fprintf(w, "\nretrospective review due: gantry approve %s --env ENV --retrospective\n", c.ID)
	}
	if c.Classification == nil || len(v.Environments) == 0 {
		return
	}
	fmt.Fprintln(w, "\nenvironments (what the change still needs; the deploying run checks its gates and who deploys):")
	for _, env := range v.Environments {
		if env.Ready {
			fmt.Fprintf(w, "  %-12s ready\n", env.Name)
			continue
		}
		for i, r := range env.Reasons {
			label := ""
			if i == 0 {
				label = env.Name
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
	remote        changeRemote
}

func newApproveCmd(e *env, g *globals) *cobra.Command {
	f := &approveFlags{}
	cmd := &cobra.Command{
		Use:   "approve CHANGE --env ENV",
		Short: "Approve a change for an environment (never your own, unless the project allows it)",
		Long: `Approve a normal change for an environment, or give an urgent change its
retrospective review (--retrospective). In local mode the approver is the git
user (user.email); with --project NAME (and --server, --token) it is the
token's user, on that server's project, under the project's rules. Nobody
may approve a change they wrote, unless the rules (.gantry/changes.yml, or
the project's) document a single-maintainer exception; such an approval
records the exception. Every approval is an audit event in the ledger, and
counts for the change's commits as they are: a new push needs a new one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return approveChange(cmd.Context(), e, g, f, args[0]) },
	}
	cmd.Flags().StringVar(&f.env, "env", "", "the `ENV`ironment the approval is for (required)")
	cmd.Flags().BoolVar(&f.retrospective, "retrospective", false, "give an urgent change its retrospective review")
	cmd.Flags().StringVarP(&f.comment, "comment", "m", "", "why, in your words")
	f.remote.flags(cmd.Flags())
	return cmd
}

func approveChange(ctx context.Context, e *env, g *globals, f *approveFlags, ref string) error {
	if f.env == "" {
		return gantry.Errorf(gantry.EInvalid, "approve: say which environment with --env ENV")
	}
	kind := gantry.ApprovalDeploy
	if f.retrospective {
		kind = gantry.ApprovalRetrospective
	}
	remote, err := f.remote.on(e)
	if err != nil {
		return err
	}
	if remote {
		r := &f.remote
		if ref, err = r.ref(ctx, ref); err != nil {
			return err
		}
		var a gantry.Approval
		err := apiCall(ctx, r.server, r.token, "POST", r.path("/changes/"+url.PathEscape(ref)+"/approvals"),
			map[string]string{"environment": f.env, "kind": kind, "comment": f.comment}, &a)
		if err != nil {
			return err
		}
		printApproval(e.stdout, &a, "")
		return nil
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
	cfg, err := loadChangeRules(e, repo)
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
	keys, err := loadKeys(e, repo, stateDir, false)
	if err != nil {
		return err
	}
	log, err := ledger.Open(ctx, st, keys.ledger, nil)
	if err != nil {
		return err
	}
	now := time.Now()
	ev := &gantry.AuditEvent{Time: now.UTC(), Actor: who, Action: report.ApproveAction, Target: gantry.ChangeName(c.Project, c.ID),
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
	printApproval(e.stdout, a, fmt.Sprintf("; audit event in ledger entry %d", ev.LedgerIndex))
	return nil
}

// printApproval says what was approved, and any exception it records.
func printApproval(w io.Writer, a *gantry.Approval, more string) {
	fmt.Fprintf(w, "approved change %s for %s as %s (%s)%s\n", a.Change, a.Environment, a.Approver, a.Kind, more)
	if a.Exception != "" {
		fmt.Fprintf(w, "recorded as a single-maintainer exception: %s\n", a.Exception)
	}
}
