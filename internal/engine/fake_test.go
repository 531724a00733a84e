package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry"
)

// fakeExecutor runs a tiny script language instead of a shell, so that
// engine tests can script what a step does:
//
//	echo TEXT       a line on stdout
//	err TEXT        a line on stderr
//	exit N          end with exit code N
//	sleep DURATION  wait, or stop when cancelled
//	write PATH TEXT write a file in the workspace
//	fail-until N    exit 1 on attempts before the Nth
//	env NAME        print NAME=value of the task's environment, or NAME unset
type fakeExecutor struct {
	mu       sync.Mutex
	running  int
	peak     int
	starts   []string
	attempts map[string]int
	tasks    map[string]*gantry.Task
}

func newFake() *fakeExecutor {
	return &fakeExecutor{attempts: map[string]int{}, tasks: map[string]*gantry.Task{}}
}

func (f *fakeExecutor) Name() string { return "fake" }

func (f *fakeExecutor) Run(ctx context.Context, t *gantry.Task) (gantry.Exit, error) {
	f.mu.Lock()
	f.running++
	f.peak = max(f.peak, f.running)
	f.starts = append(f.starts, t.Step)
	f.attempts[t.Step]++
	attempt := f.attempts[t.Step]
	f.tasks[t.Step] = t
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	for _, line := range strings.Split(t.Script, "\n") {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "", "#", "true":
		case "echo":
			fmt.Fprintln(t.Stdout, arg)
		case "err":
			fmt.Fprintln(t.Stderr, arg)
		case "exit":
			n, _ := strconv.Atoi(arg)
			return gantry.Exit{Code: n, Sandbox: "fake"}, nil
		case "sleep":
			d, _ := time.ParseDuration(arg)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return gantry.Exit{Code: -1, Signal: "TERM"}, ctx.Err()
			}
		case "write":
			p, text, _ := strings.Cut(arg, " ")
			full := filepath.Join(t.Workspace, p)
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
				return gantry.Exit{Code: -1}, err
			}
		case "fail-until":
			n, _ := strconv.Atoi(arg)
			if attempt < n {
				return gantry.Exit{Code: 1}, nil
			}
		case "env":
			if v, ok := t.Env[arg]; ok {
				fmt.Fprintf(t.Stdout, "%s=%s\n", arg, v)
			} else {
				fmt.Fprintf(t.Stdout, "%s unset\n", arg)
			}
		default:
			return gantry.Exit{Code: 127}, nil
		}
	}
	return gantry.Exit{Code: 0, Sandbox: "fake"}, nil
}

func (f *fakeExecutor) startOrder() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.starts...)
}
