package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry"
)

// syncBuffer is a bytes.Buffer safe for the executor's output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newExecutor(t *testing.T, mode Mode) *Executor {
	t.Helper()
	e, err := New(Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := e.Sandboxed(); mode == Auto && !ok {
		t.Skipf("the local sandbox is not available here (%s); run as root on Linux to test it", why)
	}
	return e
}

func task(t *testing.T, script string) (*gantry.Task, *syncBuffer, *syncBuffer) {
	var out, errb syncBuffer
	return &gantry.Task{
		RunID:     "test",
		Step:      t.Name(),
		Script:    script,
		Env:       map[string]string{"PATH": os.Getenv("PATH"), "GANTRY_STEP": "s"},
		Workspace: t.TempDir(),
		Stdout:    &out,
		Stderr:    &errb,
		Grace:     5 * time.Second,
	}, &out, &errb
}

func modes() []Mode { return []Mode{Auto, Off} }

func TestRunOutputAndExitCode(t *testing.T) {
	for _, mode := range modes() {
		t.Run(string(mode), func(t *testing.T) {
			e := newExecutor(t, mode)
			tk, out, errb := task(t, "echo out; echo err >&2\nexit 3")
			exit, err := e.Run(context.Background(), tk)
			if err != nil {
				t.Fatal(err)
			}
			if exit.Code != 3 {
				t.Errorf("exit code = %d, want 3", exit.Code)
			}
			if out.String() != "out\n" || errb.String() != "err\n" {
				t.Errorf("stdout %q stderr %q", out.String(), errb.String())
			}
			if exit.Sandbox == "" {
				t.Error("no sandbox description")
			}
		})
	}
}

func TestRunStopsAtFirstFailure(t *testing.T) {
	for _, mode := range modes() {
		t.Run(string(mode), func(t *testing.T) {
			e := newExecutor(t, mode)
			tk, out, _ := task(t, "echo one\nfalse\necho two")
			exit, err := e.Run(context.Background(), tk)
			if err != nil {
				t.Fatal(err)
			}
			if exit.Code != 1 || out.String() != "one\n" {
				t.Errorf("exit %d, output %q: want 1 and only the first line", exit.Code, out.String())
			}
		})
	}
}

func TestRunEnvironmentIsExactlyTheTasks(t *testing.T) {
	t.Setenv("LEAKY_TOKEN", "do-not-pass")
	e := newExecutor(t, Auto)
	tk, out, _ := task(t, "env")
	if _, err := e.Run(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		name, _, _ := strings.Cut(line, "=")
		names = append(names, name)
	}
	// The shell itself sets PWD (and dash nothing else).
	for _, n := range names {
		if n != "PATH" && n != "GANTRY_STEP" && n != "PWD" {
			t.Errorf("unexpected variable %s in the step's environment:\n%s", n, out.String())
		}
	}
}

func TestSandboxIsolation(t *testing.T) {
	e := newExecutor(t, Auto)
	marker := fmt.Sprintf("gantry-host-%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(os.TempDir(), marker), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(os.TempDir(), marker)) })
	tk, out, errb := task(t, `echo pid=$$
echo host=$(hostname)
ls /tmp | grep -c gantry-host- || true
echo private > /tmp/step-file
echo procs=$(ls -d /proc/[0-9]* | wc -l)
echo pwd=$(pwd)`)
	if _, err := e.Run(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"pid=1\n", "host=gantry\n", "\n0\n", "pwd=" + tk.Workspace + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s%s", want, got, errb.String())
		}
	}
	if _, err := os.Stat("/tmp/step-file"); err == nil {
		os.Remove("/tmp/step-file")
		t.Error("the step's /tmp is the host's")
	}
	if strings.Contains(e.describeProc(), "own /proc") && !strings.Contains(got, "procs=") {
		t.Errorf("no process count: %s", got)
	}
}

// describeProc runs a tiny step and returns its sandbox description.
func (e *Executor) describeProc() string {
	var b bytes.Buffer
	exit, _ := e.Run(context.Background(), &gantry.Task{Script: "true", Env: map[string]string{}, Workspace: os.TempDir(), Stdout: &b, Stderr: &b})
	return exit.Sandbox
}

func TestSandboxHidesState(t *testing.T) {
	ws := t.TempDir()
	state := filepath.Join(ws, ".gantry", "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "gantry.db"), []byte("evidence"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{StateDirs: []string{state}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := e.Sandboxed(); !ok {
		t.Skip(why)
	}
	tk, out, _ := task(t, "ls -A .gantry/state | wc -l; echo tamper > .gantry/state/gantry.db || echo refused")
	tk.Workspace = ws
	if _, err := e.Run(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "0\n") || !strings.Contains(got, "refused") {
		t.Errorf("state visible or writable from the step: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(state, "gantry.db")); string(b) != "evidence" {
		t.Errorf("state changed: %q", b)
	}
}

// listen starts a TCP listener on 127.0.0.1 and returns its port.
func listen(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// connectScript tries a TCP connection with the shell's /dev/tcp if it has
// one, else with a tool that exists here.
func connectScript(t *testing.T, port int) string {
	for _, tool := range []string{"nc", "busybox", "bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		switch tool {
		case "nc":
			return fmt.Sprintf("nc -w 2 127.0.0.1 %d </dev/null", port)
		case "busybox":
			return fmt.Sprintf("busybox nc -w 2 127.0.0.1 %d </dev/null", port)
		case "bash":
			return fmt.Sprintf("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d && cat <&3'", port)
		case "curl":
			return fmt.Sprintf("curl -s --max-time 2 telnet://127.0.0.1:%d </dev/null", port)
		}
	}
	t.Skip("no tool to open a TCP connection (nc, busybox, bash or curl)")
	return ""
}

func TestSandboxHasItsOwnLoopback(t *testing.T) {
	e := newExecutor(t, Auto)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox is not installed")
	}
	// A server inside the sandbox on its own 127.0.0.1, as a step's tests
	// would start one.
	tk, out, errb := task(t, `busybox nc -l -p 7777 -e echo inside & sleep 0.2; busybox nc -w 2 127.0.0.1 7777 </dev/null`)
	exit, err := e.Run(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 || !strings.Contains(out.String(), "inside") {
		t.Errorf("loopback inside the sandbox does not work (exit %d, out %q, err %q)", exit.Code, out.String(), errb.String())
	}
}

func TestSandboxNetwork(t *testing.T) {
	e := newExecutor(t, Auto)
	port := listen(t)
	script := connectScript(t, port)

	tk, out, errb := task(t, script)
	exit, err := e.Run(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code == 0 || strings.Contains(out.String(), "hello") {
		t.Errorf("a step without network reached 127.0.0.1:%d (exit %d, out %q, err %q)", port, exit.Code, out.String(), errb.String())
	}

	tk, out, errb = task(t, script)
	tk.Network = true
	exit, err = e.Run(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 || !strings.Contains(out.String(), "hello") {
		t.Errorf("a step with network could not reach 127.0.0.1:%d (exit %d, out %q, err %q)", port, exit.Code, out.String(), errb.String())
	}
}

// processesWith returns the pids whose command line contains s.
func processesWith(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestCancelLeavesNothingBehind(t *testing.T) {
	for _, mode := range modes() {
		t.Run(string(mode), func(t *testing.T) {
			e := newExecutor(t, mode)
			// A background process, a detached one and a foreground one.
			secs := fmt.Sprint(3000 + time.Now().UnixNano()%1000)
			tk, _, _ := task(t, fmt.Sprintf("sleep %s.1 & (sleep %s.2 &) ; echo started; sleep %s.3", secs, secs, secs))
			cancel, done := startUntil(t, e, tk, "started")
			time.Sleep(50 * time.Millisecond)
			if n := len(processesWith(t, secs)); n < 3 {
				t.Fatalf("only %d step processes seen running before cancel", n)
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
			case <-time.After(8 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			deadline := time.Now().Add(2 * time.Second)
			for len(processesWith(t, secs)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if left := processesWith(t, secs); len(left) > 0 {
				t.Errorf("processes left behind after cancel: %v", left)
			}
		})
	}
}

func TestKillSkipsGrace(t *testing.T) {
	for _, mode := range modes() {
		t.Run(string(mode), func(t *testing.T) {
			e := newExecutor(t, mode)
			tk, _, _ := task(t, "trap '' TERM; echo started; while :; do sleep 0.05; done")
			tk.Grace = time.Minute
			kill := make(chan struct{})
			tk.Kill = kill
			cancel, done := startUntil(t, e, tk, "started")
			cancel()
			time.Sleep(100 * time.Millisecond)
			close(kill)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return promptly after Kill")
			}
		})
	}
}

// startUntil runs tk in the background until its output says word, and
// returns how to cancel it and where Run's error arrives.
func startUntil(t *testing.T, e *Executor, tk *gantry.Task, word string) (context.CancelFunc, <-chan error) {
	t.Helper()
	started := make(chan struct{})
	var once sync.Once
	tk.Stdout = writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte(word)) {
			once.Do(func() { close(started) })
		}
		return len(p), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, tk)
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run ended before the step started: %v", err)
	}
	return cancel, done
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestRequiredModeWithoutSandbox(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root has the sandbox; this checks the refusal elsewhere")
	}
	if _, err := New(Options{Mode: Required}); gantry.ErrorKind(err) != gantry.EUnavailable {
		t.Errorf("New(Required) without namespaces = %v, want an unavailable error", err)
	}
}

func benchTask(b *testing.B) *gantry.Task {
	return &gantry.Task{Script: "true", Env: map[string]string{"PATH": os.Getenv("PATH")}, Workspace: b.TempDir(), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
}

// BenchmarkSandboxTrue is the cost of one sandboxed `true` step.
func BenchmarkSandboxTrue(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if ok, why := e.Sandboxed(); !ok {
		b.Skip(why)
	}
	tk := benchTask(b)
	for b.Loop() {
		if _, err := e.Run(context.Background(), tk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainShTrue is the baseline: `sh -c true` with os/exec.
func BenchmarkPlainShTrue(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		cmd := exec.Command("/bin/sh", "-c", "true")
		cmd.Dir = dir
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
