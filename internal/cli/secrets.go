package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/secrets"
	"gantry.dev/gantry/internal/store/postgres"
	"gantry.dev/gantry/internal/store/sqlite"
)

// newSecretsCmd manages the key-encryption keys of a server's secrets.
func newSecretsCmd(e *env) *cobra.Command {
	var dataDir, database string
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Set and list a server's project secrets (write-only), and rotate the keys they are sealed with",
		Long: `A server seals every secret with AES-256-GCM under a fresh data key, which
the current key-encryption key (the first in DATA_DIR/secrets.keyring, or in
GANTRY_SECRETS_KEYRING) wraps. To rotate: 'gantry secrets new-key' puts a
new current key first and keeps the old ones; restart the servers (new
secrets are sealed with the new key); then 'gantry secrets rotate' re-wraps
every secret's data key under it, after which the old keys may be removed.`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "gantry-data", "the server's data `DIR`")
	cmd.PersistentFlags().StringVar(&database, "database", "", "the server's postgres:// `URL`, if it uses PostgreSQL")
	newKey := &cobra.Command{
		Use:   "new-key",
		Short: "Add a new current key-encryption key, keeping the old ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dataDir, "secrets.keyring")
			id := "k" + time.Now().UTC().Format("20060102150405")
			if err := secrets.AddKey(path, id, rand.Reader); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added key %s to %s; restart the servers, then run gantry secrets rotate\n", id, path)
			return nil
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-seal every secret under the current key-encryption key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			getenv := func(k string) string { v, _ := lookupEnv(e.environ, k); return v }
			path := filepath.Join(dataDir, "secrets.keyring")
			if getenv(secrets.KeyringEnv) != "" {
				path = ""
			}
			ring, err := secrets.LoadKeyring(path, getenv)
			if err != nil {
				return err
			}
			st, closeStore, err := openServerStore(ctx, dataDir, database)
			if err != nil {
				return err
			}
			defer closeStore()
			svc := secrets.NewService(st, secrets.NewSealer(ring, rand.Reader))
			rot, err := svc.Rotate(ctx, ring.Current())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d secrets, %d re-sealed under key %s\n", rot.Secrets, rot.Resealed, ring.Current())
			return nil
		},
	}
	c := &serverConn{}
	var env string
	put := &cobra.Command{
		Use:   "put PROJECT NAME",
		Short: "Set a project secret's value, read from standard input (write-only)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.resolve(e); err != nil {
				return err
			}
			value, err := io.ReadAll(io.LimitReader(e.stdin, secrets.MaxValueSize+1))
			if err != nil {
				return err
			}
			path := "/api/v1/projects/" + url.PathEscape(args[0]) + "/secrets/" + url.PathEscape(args[1]) + "?env=" + url.QueryEscape(env)
			if err := apiCall(cmd.Context(), c.server, c.token, "PUT", path, strings.TrimSuffix(string(value), "\n"), nil); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "set %s of %s\n", args[1], args[0])
			return nil
		},
	}
	c.flags(put.Flags())
	put.Flags().StringVar(&env, "env", "", "the `ENVIRONMENT` it is for (default: every one)")
	lc := &serverConn{}
	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's secrets: names, environments, who set them and when; never values",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lc.resolve(e); err != nil {
				return err
			}
			var infos []secrets.Info
			if err := apiCall(cmd.Context(), lc.server, lc.token, "GET", "/api/v1/projects/"+url.PathEscape(args[0])+"/secrets", nil, &infos); err != nil {
				return err
			}
			for _, i := range infos {
				fmt.Fprintf(e.stdout, "%-24s env=%-12s key=%-16s set by %s at %s\n", i.Name, cmp.Or(i.Env, "*"), i.KeyID, i.UpdatedBy, i.UpdatedAt.Format(time.RFC3339))
			}
			return nil
		},
	}
	lc.flags(list.Flags())
	cmd.AddCommand(newKey, rotate, put, list)
	return cmd
}

// openServerStore opens a server's store: SQLite in its data directory,
// or PostgreSQL.
func openServerStore(ctx context.Context, dataDir, database string) (gantry.ServerStore, func() error, error) {
	switch {
	case database == "":
		st, err := sqlite.Open(ctx, filepath.Join(dataDir, "gantry.db"))
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		st, err := postgres.Open(ctx, database)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	return nil, nil, gantry.Errorf(gantry.EInvalid, "--database: expected a postgres:// URL")
}
