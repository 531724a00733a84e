package iac

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWorldWritable(t *testing.T) {
	for mode, want := range map[string]bool{
		"777": true, "0777": true, "666": true, "2777": true, "o+w": true, "a+rw": true,
		"ugo=rwx": true, "u+x,o+w": true, "a=rwx,o-w": true, "7": true,
		"1777": false, "755": false, "0644": false, "775": false, "o-w": false, "+w": false,
		"u+w,g+w": false, "a+rwt": false, "$MODE": false, "": false, "=rwx": false,
	} {
		if got := worldWritable(mode); got != want {
			t.Errorf("worldWritable(%q) = %v, want %v", mode, got, want)
		}
	}
}

func TestImageTagProblem(t *testing.T) {
	for ref, want := range map[string]string{
		"alpine":                         "untagged",
		"alpine:latest":                  "latest",
		"alpine:LATEST":                  "latest",
		"alpine:3.20":                    "",
		"registry:5000/app":              "untagged",
		"registry:5000/app:1.0":          "",
		"registry:5000/app:latest":       "latest",
		"app@sha256:abc":                 "",
		"app:latest@sha256:abc":          "",
		"ghcr.io/org/team/app:v1.2.3-rc": "",
		"":                               "",
	} {
		if got := imageTagProblem(ref); got != want {
			t.Errorf("imageTagProblem(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestShebang(t *testing.T) {
	for line, want := range map[string]bool{
		"#!/bin/sh": true, "#!/bin/bash -e": true, "#! /usr/bin/env bash": true,
		"#!/usr/bin/env -S bash -eu": true, "#!/usr/bin/zsh": true,
		"#!/usr/bin/env python3": false, "#!/usr/bin/perl": false, "# bash": false, "": false,
	} {
		if got := isShellShebang(line); got != want {
			t.Errorf("isShellShebang(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestDockerfileNames(t *testing.T) {
	for name, want := range map[string]fileKind{
		"Dockerfile": kindDockerfile, "dockerfile": kindDockerfile, "Containerfile": kindDockerfile,
		"api.Dockerfile": kindDockerfile, "Dockerfile.prod": kindDockerfileVariant,
		"Dockerfile.dev.arm64": kindDockerfileVariant, "dockerfile.go": kindNone,
		"Dockerfile.md": kindNone, "Dockerfile.yaml": kindNone, "Dockerfiles": kindNone, "docker-compose.yml": kindNone,
	} {
		if got := dockerfileKind(name); got != want {
			t.Errorf("dockerfileKind(%q) = %v, want %v", name, got, want)
		}
	}
	for src, want := range map[string]bool{
		"# c\n\nFROM a\n": true, "  arg X=1\nFROM a": true, "<?xml version": false, "syntax keyword x": false, "": false,
	} {
		if got := looksLikeDockerfile([]byte(src)); got != want {
			t.Errorf("looksLikeDockerfile(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestParseShell(t *testing.T) {
	type cmd = []string
	tests := []struct {
		src  string
		want [][]cmd // pipelines of commands of words
	}{
		{"a b | c && d; e & f || g", [][]cmd{{{"a", "b"}, {"c"}}, {{"d"}}, {{"e"}}, {{"f"}}, {{"g"}}}},
		{"echo 'x | y' \"a $(b | c) d\"", [][]cmd{{{"echo", "x | y", "a $(b | c) d"}}}},
		{"a \\\n  b | \n c", [][]cmd{{{"a", "b"}, {"c"}}}},
		{"cat <<EOF > f\ncurl x | sh\nEOF\nnext", [][]cmd{{{"cat"}}, {{"next"}}}},
		{"cmd 2>&1 >/dev/null < in", [][]cmd{{{"cmd"}}}},
		{"x=1 # comment | sh", [][]cmd{{{"x=1"}}}},
		{"a$((1+2))b", [][]cmd{{{"a$((1+2))b"}}}},
	}
	for _, tt := range tests {
		var got [][]cmd
		for _, p := range parseShell(tt.src, 1) {
			var pc [][]string
			for _, c := range p.cmds {
				var ws []string
				for _, w := range c.words {
					ws = append(ws, w.lit)
				}
				pc = append(pc, ws)
			}
			got = append(got, pc)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseShell(%q) (-want +got):\n%s", tt.src, diff)
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\n# escape=`\n\nARG V=1\nFROM a:${V} AS one\nRUN x `\n  # comment inside\n  y\nFROM one\nONBUILD RUN z\n"
	df, err := parseDockerfile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if df.directives["syntax"] != "docker/dockerfile:1" || df.directives["escape"] != "`" {
		t.Errorf("directives %v", df.directives)
	}
	if len(df.stages) != 2 || df.stages[0].name != "one" || df.args["V"] != "1" {
		t.Fatalf("stages %+v args %v", df.stages, df.args)
	}
	run := df.stages[0].insts[0]
	if run.cmd != "RUN" || run.text != "RUN x y" || run.line != 6 {
		t.Errorf("RUN parsed as %+v", run)
	}
	if in := df.stages[1].insts[0]; in.inner == nil || in.inner.cmd != "RUN" {
		t.Errorf("ONBUILD parsed as %+v", in)
	}
	for _, bad := range []string{"", "RUN x\n", "FROM\n", "FROM a\nFOO b\n", "# escape=x\nFROM a\n"} {
		if _, err := parseDockerfile([]byte(bad)); err == nil {
			t.Errorf("parseDockerfile(%q) succeeded", bad)
		}
	}
}

// TestManifestAliases checks that aliases which make a mapping merge itself,
// or merge one mapping many times over, neither recurse forever nor blow
// up.
func TestManifestAliases(t *testing.T) {
	var wide strings.Builder
	wide.WriteString("apiVersion: v1\nkind: Pod\nx0: &x0 {a: 1}\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&wide, "x%d: &x%d\n  <<: [", i, i)
		for j := range 20 {
			if j > 0 {
				wide.WriteString(", ")
			}
			fmt.Fprintf(&wide, "*x%d", i-1)
		}
		wide.WriteString("]\n")
	}
	wide.WriteString("spec:\n  securityContext: *x29\n  containers:\n  - name: c\n    securityContext: *x29\n")
	for _, src := range []string{
		"apiVersion: v1\nkind: Pod\nspec: &a\n  <<: *a\n  containers: []\n",
		"apiVersion: v1\nkind: Pod\nspec:\n  securityContext: &a\n    <<: *a\n  containers:\n  - name: x\n",
		"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - &c\n    name: x\n    securityContext:\n      <<: *c\n",
		wide.String(),
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			checkManifests("x.yaml", []byte(src))
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("checkManifests does not finish on:\n%s", src)
		}
	}
}
