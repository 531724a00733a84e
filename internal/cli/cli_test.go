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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"gantry.dev/gantry"
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
			"waitfile":    cmdWaitFile,
			"waitglob":    cmdWaitGlob,
			"waithttp":    cmdWaitHTTP,
			"pgschema":    cmdPGSchema,
			"runlogs":     cmdRunLogs,
			"sleep":       cmdSleep,
			"noprocs":     cmdNoProcs,
			"alterdigest": cmdAlterDigest,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "sandbox":
				return os.Geteuid() == 0, nil
			case "postgres":
				// GANTRY_TEST_POSTGRES holds a DSN (.ci/postgres makes one).
				return os.Getenv("GANTRY_TEST_POSTGRES") != "", nil
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

// pgschema makes a new schema in the GANTRY_TEST_POSTGRES database, sets
// PGDSN to a DSN that uses it, and drops it when the script ends.
func cmdPGSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: pgschema")
	}
	dsn := os.Getenv("GANTRY_TEST_POSTGRES")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		ts.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("script_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		ts.Fatalf("create schema: %v", err)
	}
	ts.Defer(func() {
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		ts.Fatalf("GANTRY_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	ts.Setenv("PGDSN", u.String())
}

// runlogs SERVER TOKENFILE PROJECT [oldest] waits up to 60 seconds for
// the project's latest run (or its first) to end, then prints "run ID
// STATUS" and its logs.
func cmdRunLogs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 || len(args) == 4 && args[3] != "oldest" {
		ts.Fatalf("usage: runlogs SERVER TOKENFILE PROJECT [oldest]")
	}
	tok := strings.TrimSpace(ts.ReadFile(args[1]))
	get := func(path, accept string) []byte {
		req, _ := http.NewRequest("GET", args[0]+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ts.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			ts.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	type run struct {
		ID     string        `json:"id"`
		Status gantry.Status `json:"status"`
	}
	var r run
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var runs []run
		if err := json.Unmarshal(get("/api/v1/projects/"+args[2]+"/runs", "application/json"), &runs); err != nil || len(runs) == 0 {
			ts.Fatalf("no runs of %s (%v)", args[2], err)
		}
		r = runs[0]
		if len(args) == 4 {
			r = runs[len(runs)-1]
		}
		if r.Status.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("run %s still %s after 60s", r.ID, r.Status)
		}
	}
	fmt.Fprintf(ts.Stdout(), "run %s %s\n", r.ID, r.Status)
	ts.Stdout().Write(get("/api/v1/runs/"+r.ID+"/logs", "text/plain"))
}

// sleep DURATION waits.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		ts.Fatalf("sleep: %v", err)
	}
	time.Sleep(d)
}

// alterdigest FILE changes the first attestation digest in an OSCAL
// report to another valid one.
func cmdAlterDigest(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: alterdigest FILE")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	const prefix = `"value": "sha256:`
	i := bytes.Index(b, []byte(prefix))
	if i < 0 {
		ts.Fatalf("%s holds no digest", args[0])
	}
	j := i + len(prefix)
	if b[j] == '0' {
		b[j] = '1'
	} else {
		b[j] = '0'
	}
	ts.Check(os.WriteFile(p, b, 0o644))
}
