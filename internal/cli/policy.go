package cli

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/policy"
)

func newPolicyCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test the Rego policies of stage gates",
	}
	test := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run the Rego unit tests (test_ rules) of policies, and of the built-in library",
		Long: `Run the Rego unit tests (rules named test_…) in the given files or directories
(default: .gantry/policies in the repository), together with the tests of
Gantry's built-in policy library. The exit code is 0 only when every test
passes; a policy that does not compile fails.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				repo, err := g.repo(e)
				if err != nil {
					return err
				}
				args = []string{filepath.Join(repo, ".gantry", "policies")}
			}
			passed, err := policy.Test(cmd.Context(), args, e.stdout)
			if err != nil {
				return err
			}
			if !passed {
				return exitError{ExitFailed}
			}
			return nil
		},
	}
	cmd.AddCommand(test)
	return cmd
}
