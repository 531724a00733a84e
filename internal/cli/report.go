package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/report"
)

type reportFlags struct {
	from, to  string
	format    string
	out       string
	protected []string
	remote    changeRemote
}

func newReportCmd(e *env, g *globals) *cobra.Command {
	f := &reportFlags{}
	cmd := &cobra.Command{
		Use:   "report [--from DATE --to DATE] --format oscal|html -o FILE",
		Short: "Write a compliance report of the period's changes: OSCAL assessment results or HTML",
		Long: `Write every change opened in a period with its classification, approvals,
gate decisions and evidence links (ledger entry and inclusion proof), and the
controls they evidence: NIST SP 800-53 CM-3, CM-4, CM-5, SA-10, SA-11, AU-9,
AU-10, RA-5, SI-7, SR-4 and SOC 2 CC8.1.

--format oscal writes OSCAL 1.1 assessment results (JSON), which
'gantry verify --report FILE' checks offline; --format html writes a report
for people, with charts, printable to PDF from a browser.

DATE is YYYY-MM-DD (UTC) or RFC 3339; --to is exclusive and defaults to now,
--from to the first change. With --project NAME (and --server, --token) the
server writes the report of its project.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return writeComplianceReport(cmd.Context(), e, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "report changes opened from `DATE` on")
	fl.StringVar(&f.to, "to", "", "report changes opened before `DATE`")
	fl.StringVar(&f.format, "format", "oscal", "oscal or html")
	fl.StringVarP(&f.out, "output", "o", "", "the `FILE` to write (required)")
	fl.StringSliceVar(&f.protected, "protected-branch", []string{"main", "master", "release/*"}, "branch `GLOB`s that are protected on the forge (locally; a server uses its project's)")
	f.remote.flags(fl)
	return cmd
}

func writeComplianceReport(ctx context.Context, e *env, g *globals, f *reportFlags) error {
	var write func(io.Writer, *report.Report) error
	switch f.format {
	case "oscal":
		write = report.WriteOSCAL
	case "html":
		write = report.WriteHTML
	default:
		return gantry.Errorf(gantry.EInvalid, "--format %q: expected oscal or html", f.format)
	}
	if f.out == "" {
		return gantry.Errorf(gantry.EInvalid, "report: say where to write it with -o FILE")
	}
	from, err := report.ParseBound("--from", f.from)
	if err != nil {
		return err
	}
	to, err := report.ParseBound("--to", f.to)
	if err != nil {
		return err
	}
	out := f.out
	if !filepath.IsAbs(out) && g.dir != "" {
		out = filepath.Join(g.dir, out)
	}
	remote, err := f.remote.on(e)
	if err != nil {
		return err
	}
	if remote {
		q := url.Values{"format": {f.format}}
		if f.from != "" {
			q.Set("from", f.from)
		}
		if f.to != "" {
			q.Set("to", f.to)
		}
		var body []byte
		if err := apiCall(ctx, f.remote.server, f.remote.token, "GET", f.remote.path("/report?"+q.Encode()), nil, &body); err != nil {
			return err
		}
		err := writeFileAtomic(out, func(w io.Writer) error { _, err := w.Write(body); return err }, func() {})
		if err != nil {
			return fmt.Errorf("report: write %s: %w", f.out, err)
		}
		fmt.Fprintf(e.stdout, "report: %s of project %s (%d bytes) written to %s\n", f.format, f.remote.project, len(body), f.out)
		return nil
	}
	st, err := openState(ctx, e, g)
	if err != nil {
		return err
	}
	defer st.Close()
	repo, err := g.repo(e)
	if err != nil {
		return err
	}
	r, unproven, err := report.Collect(ctx, st, report.CollectOptions{
		From: from, To: to, System: ledgerSystem(repo), ProtectedBranches: f.protected,
	})
	if err != nil {
		return err
	}
	if len(r.Changes) == 0 {
		return gantry.Errorf(gantry.ENotFound, "report: no changes opened in the period")
	}
	err = writeFileAtomic(out, func(w io.Writer) error { return write(w, r) }, func() {})
	if err != nil {
		return fmt.Errorf("report: write %s: %w", f.out, err)
	}
	links := 0
	classes := map[report.Class]int{}
	for _, c := range r.Changes {
		links += len(c.Evidence)
		classes[c.Classification.Class]++
	}
	fmt.Fprintf(e.stdout, "report: %d %s (%d standard, %d normal, %d urgent) with %d evidence links, %s to %s, written to %s\n",
		len(r.Changes), plural(len(r.Changes), "change", "changes"), classes[report.Standard], classes[report.Normal], classes[report.Urgent],
		links, r.From.UTC().Format(time.DateOnly), r.To.UTC().Format(time.DateOnly), f.out)
	if unproven > 0 {
		fmt.Fprintf(e.stdout, "report: %d %s of runs still going are not under a signed checkpoint yet and are left out\n",
			unproven, plural(unproven, "attestation", "attestations"))
	}
	return nil
}

// ledgerSystem names what a local report assesses: the repository.
func ledgerSystem(repo string) string {
	return "Gantry changes of " + filepath.Base(repo)
}

// verifyReport checks every evidence link of an OSCAL report offline.
func verifyReport(ctx context.Context, e *env, g *globals, f *verifyFlags) error {
	data, err := os.ReadFile(f.report)
	if err != nil {
		return gantry.Errorf(gantry.ENotFound, "verify: %v", err)
	}
	var key note.Verifier
	from := "--ledger-key"
	if f.ledgerKey != "" {
		if key, err = readLedgerKey(f.ledgerKey); err != nil {
			return err
		}
	} else {
		st, pub, _, err := openLedgerState(ctx, e, g)
		if err != nil {
			return fmt.Errorf("verify: no --ledger-key given and no local state to take it from: %w", err)
		}
		st.Close()
		key, from = pub.Ledger, "the local state"
	}
	res, err := report.Verify(ctx, data, key)
	if err != nil {
		fmt.Fprintf(e.stderr, "gantry: verify %s: FAILED\n", f.report)
		return err
	}
	fmt.Fprintf(e.stdout, "report %s: %d evidence %s of %d %s verified against the ledger key %s (from %s)\n",
		f.report, res.Links, plural(res.Links, "link", "links"), res.Changes, plural(res.Changes, "change", "changes"), key.Name(), from)
	for _, c := range res.Checkpoints {
		fmt.Fprintf(e.stdout, "  checkpoint %s of %d entries, root %s\n", c.Origin, c.Size, c.Hash)
	}
	return nil
}
