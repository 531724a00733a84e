package license

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scan/deps"
)

const (
	project  = "testdata/project"
	modCache = "testdata/modcache"
)

// score counts a licence guess against its label: a guess equal to the
// label is a true positive; a wrong guess is a false positive and, when
// there was a licence to find, a false negative too; NOASSERTION where
// there was a licence is a false negative.
type score struct{ tp, fp, fn int }

func (s *score) add(got, want string) {
	switch {
	case got == want && want != NoAssertion:
		s.tp++
	case got == want:
	case got == NoAssertion:
		s.fn++
	default:
		s.fp++
		if want != NoAssertion {
			s.fn++
		}
	}
}

func (s score) precision() float64 { return ratio(s.tp, s.tp+s.fp) }
func (s score) recall() float64    { return ratio(s.tp, s.tp+s.fn) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func labels(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("testdata/labels.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "_comment")
	return m
}

func TestResolveLabelledFixtures(t *testing.T) {
	ctx := context.Background()
	pkgs, gaps, err := deps.Inventory(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 0 {
		t.Errorf("gaps = %v", gaps)
	}
	got, err := Resolve(ctx, pkgs, modCache)
	if err != nil {
		t.Fatal(err)
	}
	want := labels(t)
	var goScore, npmScore score
	seen := map[string]bool{}
	for _, l := range got {
		key := l.Name + "@" + l.Version
		seen[key] = true
		w, ok := want[key]
		if !ok {
			t.Errorf("%s has no label", key)
			continue
		}
		if l.Ecosystem == "Go" {
			goScore.add(l.License, w)
		} else {
			npmScore.add(l.License, w)
		}
		if l.License != w {
			t.Logf("miss: %s: got %s, labelled %s (%s)", key, l.License, w, l.Why)
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("labelled %s not in the inventory", key)
		}
	}
	t.Logf("Go modules (module cache detector): precision %.3f recall %.3f (tp %d fp %d fn %d)", goScore.precision(), goScore.recall(), goScore.tp, goScore.fp, goScore.fn)
	t.Logf("npm (lock file licences):            precision %.3f recall %.3f (tp %d fp %d fn %d)", npmScore.precision(), npmScore.recall(), npmScore.tp, npmScore.fp, npmScore.fn)
	if goScore.precision() < 1 {
		t.Errorf("detector precision %.3f, want 1: it must never name a wrong licence on the fixtures", goScore.precision())
	}
	// The one labelled miss is Apache-1.1, which the detector does not know.
	if goScore.recall() < 0.93 {
		t.Errorf("detector recall %.3f, want ≥ 0.93", goScore.recall())
	}
}

// TestDetectRealModuleCache runs the detector over the real licence files
// of well-known modules in the local module cache, those that are there:
// it reads the cache and never downloads.
func TestDetectRealModuleCache(t *testing.T) {
	cache := DefaultModCache(context.Background())
	if cache == "" {
		t.Skip("no Go module cache")
	}
	labelled := []struct{ path, version, want string }{
		{"golang.org/x/mod", "v0.42.0", "BSD-3-Clause"},
		{"golang.org/x/sync", "v0.24.0", "BSD-3-Clause"},
		{"golang.org/x/tools", "v0.52.0", "BSD-3-Clause"},
		{"github.com/google/go-cmp", "v0.7.0", "BSD-3-Clause"},
		{"github.com/BurntSushi/toml", "v1.6.0", "MIT"},
		{"github.com/spf13/cobra", "v1.10.2", "Apache-2.0"},
		{"github.com/santhosh-tekuri/jsonschema/v6", "v6.0.3", "Apache-2.0"},
		{"github.com/hashicorp/hcl", "v1.0.0", "MPL-2.0"},
		{"github.com/hashicorp/go-version", "v1.7.0", "MPL-2.0"},
		{"github.com/pkg/errors", "v0.9.1", "BSD-2-Clause"},
		{"github.com/davecgh/go-spew", "v1.1.1", "ISC"},
		{"go.uber.org/multierr", "v1.11.0", "MIT"},
		{"github.com/package-url/packageurl-go", "v0.1.5", "MIT"},
		{"modernc.org/sqlite", "v1.61.1", "BSD-3-Clause"},
		{"github.com/spf13/pflag", "v1.0.9", "BSD-3-Clause"},
		{"github.com/google/uuid", "v1.6.0", "BSD-3-Clause"},
		{"github.com/fsnotify/fsnotify", "v1.9.0", "BSD-3-Clause"},
		{"github.com/mattn/go-isatty", "v0.0.24", "MIT"},
		{"github.com/coder/websocket", "v1.8.15", "ISC"},
		{"github.com/cyphar/filepath-securejoin", "v0.6.1", "MPL-2.0 AND BSD-3-Clause"},
		{"gopkg.in/yaml.v3", "v3.0.1", "Apache-2.0 AND MIT"},
		{"go.yaml.in/yaml/v3", "v3.0.6", "Apache-2.0 AND MIT"},
	}
	var s score
	n := 0
	for _, m := range labelled {
		got, _, why := fromModCache(cache, m.path, m.version)
		if strings.Contains(why, "not in the module cache") {
			continue
		}
		n++
		s.add(got, m.want)
		if got != m.want {
			t.Logf("miss: %s@%s: got %s, labelled %s (%s)", m.path, m.version, got, m.want, why)
		}
	}
	if n == 0 {
		t.Skip("none of the labelled modules is in the module cache")
	}
	t.Logf("real module cache, %d modules: precision %.3f recall %.3f (tp %d fp %d fn %d)", n, s.precision(), s.recall(), s.tp, s.fp, s.fn)
	if s.precision() < 1 {
		t.Errorf("precision %.3f on real licence files, want 1", s.precision())
	}
}

func TestDetect(t *testing.T) {
	for text, want := range map[string][]string{
		"":                     nil,
		"All rights reserved.": nil,
		"Licensed under the Apache License, Version 2.0 (the \"License\")": {"Apache-2.0"},
		"* This library is free software; you can redistribute it and/or modify it under the terms of the GNU Lesser General Public License as published by the Free Software Foundation; version 2.1 of the License.": {"LGPL-2.1-only"},
		"Mozilla Public License, v. 2.0": {"MPL-2.0"},
	} {
		if d := cmp.Diff(want, Detect(text)); d != "" {
			t.Errorf("Detect(%q) (-want +got):\n%s", text, d)
		}
	}
}

func TestExpr(t *testing.T) {
	deny := parseIDList("GPL-3.0, AGPL-3.0")
	allow := parseIDList("MIT Apache-2.0")
	for _, c := range []struct {
		expr            string
		denied, allowed bool
	}{
		{"MIT", false, true},
		{"GPL-3.0-only", true, false},
		{"GPL-3.0+", true, false},
		{"gpl-3.0-or-later", true, false},
		{"(MIT OR GPL-3.0)", false, true},
		{"MIT AND GPL-3.0-only", true, false},
		{"Apache-2.0 AND (MIT OR AGPL-3.0-only)", false, true},
		{"(GPL-3.0-only OR AGPL-3.0-only)", true, false},
		{"GPL-2.0-only WITH Classpath-exception-2.0", false, false},
		{"MIT AND", false, true},
	} {
		e := parseExpr(c.expr)
		if got := e.forced(deny.has); got != c.denied {
			t.Errorf("%q denied = %v, want %v", c.expr, got, c.denied)
		}
		if got := e.any(allow.has); got != c.allowed {
			t.Errorf("%q allowed = %v, want %v", c.expr, got, c.allowed)
		}
	}
}

func scanFixture(t *testing.T, with map[string]string) map[string]gantry.Finding {
	t.Helper()
	s, err := New(Options{ModCache: modCache})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(context.Background(), &scan.Request{Root: project, With: with})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tool != "license" || res.Scanned["packages"] != 29 {
		t.Errorf("result: tool %q, scanned %v", res.Tool, res.Scanned)
	}
	out := map[string]gantry.Finding{}
	for _, f := range res.Findings {
		name, _, _ := strings.Cut(f.Message, " (")
		name = strings.TrimPrefix(name, "the licence of ")
		if _, dup := out[name]; dup {
			t.Errorf("two findings for %s", name)
		}
		out[name] = f
	}
	return out
}

func rules(fs map[string]gantry.Finding) map[string]string {
	m := map[string]string{}
	for k, f := range fs {
		m[k] = f.RuleID + "/" + string(f.Severity)
	}
	return m
}

func TestPolicy(t *testing.T) {
	unknown := map[string]string{
		"example.com/apache11@v1.0.0":    "GLIC-003/medium",
		"example.com/custom@v1.0.0":      "GLIC-003/medium",
		"example.com/missing@v1.0.0":     "GLIC-003/medium",
		"example.com/mitnonotice@v1.0.0": "GLIC-003/medium",
		"example.com/nolicense@v1.0.0":   "GLIC-003/medium",
		"@scope/bare@1.0.0":              "GLIC-003/medium",
	}
	t.Run("no lists", func(t *testing.T) {
		if d := cmp.Diff(unknown, rules(scanFixture(t, nil))); d != "" {
			t.Errorf("findings (-want +got):\n%s", d)
		}
	})
	t.Run("deny and allow", func(t *testing.T) {
		got := scanFixture(t, map[string]string{
			"deny":    "GPL-3.0, AGPL-3.0",
			"allow":   "MIT, Apache-2.0, BSD-3-Clause, BSD-2-Clause, ISC",
			"unknown": "low",
		})
		want := map[string]string{
			"example.com/agpl@v1.0.0":       "GLIC-001/high",
			"example.com/gpl3@v1.0.0":       "GLIC-001/high",
			"example.com/gpl3notice@v1.0.0": "GLIC-001/high",
			"copyleft@2.0.0":                "GLIC-001/high",
			"net-copyleft@1.0.0":            "GLIC-001/high",
			"example.com/cc0@v1.0.0":        "GLIC-002/medium",
			"example.com/gpl2@v1.0.0":       "GLIC-002/medium",
			"example.com/lgpl21@v1.0.0":     "GLIC-002/medium",
			"example.com/mpl@v1.0.0":        "GLIC-002/medium",
			"example.com/mplfull@v1.0.0":    "GLIC-002/medium",
			"example.com/lgpl3@v1.0.0":      "GLIC-002/medium",
			"example.com/unlicense@v1.0.0":  "GLIC-002/medium",
			"both-and@1.0.0":                "GLIC-002/medium",
			"zero-clause@1.0.0":             "GLIC-002/medium",
		}
		for k := range unknown {
			want[k] = "GLIC-003/low"
		}
		if d := cmp.Diff(want, rules(got)); d != "" {
			t.Errorf("findings (-want +got):\n%s", d)
		}
		f := got["example.com/gpl3notice@v1.0.0"]
		wantF := gantry.Finding{
			Tool: "license", RuleID: "GLIC-001", Severity: gantry.SeverityHigh, Confidence: "high",
			Location:    gantry.Location{Path: "go.mod", Line: 16},
			Message:     "example.com/gpl3notice@v1.0.0 (Go) is licensed GPL-3.0-or-later, which the deny list forbids",
			Fingerprint: scan.Fingerprint("license", "GLIC-001", "go.mod", "example.com/gpl3notice@v1.0.0"),
			Help:        f.Help,
		}
		if d := cmp.Diff(wantF, f); d != "" {
			t.Errorf("finding (-want +got):\n%s", d)
		}
		if len(f.CWE) != 0 {
			t.Errorf("CWE = %v", f.CWE)
		}
	})
	t.Run("unknown off", func(t *testing.T) {
		if got := scanFixture(t, map[string]string{"unknown": "off"}); len(got) != 0 {
			t.Errorf("findings = %v", rules(got))
		}
	})
}

func TestBadInput(t *testing.T) {
	s, _ := New(Options{ModCache: modCache})
	if s.Name() != "license" {
		t.Errorf("Name = %q", s.Name())
	}
	var _ scan.Scanner = s
	if _, err := s.Scan(context.Background(), &scan.Request{Root: project, With: map[string]string{"unknown": "dire"}}); err == nil {
		t.Error("unknown: dire accepted")
	}
	if _, err := s.Scan(context.Background(), &scan.Request{Root: filepath.Join(t.TempDir(), "absent")}); err == nil {
		t.Error("absent root accepted")
	}
}
