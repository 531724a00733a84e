package cli

import (
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/vulndb"
)

func newVulnDBCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "vulndb",
		Short: "Manage the offline vulnerability database that deps steps match against",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "the database `DIR` (default: GANTRY_VULNDB, then the user cache)")
	var osvURL, goURL string
	update := &cobra.Command{
		Use:   "update",
		Short: "Download the OSV and Go vulnerability databases (needs the network)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := vulnDBDir(e, dir)
			fmt.Fprintf(e.stderr, "updating the vulnerability database in %s\n", d)
			st, err := vulndb.Update(cmd.Context(), d, vulndb.UpdateOptions{OSVBaseURL: osvURL, GoBaseURL: goURL, Progress: e.stderr})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "updated %s: %s; %d downloaded, %d unchanged, %d bytes\n",
				st.Dir, describeEntries(st), st.Downloaded, st.NotModified, st.Bytes)
			return nil
		},
	}
	update.Flags().StringVar(&osvURL, "osv-url", "", "base `URL` of the OSV exports (default: OSV's public bucket)")
	update.Flags().StringVar(&goURL, "go-url", "", "base `URL` of the Go vulnerability database (default: vuln.go.dev)")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show what the vulnerability database holds and how old it is",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := vulndb.Describe(vulnDBDir(e, dir))
			if err != nil {
				return err
			}
			age := "unknown age"
			if !st.Updated.IsZero() {
				age = fmt.Sprintf("updated %s (%s ago)", st.Updated.Local().Format(time.DateTime), round(st.Age(time.Now())))
			}
			fmt.Fprintf(e.stdout, "%s: %s; %s\n", st.Dir, describeEntries(st), age)
			return nil
		},
	}
	cmd.AddCommand(update, status)
	return cmd
}

func describeEntries(st vulndb.Stats) string {
	ecos := make([]string, 0, len(st.Entries))
	for k := range st.Entries {
		ecos = append(ecos, k)
	}
	sort.Strings(ecos)
	out := ""
	for _, k := range ecos {
		out += fmt.Sprintf("%s %d, ", k, st.Entries[k])
	}
	return out + fmt.Sprintf("Go database %d entries", st.GoEntries)
}
