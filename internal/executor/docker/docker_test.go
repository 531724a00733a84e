package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"gantry.dev/gantry"
)

// testImage is built by .ci/testimage.
const testImage = "gantry-test/busybox:latest"

const enableHint = "docker tests need a docker engine and the image " + testImage +
	": run .ci/testimage, then GANTRY_TEST_DOCKER=1 go test ./internal/executor/docker"

// newTestExecutor returns an Executor on the engine of the environment. It
// skips the test unless GANTRY_TEST_DOCKER=1; then a missing engine or test
// image is a failure.
func newTestExecutor(tb testing.TB) *Executor {
	tb.Helper()
	if os.Getenv("GANTRY_TEST_DOCKER") != "1" {
		tb.Skip(enableHint)
	}
	ctx := tb.Context()
	e, err := New(ctx, Options{})
	if err != nil {
		tb.Fatalf("New: %v (%s)", err, enableHint)
	}
	tb.Cleanup(func() { e.Close() })
	if _, err := e.cli.ImageInspect(ctx, testImage); err != nil {
		tb.Fatalf("inspect %s: %v (%s)", testImage, err, enableHint)
	}
	return e
}

// newTask returns a task of a new run, in a new workspace, in the test
// image, and checks when the test ends that none of the run's containers
// remain.
func newTask(t *testing.T, e *Executor, script string) (*gantry.Task, *syncBuffer, *syncBuffer) {
	t.Helper()
	run := gantry.NewRunID(time.Now())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	task := &gantry.Task{
		RunID:     run,
		Step:      strings.ReplaceAll(t.Name(), "/", "-"),
		Script:    script,
		Env:       map[string]string{"PATH": "/usr/bin:/bin"},
		Workspace: t.TempDir(),
		Image:     testImage,
		Stdout:    stdout,
		Stderr:    stderr,
	}
	t.Cleanup(func() {
		if left := containersOf(t, e, run); len(left) > 0 {
			t.Errorf("containers of run %s left behind: %v", run, left)
			_ = e.Cleanup(context.Background(), run)
		}
	})
	return task, stdout, stderr
}

// containersOf lists the containers of a run, running or not.
func containersOf(t *testing.T, e *Executor, run gantry.RunID) []string {
	t.Helper()
	list, err := e.cli.ContainerList(context.Background(), client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelRun+"="+string(run)),
	})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	var ids []string
	for _, c := range list.Items {
		ids = append(ids, fmt.Sprintf("%.12s (%s)", c.ID, c.State))
	}
	return ids
}

// syncBuffer is a bytes.Buffer that records each write, safe for a test to
// read while Run writes.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes []string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = append(b.writes, string(p))
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Writes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.writes...)
}

// waitFor waits until the buffer holds s. It may be called from any
// goroutine: it reports failure with t.Errorf.
func (b *syncBuffer) waitFor(t *testing.T, s string, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Errorf("no %q in output after %s; output so far: %q", s, d, b.String())
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func TestNewUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	start := time.Now()
	_, err := New(t.Context(), Options{Host: "unix://" + sock})
	if err == nil {
		t.Fatal("New with no engine: no error")
	}
	if kind := gantry.ErrorKind(err); kind != gantry.EUnavailable {
		t.Errorf("kind = %s, want %s (err: %v)", kind, gantry.EUnavailable, err)
	}
	msg := gantry.ErrorMessage(err)
	for _, want := range []string{"docker engine not reachable at unix://" + sock, "is dockerd running?"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to notice", d)
	}
}

func TestRunOutput(t *testing.T) {
	e := newTestExecutor(t)
	task, stdout, stderr := newTask(t, e, `
echo out 1
echo err 1 >&2
printf 'out 2 '; sleep 0.2; echo 'ends here'
echo err 2 >&2
seq 1 5000
printf 'no newline'
`)
	exit, err := e.Run(t.Context(), task)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if exit.Code != 0 || exit.Signal != "" {
		t.Errorf("exit = %d %q, want 0", exit.Code, exit.Signal)
	}
	var seq strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintln(&seq, i)
	}
	if diff := cmp.Diff("out 1\nout 2 ends here\n"+seq.String()+"no newline", stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("err 1\nerr 2\n", stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	// Each write carries whole lines, even when the script wrote half a line
	// and waited.
	writes := stdout.Writes()
	for i, w := range writes[:len(writes)-1] {
		if !strings.HasSuffix(w, "\n") {
			t.Errorf("write %d to stdout %q is not whole lines", i, w)
		}
	}
	if !strings.HasPrefix(exit.Meta["image_digest"], "sha256:") {
		t.Errorf("Meta[image_digest] = %q, want sha256:…", exit.Meta["image_digest"])
	}
	if id, _ := e.cli.ImageInspect(t.Context(), testImage); exit.Meta["image_digest"] != id.ID {
		t.Errorf("Meta[image_digest] = %q, want the test image's ID %s", exit.Meta["image_digest"], id.ID)
	}
	if exit.Meta["container_id"] == "" {
		t.Error("no Meta[container_id]")
	}
	if !strings.Contains(exit.Sandbox, "docker container, network none, all capabilities dropped") {
		t.Errorf("Sandbox = %q", exit.Sandbox)
	}
}

func TestRunExitCode(t *testing.T) {
	e := newTestExecutor(t)
	for _, tc := range []struct {
		script string
		code   int
		stdout string
	}{
		{"exit 3", 3, ""},
		{"echo before; false; echo after", 1, "before\n"}, // sh -e
		{"kill -9 $$", 137, ""},
		{"true", 0, ""},
	} {
		t.Run(tc.script, func(t *testing.T) {
			task, stdout, _ := newTask(t, e, tc.script)
			exit, err := e.Run(t.Context(), task)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if exit.Code != tc.code {
				t.Errorf("exit code = %d, want %d", exit.Code, tc.code)
			}
			if got := stdout.String(); got != tc.stdout {
				t.Errorf("stdout = %q, want %q", got, tc.stdout)
			}
		})
	}
}

func TestRunEnv(t *testing.T) {
	e := newTestExecutor(t)
	img, err := e.cli.ImageInspect(t.Context(), testImage)
	if err != nil || !slices.Contains(img.Config.Env, "GANTRY_TEST_IMAGE_ENV=set-by-the-image") {
		t.Fatalf("%s has no GANTRY_TEST_IMAGE_ENV (err %v): rebuild it with .ci/testimage --force", testImage, err)
	}
	t.Setenv("GANTRY_TEST_HOST_ONLY", "must-not-leak")
	task, stdout, stderr := newTask(t, e, "env -0")
	task.Env = map[string]string{
		"PATH":    "/bin",
		"SPACES":  "a b  c",
		"LINES":   "one\ntwo\n",
		"EQUALS":  "x=y=z",
		"QUOTES":  `'"$HOME` + "`id`",
		"EMPTY":   "",
		"UNICODE": "façade ✓",
	}
	exit, err := e.Run(t.Context(), task)
	if err != nil || exit.Code != 0 {
		t.Fatalf("Run: %v, exit %d, stderr %q", err, exit.Code, stderr.String())
	}
	got := map[string]string{}
	for kv := range strings.SplitSeq(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	// The task's variables win over the image's (PATH); the image's own
	// stay (GANTRY_TEST_IMAGE_ENV); the engine adds HOSTNAME and HOME;
	// nothing comes from the host. The shell keeps PWD and SHLVL.
	want := maps.Clone(task.Env)
	want["GANTRY_TEST_IMAGE_ENV"] = "set-by-the-image"
	for _, k := range []string{"PWD", "SHLVL", "HOSTNAME", "HOME"} {
		delete(got, k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment in the container (-want +got):\n%s", diff)
	}
}

func TestRunWorkspace(t *testing.T) {
	e := newTestExecutor(t)
	task, stdout, stderr := newTask(t, e, `pwd; cat input.txt; echo written > out/output.txt; mkdir -p made/deep`)
	if err := os.WriteFile(filepath.Join(task.Workspace, "input.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(task.Workspace, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	exit, err := e.Run(t.Context(), task)
	if err != nil || exit.Code != 0 {
		t.Fatalf("Run: %v, exit %d, stderr %q", err, exit.Code, stderr.String())
	}
	if got, want := stdout.String(), "/workspace\nfrom the host\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	out := filepath.Join(task.Workspace, "out", "output.txt")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("file written in the container: %v", err)
	}
	if string(data) != "written\n" {
		t.Errorf("%s = %q", out, data)
	}
	for _, p := range []string{out, filepath.Join(task.Workspace, "made", "deep")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Errorf("%s is owned by %d:%d, want this process's %d:%d", p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
		}
	}
}

func TestRunInvalidTask(t *testing.T) {
	e := newTestExecutor(t)
	for _, tc := range []struct {
		name   string
		change func(*gantry.Task)
	}{
		{"relative workspace", func(t *gantry.Task) { t.Workspace = "relative/dir" }},
		{"no workspace", func(t *gantry.Task) { t.Workspace = "" }},
		{"env name with =", func(t *gantry.Task) { t.Env["A=B"] = "c" }},
		{"empty env name", func(t *gantry.Task) { t.Env[""] = "c" }},
		{"NUL in env value", func(t *gantry.Task) { t.Env["A"] = "b\x00c" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, _, _ := newTask(t, e, "true")
			tc.change(task)
			_, err := e.Run(t.Context(), task)
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Errorf("Run: %v (kind %s), want kind %s", err, gantry.ErrorKind(err), gantry.EInvalid)
			}
		})
	}
}

func TestRunWorkspaceMissing(t *testing.T) {
	e := newTestExecutor(t)
	task, _, _ := newTask(t, e, "true")
	task.Workspace = filepath.Join(task.Workspace, "does-not-exist")
	_, err := e.Run(t.Context(), task)
	if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Run with a missing workspace: %v (kind %s), want a %s error that says it does not exist", err, gantry.ErrorKind(err), gantry.EInvalid)
	}
	if _, err := os.Stat(task.Workspace); err == nil {
		t.Errorf("Run created the missing workspace %s", task.Workspace)
	}
}

// An image without a shell fails the step the way a missing command does:
// exit code 127, and docker-init says what it could not run.
func TestRunNoShell(t *testing.T) {
	e := newTestExecutor(t)
	const image = "gantry-test/no-shell:latest"
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	if err := tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: 3}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("hi\n"))
	tw.Close()
	resp, err := e.cli.ImageImport(t.Context(), client.ImageImportSource{Source: &tarball, SourceName: "-"}, image, client.ImageImportOptions{})
	if err != nil {
		t.Fatalf("import %s: %v", image, err)
	}
	io.Copy(io.Discard, resp)
	resp.Close()
	t.Cleanup(func() {
		e.cli.ImageRemove(context.Background(), image, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})

	task, _, stderr := newTask(t, e, "true")
	task.Image = image
	exit, err := e.Run(t.Context(), task)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if exit.Code != 127 || !strings.Contains(stderr.String(), "/bin/sh") {
		t.Errorf("Run in an image without sh: exit %d, stderr %q; want 127 and a word about /bin/sh", exit.Code, stderr.String())
	}
	t.Logf("stderr: %s", stderr.String())
}

// TestRunNetwork checks that a step without network cannot reach a port
// this test listens on, and says what a step with network reaches: with the
// engine's bridge, the container has a loopback of its own, so the host's
// 127.0.0.1 is out of reach there too; with host networking (an engine
// without bridge, such as dockerd --bridge=none) it is the host's.
func TestRunNetwork(t *testing.T) {
	e := newTestExecutor(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var received []string
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, _ := conn.Read(buf)
			mu.Lock()
			received = append(received, string(buf[:n]))
			mu.Unlock()
			conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf(`
ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')
echo "interfaces: $ifaces"
if echo "$MESSAGE" | nc -w 2 127.0.0.1 %d; then echo reached; else echo unreachable; fi`, port)

	for _, tc := range []struct {
		network bool
		reach   bool
	}{
		{network: false, reach: false},
		{network: true, reach: e.network == "host"},
	} {
		t.Run(fmt.Sprintf("network=%v", tc.network), func(t *testing.T) {
			task, stdout, stderr := newTask(t, e, script)
			task.Network = tc.network
			task.Env["MESSAGE"] = t.Name()
			exit, err := e.Run(t.Context(), task)
			if err != nil || exit.Code != 0 {
				t.Fatalf("Run: %v, exit %d, stderr %q", err, exit.Code, stderr.String())
			}
			t.Logf("network mode %s: %s", e.network, strings.ReplaceAll(stdout.String(), "\n", "; "))
			mu.Lock()
			got := strings.Contains(strings.Join(received, "|"), t.Name())
			mu.Unlock()
			if got != tc.reach || strings.Contains(stdout.String(), "reached\n") != tc.reach {
				t.Errorf("connection to the host's 127.0.0.1:%d: listener got it %v, script said %q; want reachable=%v",
					port, got, stdout.String(), tc.reach)
			}
			if !tc.network {
				if !strings.Contains(stdout.String(), "interfaces: lo \n") {
					t.Errorf("a step without network has interfaces other than lo: %q", stdout.String())
				}
				if !strings.Contains(exit.Sandbox, "network none") {
					t.Errorf("Sandbox = %q, want network none", exit.Sandbox)
				}
			} else if !strings.Contains(exit.Sandbox, "network "+e.network) {
				t.Errorf("Sandbox = %q, want network %s", exit.Sandbox, e.network)
			}
		})
	}
}

func TestRunCancel(t *testing.T) {
	e := newTestExecutor(t)
	task, stdout, _ := newTask(t, e, "echo started; sleep 60; echo not reached")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		stdout.waitFor(t, "started", 10*time.Second)
		cancel()
	}()
	start := time.Now()
	exit, err := e.Run(ctx, task)
	d := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run cancelled: err = %v, want context.Canceled", err)
	}
	// The default grace is 10s: sleep must have died of SIGTERM, well before.
	if d > 5*time.Second {
		t.Errorf("Run took %s to return after cancel", d)
	}
	if exit.Code != -1 || exit.Signal != "SIGTERM" {
		t.Errorf("exit = %d %q, want -1 SIGTERM", exit.Code, exit.Signal)
	}
	if left := containersOf(t, e, task.RunID); len(left) > 0 {
		t.Errorf("containers left after cancel: %v", left)
	}
	t.Logf("cancelled after %s", d)
}

// A script that ignores SIGTERM is killed after the grace period, or at
// once when Kill is closed.
func TestRunStubborn(t *testing.T) {
	e := newTestExecutor(t)
	const script = `trap 'echo got TERM' TERM; echo started; while :; do sleep 1; done`
	for _, tc := range []struct {
		name      string
		grace     time.Duration
		kill      bool
		atLeast   time.Duration
		atMost    time.Duration
		gotSignal bool // the trap ran
	}{
		{name: "grace", grace: 1500 * time.Millisecond, atLeast: 1500 * time.Millisecond, atMost: 6 * time.Second, gotSignal: true},
		{name: "kill", grace: time.Minute, kill: true, atMost: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, stdout, _ := newTask(t, e, script)
			task.Grace = tc.grace
			kill := make(chan struct{})
			task.Kill = kill
			ctx, cancel := context.WithCancel(t.Context())
			cancelled := make(chan time.Time, 1)
			go func() {
				stdout.waitFor(t, "started", 10*time.Second)
				cancelled <- time.Now()
				cancel()
				if tc.kill {
					close(kill)
				}
			}()
			exit, err := e.Run(ctx, task)
			d := time.Since(<-cancelled)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if d < tc.atLeast || d > tc.atMost {
				t.Errorf("Run returned %s after cancel, want between %s and %s", d, tc.atLeast, tc.atMost)
			}
			if exit.Code != -1 || exit.Signal != "SIGKILL" {
				t.Errorf("exit = %d %q, want -1 SIGKILL", exit.Code, exit.Signal)
			}
			if tc.gotSignal && !strings.Contains(stdout.String(), "got TERM") {
				t.Errorf("script was not sent SIGTERM first; stdout %q", stdout.String())
			}
			t.Logf("stopped %s after cancel", d)
		})
	}
}

func TestRunMissingImage(t *testing.T) {
	e := newTestExecutor(t)
	task, _, _ := newTask(t, e, "true")
	task.Image = "gantry-test/does-not-exist:1.0"
	start := time.Now()
	_, err := e.Run(t.Context(), task)
	d := time.Since(start)
	if err == nil {
		t.Fatal("Run with a missing image: no error")
	}
	if kind := gantry.ErrorKind(err); kind != gantry.EUnavailable {
		t.Errorf("kind = %s, want %s", kind, gantry.EUnavailable)
	}
	want := `image "gantry-test/does-not-exist:1.0" is not present on this docker engine and cannot be pulled: `
	if msg := gantry.ErrorMessage(err); !strings.HasPrefix(msg, want) {
		t.Errorf("message = %q, want it to start with %q", msg, want)
	}
	if d > 30*time.Second {
		t.Errorf("took %s to give up", d)
	}
	t.Logf("%s: %v", d, err)
}

// A registry that accepts connections and never answers holds a step no
// longer than the pull idle timeout.
func TestRunPullStalls(t *testing.T) {
	newTestExecutor(t)
	e, err := New(t.Context(), Options{PullIdleTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // and never answer
			mu.Unlock()
		}
	}()
	task, _, _ := newTask(t, e, "true")
	task.Image = ln.Addr().String() + "/stalls:1.0"
	start := time.Now()
	_, err = e.Run(t.Context(), task)
	d := time.Since(start)
	t.Logf("%s: %v", d, err)
	if gantry.ErrorKind(err) != gantry.EUnavailable || !strings.Contains(err.Error(), "cannot be pulled: no progress for 1s") {
		t.Errorf("Run: %v (kind %s), want a %s error about no progress", err, gantry.ErrorKind(err), gantry.EUnavailable)
	}
	if d > 10*time.Second {
		t.Errorf("took %s to give up on a stalled pull", d)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n == 0 {
		t.Error("the engine never connected to the stalled registry: the test tested nothing")
	}
}

func TestRunInvalidImage(t *testing.T) {
	e := newTestExecutor(t)
	for _, image := range []string{"", "Upper/Case", "a b"} {
		task, _, _ := newTask(t, e, "true")
		task.Image = image
		_, err := e.Run(t.Context(), task)
		if kind := gantry.ErrorKind(err); kind != gantry.EInvalid {
			t.Errorf("image %q: err = %v (kind %s), want kind %s", image, err, kind, gantry.EInvalid)
		}
	}
}

func TestRunParallel(t *testing.T) {
	e := newTestExecutor(t)
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			task, stdout, _ := newTask(t, e, `echo "step $N"; exit $N`)
			task.Env["N"] = fmt.Sprint(i)
			exit, err := e.Run(t.Context(), task)
			if err != nil {
				t.Fatal(err)
			}
			if exit.Code != i || stdout.String() != fmt.Sprintf("step %d\n", i) {
				t.Errorf("exit %d, stdout %q", exit.Code, stdout.String())
			}
		})
	}
}

func TestCleanup(t *testing.T) {
	e := newTestExecutor(t)
	ctx := t.Context()
	run := gantry.NewRunID(time.Now())
	other := gantry.NewRunID(time.Now())
	// Leftovers as a crash leaves them: created, running and exited.
	create := func(run gantry.RunID, start bool, cmd ...string) string {
		t.Helper()
		c, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{
				Image:  testImage,
				Cmd:    cmd,
				Labels: map[string]string{LabelRun: string(run), LabelStep: "leftover"},
			},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if start {
			if _, err := e.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return c.ID
	}
	create(run, false, "true")
	create(run, true, "sleep", "60")
	create(run, true, "true")
	keep := create(other, false, "true")
	defer e.remove(context.Background(), keep)

	if n := len(containersOf(t, e, run)); n != 3 {
		t.Fatalf("%d containers before Cleanup, want 3", n)
	}
	if err := e.Cleanup(ctx, run); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if left := containersOf(t, e, run); len(left) > 0 {
		t.Errorf("left after Cleanup: %v", left)
	}
	if n := len(containersOf(t, e, other)); n != 1 {
		t.Errorf("Cleanup removed another run's container")
	}
	if err := e.Cleanup(ctx, run); err != nil {
		t.Errorf("Cleanup of nothing: %v", err)
	}
}

// The helper process runs one long task and is interrupted (SIGINT, as by
// Ctrl-C) or killed (SIGKILL, as by a crash) by the test.
const helperEnv = "GANTRY_DOCKER_TEST_HELPER"

func TestMain(m *testing.M) {
	if run := os.Getenv(helperEnv); run != "" {
		os.Exit(helper(gantry.RunID(run)))
	}
	os.Exit(m.Run())
}

func helper(run gantry.RunID) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	e, err := New(ctx, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer e.Close()
	_, err = e.Run(ctx, &gantry.Task{
		RunID: run, Step: "helper", Script: "echo started; sleep 60",
		Workspace: os.Getenv(helperEnv + "_WORKSPACE"), Image: testImage, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	fmt.Fprintln(os.Stderr, "Run:", err)
	if errors.Is(err, context.Canceled) {
		return 0
	}
	return 1
}

func startHelper(t *testing.T, run gantry.RunID) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(run), helperEnv+"_WORKSPACE="+t.TempDir())
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if !out.waitFor(t, "started", 20*time.Second) {
		t.FailNow()
	}
	return cmd, out
}

func TestRunInterrupted(t *testing.T) {
	e := newTestExecutor(t)
	run := gantry.NewRunID(time.Now())
	cmd, out := startHelper(t, run)
	if n := len(containersOf(t, e, run)); n != 1 {
		t.Fatalf("%d containers while the helper runs, want 1", n)
	}
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v; output:\n%s", err, out.String())
	}
	t.Logf("helper exited %s after SIGINT", time.Since(start))
	if left := containersOf(t, e, run); len(left) > 0 {
		t.Errorf("containers left after the process was interrupted: %v", left)
	}
}

func TestCleanupAfterCrash(t *testing.T) {
	e := newTestExecutor(t)
	run := gantry.NewRunID(time.Now())
	cmd, _ := startHelper(t, run)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if n := len(containersOf(t, e, run)); n != 1 {
		t.Fatalf("%d containers after the crash, want the 1 running one", n)
	}
	if err := e.Cleanup(t.Context(), run); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if left := containersOf(t, e, run); len(left) > 0 {
		t.Errorf("left after Cleanup: %v", left)
	}
}

// BenchmarkRunTrue measures one step that does nothing, without network:
// the per-step overhead. Compare with
//
//	docker run --rm --network none gantry-test/busybox:latest true
func BenchmarkRunTrue(b *testing.B) {
	e := newTestExecutor(b)
	dir := b.TempDir()
	task := &gantry.Task{
		RunID: gantry.NewRunID(time.Now()), Step: "bench", Script: "true",
		Env: map[string]string{"PATH": "/bin"}, Workspace: dir, Image: testImage,
	}
	for b.Loop() {
		exit, err := e.Run(b.Context(), task)
		if err != nil || exit.Code != 0 {
			b.Fatalf("Run: %v, exit %d", err, exit.Code)
		}
	}
}

// BenchmarkDockerCLIRun is the baseline of BenchmarkRunTrue: the same step
// as plain `docker run` does it.
func BenchmarkDockerCLIRun(b *testing.B) {
	newTestExecutor(b)
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Skip("no docker command for the baseline")
	}
	for b.Loop() {
		out, err := exec.CommandContext(b.Context(), docker, "run", "--rm", "--network", "none", testImage, "true").CombinedOutput()
		if err != nil {
			b.Fatalf("docker run: %v\n%s", err, out)
		}
	}
}

func TestRunInStepDirectory(t *testing.T) {
	e := newTestExecutor(t)
	task, stdout, stderr := newTask(t, e, "pwd; cat ../top.txt")
	task.Dir = "service"
	if err := os.WriteFile(filepath.Join(task.Workspace, "top.txt"), []byte("top\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(task.Workspace, "service"), 0o755); err != nil {
		t.Fatal(err)
	}
	exit, err := e.Run(t.Context(), task)
	if err != nil || exit.Code != 0 {
		t.Fatalf("Run: %v, exit %d, stderr %q", err, exit.Code, stderr.String())
	}
	if got, want := stdout.String(), "/workspace/service\ntop\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	task.Dir = "../outside"
	if _, err := e.Run(t.Context(), task); gantry.ErrorKind(err) != gantry.EInvalid {
		t.Errorf("Run with Dir outside the workspace = %v, want an invalid error", err)
	}
}

func TestRunWorkspaceVariable(t *testing.T) {
	e := newTestExecutor(t)
	task, stdout, stderr := newTask(t, e, `echo "$GANTRY_WORKSPACE"`)
	task.Env["GANTRY_WORKSPACE"] = task.Workspace // the host's path, as the engine gives it
	exit, err := e.Run(t.Context(), task)
	if err != nil || exit.Code != 0 {
		t.Fatalf("Run: %v, exit %d, stderr %q", err, exit.Code, stderr.String())
	}
	if got := stdout.String(); got != WorkspaceDir+"\n" {
		t.Errorf("GANTRY_WORKSPACE in the container = %q, want %s", got, WorkspaceDir)
	}
}
