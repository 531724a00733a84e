package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
)

// project is what `gantry init` found in a repository.
type project struct {
	kind  string // go, node, python or ""
	steps []string
}

// detect looks at the repository's top-level files to choose a starter
// pipeline.
func detect(dir string) project {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	switch {
	case exists("go.mod"):
		return project{kind: "go", steps: []string{
			step("build", "go build ./...", nil, false),
			step("vet", "go vet ./...", nil, false),
			step("test", "go test -cover ./...", []string{"build"}, false),
		}}
	case exists("package.json"):
		var pkg struct {
			Scripts map[string]string `json:"scripts"`
		}
		b, _ := os.ReadFile(filepath.Join(dir, "package.json"))
		_ = json.Unmarshal(b, &pkg) // a broken package.json still gets a starter
		install := "npm install"
		if exists("package-lock.json") {
			install = "npm ci"
		}
		steps := []string{step("install", install, nil, true)}
		after := []string{"install"}
		if _, ok := pkg.Scripts["build"]; ok {
			steps = append(steps, step("build", "npm run build", after, false))
			after = []string{"build"}
		}
		if _, ok := pkg.Scripts["lint"]; ok {
			steps = append(steps, step("lint", "npm run lint", []string{"install"}, false))
		}
		if _, ok := pkg.Scripts["test"]; ok {
			steps = append(steps, step("test", "npm test", after, false))
		}
		return project{kind: "node", steps: steps}
	case exists("pyproject.toml"), exists("requirements.txt"), exists("setup.py"):
		test := "python3 -m unittest discover -v"
		for _, f := range []string{"requirements.txt", "requirements-dev.txt", "pyproject.toml"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil && strings.Contains(string(b), "pytest") {
				test = "python3 -m pytest -q"
			}
		}
		return project{kind: "python", steps: []string{
			step("compile", "python3 -m compileall -q .", nil, false),
			step("test", test, []string{"compile"}, false),
		}}
	}
	return project{steps: []string{
		step("build", "echo 'replace this with your build command'", nil, false),
	}}
}

func step(name, run string, needs []string, network bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "      - name: %s\n        run: %s\n", name, run)
	if len(needs) > 0 {
		fmt.Fprintf(&b, "        needs: [%s]\n", strings.Join(needs, ", "))
	}
	if network {
		b.WriteString("        network: true   # fetches dependencies\n")
	}
	return b.String()
}

func starter(p project) string {
	var b strings.Builder
	b.WriteString("# Gantry pipeline. Reference: gantry schema, and the README's pipeline file section.\n")
	if p.kind != "" {
		fmt.Fprintf(&b, "# Started by 'gantry init' for a %s project.\n", map[string]string{"go": "Go", "node": "Node.js", "python": "Python"}[p.kind])
	}
	b.WriteString("version: 1\nstages:\n  - name: commit\n    steps:\n")
	for _, s := range p.steps {
		b.WriteString(s)
	}
	return b.String()
}

func newInitCmd(e *env, g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter .gantry.yml for this repository (detects Go, Node.js and Python)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.repo(e)
			if err != nil {
				return err
			}
			path, err := g.pipelinePath(e)
			if err != nil {
				return err
			}
			if _, err := os.Stat(path); err == nil && !force {
				return gantry.Errorf(gantry.EConflict, "%s exists already (use --force to replace it)", displayPath(path))
			}
			p := detect(dir)
			if err := os.WriteFile(path, []byte(starter(p)), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			if err := ignoreState(dir); err != nil {
				return err
			}
			kind := p.kind
			if kind == "" {
				kind = "no known"
			}
			fmt.Fprintf(e.stdout, "wrote %s (%s project detected)\nnext: gantry lint, then gantry run\n", displayPath(path), kind)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing pipeline file")
	return cmd
}

// ignoreState writes .gantry/.gitignore in the repository at dir, unless
// there is one: local state stays out of version control, while the rest of
// .gantry/ (waivers, policies) belongs in it.
func ignoreState(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, ".gantry"), 0o755); err != nil {
		return fmt.Errorf("make .gantry: %w", err)
	}
	ignore := filepath.Join(dir, ".gantry", ".gitignore")
	if _, err := os.Stat(ignore); os.IsNotExist(err) {
		if err := os.WriteFile(ignore, []byte("state/\n"), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", ignore, err)
		}
	}
	return nil
}
