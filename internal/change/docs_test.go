package change

import (
	"os"
	"strings"
	"testing"
)

// TestDocsExamples parses the YAML of docs/changes.md, so that the
// reference cannot drift from the parser.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/changes.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("found %d YAML blocks, want the example and the freeze windows", len(blocks))
	}
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		if strings.HasPrefix(b, "freeze:") {
			b = "environments:\n  - name: production\n" + indent(b, "    ")
		}
		cfg, err := ParseConfig("docs/changes.md", []byte(b))
		if err != nil {
			t.Errorf("block %d: %v\n%s", i, err, b)
			continue
		}
		if len(cfg.Environments) == 0 {
			t.Errorf("block %d: no environments", i)
		}
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
