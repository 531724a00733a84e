package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gantry": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: the real
// binary's entry point, real SQLite state, the real local executor.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfile": cmdWaitFile,
			"waitglob": cmdWaitGlob,
			"waithttp": cmdWaitHTTP,
			"noprocs":  cmdNoProcs,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "sandbox":
				return os.Geteuid() == 0, nil
			case "docker":
				// GANTRY_TEST_DOCKER=1 asks for the tests that need a real
				// engine and the image built by .ci/testimage.
				return os.Getenv("GANTRY_TEST_DOCKER") == "1", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// waitfile FILE waits up to 20 seconds for FILE to exist.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	p := ts.MkAbs(args[0])
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear within 20s", args[0])
}

// noprocs MARKER fails if any process's command line contains MARKER,
// after giving processes that are going away a moment to do so.
func cmdNoProcs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: noprocs MARKER")
	}
	marker := []byte(args[0])
	var left []string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		left = left[:0]
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && bytes.Contains(b, marker) {
				left = append(left, e.Name()+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
			}
		}
		if len(left) == 0 {
			return
		}
	}
	ts.Fatalf("processes left behind: %v", left)
}

// waitglob PATTERN waits up to 30 seconds for a file matching PATTERN.
func cmdWaitGlob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitglob PATTERN")
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m, _ := filepath.Glob(ts.MkAbs(args[0])); len(m) > 0 {
			return
		}
	}
	ts.Fatalf("nothing matched %s within 30s", args[0])
}

// waithttp URL waits up to 30 seconds for URL to answer 200.
func cmdWaitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waithttp URL")
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(args[0]); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	ts.Fatalf("%s did not answer 200 within 30s", args[0])
}
