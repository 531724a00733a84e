package secrets

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

const corpus = "testdata/corpus"

// label is a planted secret of the corpus: where it is and of what kind.
type label struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Kind string `json:"kind"`
}

func readLabels(t testing.TB) []label {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ls []label
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatalf("labels.json: %v", err)
	}
	return ls
}

// kindMatches reports whether a rule finds secrets of a label's kind.
func kindMatches(kind, rule string) bool {
	switch kind {
	case "generic":
		return strings.Contains(rule, "generic")
	case KindConnString:
		return rule == RuleConnectionString
	case "private-key", "jwt":
		return rule == kind
	}
	return strings.HasPrefix(rule, kind+"-")
}

// score compares findings with labels: a finding is true if it covers a
// labelled line of its path with a rule of the label's kind (or any
// generic rule); a label is found if a finding of its kind covers it.
func score(findings []gantry.Finding, labels []label) (precision, recall float64, fps []gantry.Finding, misses []label) {
	found := make([]bool, len(labels))
	tp := 0
	for _, f := range findings {
		ok := false
		for i, l := range labels {
			if f.Location.Path != l.Path || l.Line < f.Location.Line || l.Line > max(f.Location.Line, f.Location.EndLine) {
				continue
			}
			if kindMatches(l.Kind, f.RuleID) {
				found[i], ok = true, true
			} else if strings.Contains(f.RuleID, "generic") {
				ok = true
			}
		}
		if ok {
			tp++
		} else {
			fps = append(fps, f)
		}
	}
	for i, l := range labels {
		if !found[i] {
			misses = append(misses, l)
		}
	}
	precision, recall = 1, 1
	if len(findings) > 0 {
		precision = float64(tp) / float64(len(findings))
	}
	if len(labels) > 0 {
		recall = float64(len(labels)-len(misses)) / float64(len(labels))
	}
	return precision, recall, fps, misses
}

func newScanner(t testing.TB, opts Options) *Scanner {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCorpusPrecisionRecall(t *testing.T) {
	s := newScanner(t, Options{})
	res, err := s.Scan(context.Background(), &scan.Request{Root: corpus})
	if err != nil {
		t.Fatal(err)
	}
	labels := readLabels(t)
	precision, recall, fps, misses := score(res.Findings, labels)
	t.Logf("corpus: %d labelled secrets, %d findings: precision %.3f, recall %.3f",
		len(labels), len(res.Findings), precision, recall)
	for _, f := range fps {
		t.Errorf("false positive: %s:%d %s %s", f.Location.Path, f.Location.Line, f.RuleID, f.Message)
	}
	for _, l := range misses {
		t.Errorf("missed: %s:%d (%s)", l.Path, l.Line, l.Kind)
	}
	if recall < 1 {
		t.Errorf("recall %.3f, want 1", recall)
	}
	if precision < 0.9 {
		t.Errorf("precision %.3f, want at least 0.9", precision)
	}
}

// plantedSecrets returns the secret values the engine finds in the
// corpus, for tests that check they never leave the scanner.
func plantedSecrets(t *testing.T, s *Scanner) []string {
	t.Helper()
	d := newDetector(s.rules, s.allow, false)
	var out []string
	err := filepath.WalkDir(corpus, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(corpus, p)
		for _, h := range d.detect(&text{path: filepath.ToSlash(rel), data: data}) {
			out = append(out, string(data[h.secretStart:h.secretEnd]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestResultNeverHoldsSecrets(t *testing.T) {
	s := newScanner(t, Options{})
	secrets := plantedSecrets(t, s)
	if len(secrets) < len(readLabels(t)) {
		t.Fatalf("found %d secret values in the corpus, want at least one per label", len(secrets))
	}
	res, err := s.Scan(context.Background(), &scan.Request{Root: corpus})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, v := range secrets {
		// The value, its encodings, and any 8 random-looking characters
		// of it (not a word such as "services" in a webhook URL).
		forms := []string{v, base64.StdEncoding.EncodeToString([]byte(v)), hex.EncodeToString([]byte(v)), url.QueryEscape(v)}
		for i := 0; i+8 <= len(v); i++ {
			if sub := v[i : i+8]; strings.ContainsAny(sub, "0123456789") && strings.ContainsFunc(sub, unicode.IsLetter) {
				forms = append(forms, sub)
			}
		}
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Errorf("result holds %q, part of a secret", f)
				break
			}
		}
	}
}
