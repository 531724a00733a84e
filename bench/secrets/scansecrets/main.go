// Command scansecrets runs Gantry's secrets scanner on a tree, for
// bench/secrets: it times the scan, and scores findings (its own, or those
// of a gitleaks JSON report) against a labels file.
//
//	scansecrets [-json] [-cpuprofile f] ROOT
//	scansecrets -labels labels.json ROOT
//	scansecrets -labels labels.json -gitleaks report.json ROOT
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"gantry.dev/gantry/internal/scan"
	"gantry.dev/gantry/internal/scan/secrets"
)

func main() {
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	history := flag.Bool("history", false, "scan git history too")
	labels := flag.String("labels", "", "score findings against this labels file")
	gitleaks := flag.String("gitleaks", "", "with -labels: score this gitleaks JSON report instead of scanning")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile")
	verbose := flag.Bool("v", false, "with -labels: list false positives and misses")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: scansecrets [flags] ROOT")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *jsonOut, *history, *labels, *gitleaks, *cpuprofile, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "scansecrets:", err)
		os.Exit(1)
	}
}

func run(root string, jsonOut, history bool, labels, gitleaks, cpuprofile string, verbose bool) error {
	var got []point
	if gitleaks != "" {
		pts, err := readGitleaks(gitleaks, root)
		if err != nil {
			return err
		}
		got = pts
	} else {
		s, err := secrets.New(secrets.Options{})
		if err != nil {
			return err
		}
		if cpuprofile != "" {
			f, err := os.Create(cpuprofile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		start := time.Now()
		res, err := s.Scan(context.Background(), &scan.Request{Root: root, History: history})
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		if jsonOut {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		if labels == "" {
			fmt.Printf("files %d bytes %d seconds %.3f MB/s %.1f findings %d gaps %d\n",
				res.Scanned["files"], res.Scanned["bytes"], secs,
				float64(res.Scanned["bytes"])/1e6/secs, len(res.Findings), len(res.Gaps))
			return nil
		}
		for _, f := range res.Findings {
			got = append(got, point{f.Location.Path, f.Location.Line, f.Location.EndLine, f.RuleID})
		}
	}
	if labels == "" {
		return nil
	}
	want, err := readLabels(labels)
	if err != nil {
		return err
	}
	tp, fps, misses := score(got, want)
	precision, recall := 1.0, 1.0
	if len(got) > 0 {
		precision = float64(tp) / float64(len(got))
	}
	if len(want) > 0 {
		recall = float64(len(want)-len(misses)) / float64(len(want))
	}
	fmt.Printf("labelled %d found %d findings %d true %d precision %.3f recall %.3f\n",
		len(want), len(want)-len(misses), len(got), tp, precision, recall)
	if verbose {
		for _, p := range fps {
			fmt.Printf("  false positive: %s:%d %s\n", p.path, p.line, p.rule)
		}
		for _, p := range misses {
			fmt.Printf("  missed: %s:%d %s\n", p.path, p.line, p.rule)
		}
	}
	return nil
}

// point is a finding or a label: where and what.
type point struct {
	path    string
	line    int
	endLine int    // findings: the last line they cover
	rule    string // rule ID for findings, kind for labels
}

func readLabels(file string) ([]point, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var ls []struct {
		Path string `json:"path"`
		Line int    `json:"line"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, fmt.Errorf("labels %s: %w", file, err)
	}
	var out []point
	for _, l := range ls {
		out = append(out, point{path: l.Path, line: l.Line, rule: l.Kind})
	}
	return out, nil
}

// readGitleaks reads a gitleaks JSON report, with paths made relative to
// root.
func readGitleaks(file, root string) ([]point, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var fs []struct {
		File      string
		StartLine int
		EndLine   int
		RuleID    string
	}
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, fmt.Errorf("gitleaks report %s: %w", file, err)
	}
	absRoot, _ := filepath.Abs(root)
	var out []point
	for _, f := range fs {
		p := f.File
		if abs, err := filepath.Abs(p); err == nil {
			if rel, err := filepath.Rel(absRoot, abs); err == nil {
				p = rel
			}
		}
		out = append(out, point{filepath.ToSlash(p), f.StartLine, f.EndLine, f.RuleID})
	}
	return out, nil
}

// score counts findings that hit a label (same path, the label's line
// among those the finding covers, a rule of the label's kind) and lists
// false positives and missed labels. A generic rule's finding on a
// labelled line is a true one whatever the kind.
func score(got, want []point) (tp int, fps, misses []point) {
	hit := make([]bool, len(want))
	for _, g := range got {
		ok := false
		for i, w := range want {
			if g.path != w.path || w.line < g.line || w.line > max(g.line, g.endLine) {
				continue
			}
			if kindMatches(w.rule, g.rule) {
				hit[i], ok = true, true
			} else if strings.Contains(g.rule, "generic") {
				ok = true
			}
		}
		if ok {
			tp++
		} else {
			fps = append(fps, g)
		}
	}
	for i, w := range want {
		if !hit[i] {
			misses = append(misses, w)
		}
	}
	sort.Slice(fps, func(i, j int) bool { return less(fps[i], fps[j]) })
	return tp, fps, misses
}

// kindMatches reports whether a rule finds secrets of a label's kind.
func kindMatches(kind, rule string) bool {
	switch kind {
	case "generic":
		return strings.Contains(rule, "generic")
	case "connection-string":
		return rule == "connection-string-password"
	case "private-key", "jwt":
		return rule == kind
	}
	return strings.HasPrefix(rule, kind+"-")
}

func less(a, b point) bool {
	if a.path != b.path {
		return strings.Compare(a.path, b.path) < 0
	}
	return a.line < b.line
}
