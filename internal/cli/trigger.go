package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
)

// apiCall calls a Gantry server's API with a token: in is sent as JSON,
// or as plain text when it is a string; a JSON answer is decoded into out,
// or kept as it is when out is a *[]byte.
func apiCall(ctx context.Context, server, token, method, path string, in, out any) error {
	var body io.Reader
	ctype := "application/json"
	switch v := in.(type) {
	case nil:
	case string:
		body, ctype = strings.NewReader(v), "text/plain"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(server, "/")+path, body)
	if err != nil {
		return gantry.Errorf(gantry.EInvalid, "server %q: %v", server, err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return gantry.Errorf(gantry.EUnavailable, "%s: %v", server, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return gantry.Errorf(agentproto.Kind(resp.StatusCode), "%s (%d)", e.Error, resp.StatusCode)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// serverConn is how a command reaches a server: --server and --token
// (or --token-file), else GANTRY_SERVER and GANTRY_TOKEN.
type serverConn struct {
	server, token, tokenFile string
}

func (c *serverConn) flags(fl interface {
	StringVar(p *string, name, value, usage string)
}) {
	fl.StringVar(&c.server, "server", "", "the server's `URL` (default: GANTRY_SERVER)")
	fl.StringVar(&c.token, "token", "", "an API token (default: GANTRY_TOKEN)")
	fl.StringVar(&c.tokenFile, "token-file", "", "read the API token from `FILE`")
}

func (c *serverConn) resolve(e *env) error {
	if c.server == "" {
		c.server, _ = lookupEnv(e.environ, "GANTRY_SERVER")
	}
	if c.token == "" && c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return gantry.Errorf(gantry.ENotFound, "token file: %v", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	if c.token == "" {
		c.token, _ = lookupEnv(e.environ, "GANTRY_TOKEN")
	}
	if c.server == "" || c.token == "" {
		return gantry.Errorf(gantry.EInvalid, "give the server with --server URL and a token with --token or --token-file (or GANTRY_SERVER and GANTRY_TOKEN)")
	}
	return nil
}

func newProjectCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Manage a server's projects"}
	c := &serverConn{}
	var p gantry.Project
	var changesFile string
	put := &cobra.Command{
		Use:   "put NAME --repo URL",
		Short: "Create or update a project",
		Long: `Create a project on the server, or replace its settings.

--changes FILE sets the project's change management rules, in the YAML of
.gantry/changes.yml (see 'gantry change'): the server uses them, never the
repository's copy. Without --changes a project keeps the rules it has; an
empty file gives the defaults.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.resolve(e); err != nil {
				return err
			}
			p.Name = args[0]
			if changesFile != "" {
				b, err := os.ReadFile(changesFile)
				if err != nil {
					return gantry.Errorf(gantry.EInvalid, "--changes: %v", err)
				}
				p.Changes = string(b)
			} else {
				// Rules left out are kept, not dropped: dropping them
				// would loosen them unseen.
				var cur gantry.Project
				err := apiCall(cmd.Context(), c.server, c.token, "GET", "/api/v1/projects/"+url.PathEscape(p.Name), nil, &cur)
				switch {
				case err == nil:
					p.Changes = cur.Changes
				case gantry.ErrorKind(err) != gantry.ENotFound:
					return err
				}
			}
			var out gantry.Project
			if err := apiCall(cmd.Context(), c.server, c.token, "POST", "/api/v1/projects", p, &out); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "project %s: %s, branch %s, pipeline %s\n", out.Name, out.RepoURL, out.DefaultBranch, out.PipelinePath)
			return nil
		},
	}
	c.flags(put.Flags())
	put.Flags().StringVar(&p.RepoURL, "repo", "", "the repository `URL` agents clone")
	put.Flags().StringVar(&p.DefaultBranch, "branch", "main", "the default branch")
	put.Flags().StringVar(&p.PipelinePath, "pipeline", ".gantry.yml", "the pipeline file's path in the repository")
	put.Flags().StringSliceVar(&p.ProtectedBranches, "protected", nil, "protected branch patterns")
	put.Flags().StringVar(&changesFile, "changes", "", "the project's change management rules, from `FILE` (YAML, as .gantry/changes.yml)")
	cmd.AddCommand(put)
	return cmd
}

func newTriggerCmd(e *env) *cobra.Command {
	var branch, commit string
	var wait bool
	c := &serverConn{}
	cmd := &cobra.Command{
		Use:   "trigger PROJECT",
		Short: "Start a run of a project on a Gantry server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := c.resolve(e); err != nil {
				return err
			}
			server, token := c.server, c.token
			var run gantry.Run
			if err := apiCall(ctx, server, token, "POST", "/api/v1/projects/"+args[0]+"/runs",
				map[string]string{"branch": branch, "commit": commit}, &run); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "queued run %s of %s\n", run.ID, args[0])
			if !wait {
				return nil
			}
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
				var cur gantry.Run
				if err := apiCall(ctx, server, token, "GET", "/api/v1/runs/"+string(run.ID), nil, &cur); err != nil {
					return err
				}
				if cur.Status.Terminal() {
					fmt.Fprintf(e.stdout, "run %s %s", cur.ID, cur.Status)
					if cur.Reason != "" {
						fmt.Fprintf(e.stdout, ": %s", cur.Reason)
					}
					fmt.Fprintln(e.stdout)
					if cur.Status != gantry.StatusSucceeded {
						return exitError{ExitFailed}
					}
					return nil
				}
			}
		},
	}
	fl := cmd.Flags()
	c.flags(fl)
	fl.StringVar(&branch, "branch", "", "the branch to run (default: the project's default branch)")
	fl.StringVar(&commit, "commit", "", "the commit to run (default: the branch's head)")
	fl.BoolVar(&wait, "wait", false, "wait for the run to end; exit 0 only when it succeeded")
	return cmd
}
