package iac

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func addFixtures(f *testing.F, patterns ...string) {
	for _, pat := range patterns {
		files, _ := filepath.Glob(pat)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzDockerfile checks that no input makes the Dockerfile reader panic and
// that every finding has a line.
func FuzzDockerfile(f *testing.F) {
	addFixtures(f, "testdata/fixtures/docker/*", "testdata/gaps/*.Dockerfile")
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, gap := checkDockerfile("Dockerfile", data)
		if gap != nil && len(fs) > 0 {
			t.Fatal("findings and a gap for one Dockerfile")
		}
		for _, x := range fs {
			if x.Location.Line < 1 {
				t.Fatalf("finding without a line: %+v", x)
			}
		}
	})
}

// FuzzShell checks that no input makes the shell reader panic or loop.
func FuzzShell(f *testing.F) {
	addFixtures(f, "testdata/fixtures/shell/*")
	f.Add([]byte("a $(b `c` <(d) ${e} $((1)) 'f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, x := range checkShellScript("s.sh", data) {
			if x.Location.Line < 1 {
				t.Fatalf("finding without a line: %+v", x)
			}
		}
	})
}

// FuzzManifests checks that no input makes the manifest reader panic.
func FuzzManifests(f *testing.F) {
	addFixtures(f, "testdata/fixtures/k8s/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _, _ := checkManifests("m.yaml", data)
		for _, x := range fs {
			if x.Location.Line < 1 {
				t.Fatalf("finding without a line: %+v", x)
			}
		}
	})
}

// TestPathological feeds the readers inputs built to make naive scanning
// quadratic, at the size limit.
func TestPathological(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: reads several 1 MiB inputs")
	}
	const size = DefaultMaxFileSize
	cases := map[string]func(){
		"shell substitutions":      func() { checkShellScript("s.sh", []byte(strings.Repeat("a $(b ", size/6))) },
		"shell closed subs":        func() { checkShellScript("s.sh", []byte(strings.Repeat("$(", size/4)+strings.Repeat(")", size/4))) },
		"shell heredocs":           func() { checkShellScript("s.sh", []byte(strings.Repeat("cat <<E\n", size/8))) },
		"shell pipes":              func() { checkShellScript("s.sh", []byte(strings.Repeat("curl x | ", size/9))) },
		"dockerfile continuations": func() { checkDockerfile("Dockerfile", []byte("FROM a\nRUN "+strings.Repeat("x \\\n", size/4))) },
		"dockerfile heredocs":      func() { checkDockerfile("Dockerfile", []byte("FROM a\nRUN "+strings.Repeat("<<A ", size/4))) },
		"manifest list": func() {
			checkManifests("m.yaml", []byte("apiVersion: v1\nkind: List\nitems:\n"+strings.Repeat("- {apiVersion: v1, kind: Pod, spec: {containers: [{name: a}]}}\n", size/64)))
		},
	}
	for name, run := range cases {
		start := time.Now()
		run()
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %v", name, d)
		} else {
			t.Logf("%s: %v", name, d)
		}
	}
}
