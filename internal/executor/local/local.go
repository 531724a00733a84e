// Package local runs steps on this machine, each in a sandbox of its own
// Linux namespaces where the host allows it.
//
// A sandboxed step gets new pid, mount, ipc and uts namespaces and, unless
// it asks for the network, a new network namespace with nothing but its own
// loopback interface: 127.0.0.1 there is the sandbox's, not the host's. Its /tmp is a private tmpfs, /proc shows only its
// own processes, the workspace is bind-mounted, and Gantry's local state
// under .gantry/state is hidden from it. When the step's first process ends,
// the kernel ends every process it left behind.
//
// The namespaces are made without starting any helper process: a goroutine
// locked to its own OS thread unshares them, mounts what the step needs,
// and starts the shell from that thread, so the shell is born inside them.
// The thread is never handed back to the Go scheduler; it ends with the
// goroutine. This keeps a sandbox's cost near that of the namespaces alone.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gantry.dev/gantry"
)

// Mode chooses whether steps run in a sandbox.
type Mode string

// The modes.
const (
	// Auto uses the sandbox where the host allows it and a plain process
	// group elsewhere, saying so.
	Auto Mode = "auto"
	// Required refuses to run a step without the sandbox.
	Required Mode = "required"
	// Off runs every step as a plain process group.
	Off Mode = "off"
)

// Options configure an Executor.
type Options struct {
	Mode Mode
	// Shell is the shell that runs a step's script; /bin/sh by default.
	Shell string
	// StateDirs are hidden from sandboxed steps (Gantry's own state inside
	// the workspace), each under an empty read-only tmpfs.
	StateDirs []string
	Logger    *slog.Logger
}

// Executor runs tasks on this machine.
type Executor struct {
	shell     string
	stateDirs []string
	log       *slog.Logger

	sandbox bool   // namespaces are available and used
	why     string // why the sandbox is not used, when it is not

	procOnce sync.Once
	pool     *pool
}

var _ gantry.Executor = (*Executor)(nil)

// New probes what the host allows and returns an Executor.
func New(opts Options) (*Executor, error) {
	e := &Executor{shell: opts.Shell, stateDirs: opts.StateDirs, log: opts.Logger}
	if e.shell == "" {
		e.shell = "/bin/sh"
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if opts.Mode == "" {
		opts.Mode = Auto
	}
	// Go checks once, with a throwaway child, whether the kernel gives
	// pidfds. That child must not be born inside a step's pid namespace,
	// where it would be the namespace's init and take it down on exit.
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
	switch opts.Mode {
	case Off:
		e.why = "the sandbox is switched off"
	case Auto, Required:
		if err := probe(); err != nil {
			e.why = err.Error()
			if opts.Mode == Required {
				return nil, gantry.Errorf(gantry.EUnavailable, "the local sandbox is required but not available: %s", e.why)
			}
		} else {
			e.sandbox = true
			e.pool = newPool(2)
		}
	default:
		return nil, gantry.Errorf(gantry.EInvalid, "unknown sandbox mode %q (want auto, required or off)", opts.Mode)
	}
	return e, nil
}

// Name returns "local".
func (e *Executor) Name() string { return "local" }

// Close releases what the executor holds ahead of time.
func (e *Executor) Close() error {
	if e.pool != nil {
		e.pool.close()
	}
	return nil
}

// Sandboxed reports whether steps run in namespaces, and if not, why.
func (e *Executor) Sandboxed() (bool, string) { return e.sandbox, e.why }

// probe checks that this process may make the namespaces a sandbox needs,
// on a thread that is thrown away afterwards.
func probe() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("namespaces need Linux")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET)
		if err == nil {
			err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("making namespaces needs root (CAP_SYS_ADMIN): %w", err)
		}
		return fmt.Errorf("the kernel refused new namespaces: %w", err)
	}
	return nil
}

// Run runs t's script with `sh -e -c` and returns when every process of the
// step is gone.
func (e *Executor) Run(ctx context.Context, t *gantry.Task) (gantry.Exit, error) {
	if err := ctx.Err(); err != nil {
		return gantry.Exit{Code: -1}, err
	}
	if err := t.CheckDir(); err != nil {
		return gantry.Exit{Code: -1}, err
	}
	if e.sandbox {
		return e.runSandboxed(ctx, t)
	}
	return e.runPlain(ctx, t)
}

// gateScript waits for one line on fd 3 before running the step's script
// (passed as $0): the sandbox's /proc can only be mounted once the
// namespace's first process exists, and the script must not start before.
const gateScript = `read -r _ <&3 || exit 125; exec 3<&-; set -e; eval "$0"`

func (e *Executor) runSandboxed(ctx context.Context, t *gantry.Task) (gantry.Exit, error) {
	var sb *sandbox
	if t.Network {
		sb = prepare(true, t.Workspace, e.stateDirs)
	} else {
		sb = e.pool.take(t.Workspace, e.stateDirs)
	}
	if sb.err != nil {
		close(sb.jobs)
		return gantry.Exit{Code: -1}, sb.err
	}
	done := make(chan jobResult, 1)
	sb.jobs <- job{ctx: ctx, t: t, e: e, done: done}
	close(sb.jobs)
	r := <-done
	return r.exit, r.err
}

// runIn runs the job's task on the sandbox's thread, in its namespaces.
func (j job) runIn() (gantry.Exit, error) {
	e, t := j.e, j.t
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return gantry.Exit{Code: -1}, fmt.Errorf("make gate pipe: %w", err)
	}
	defer gateW.Close()
	cmd := e.command(t, "-c", gateScript, t.Script)
	cmd.ExtraFiles = []*os.File{gateR}
	if err := cmd.Start(); err != nil {
		gateR.Close()
		return gantry.Exit{Code: -1}, fmt.Errorf("start %s: %w", e.shell, err)
	}
	gateR.Close()
	procNote, err := e.mountProc()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return gantry.Exit{Code: -1}, err
	}
	if _, err := gateW.Write([]byte("\n")); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return gantry.Exit{Code: -1}, fmt.Errorf("open the step's gate: %w", err)
	}
	gateW.Close()
	ctx := j.ctx

	sandbox := "namespaces: pid, mount, ipc, uts"
	if !t.Network {
		sandbox += ", net (no network)"
	} else {
		sandbox += "; host network"
	}
	sandbox += "; private /tmp" + procNote
	// The first process is the namespace's init: killing it ends them all.
	return e.wait(ctx, t, cmd, sandbox, func(sig syscall.Signal) {
		if sig == syscall.SIGKILL {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			return
		}
		// init ignores signals it has no handler for; its process group
		// gets the polite request.
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	})
}

// mountProc mounts a /proc that shows the step's pid namespace. Kernels
// without the proc pidns option (before Linux 6.18) leave the host's /proc
// visible, and the returned note says so.
func (e *Executor) mountProc() (string, error) {
	nsPath := fmt.Sprintf("/proc/self/task/%d/ns/pid_for_children", unix.Gettid())
	ns, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open the step's pid namespace: %w", err)
	}
	defer unix.Close(ns)
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return e.noProc(err), nil
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetFd(fs, "pidns", ns); err != nil {
		return e.noProc(err), nil
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return "", fmt.Errorf("create /proc: %w", err)
	}
	m, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return "", fmt.Errorf("mount /proc: %w", err)
	}
	defer unix.Close(m)
	if err := unix.MoveMount(m, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return "", fmt.Errorf("place /proc: %w", err)
	}
	return ", own /proc", nil
}

func (e *Executor) noProc(err error) string {
	e.procOnce.Do(func() {
		e.log.Warn("this kernel cannot mount /proc for a step's pid namespace; steps see the host's /proc", "err", err)
	})
	return ", host /proc (kernel lacks the proc pidns option)"
}

// command builds the shell command for t with the shell's arguments.
func (e *Executor) command(t *gantry.Task, args ...string) *exec.Cmd {
	cmd := exec.Command(e.shell, args...)
	cmd.Dir = filepath.Join(t.Workspace, t.Dir)
	cmd.Env = make([]string, 0, len(t.Env))
	for k, v := range t.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout = t.Stdout
	cmd.Stderr = t.Stderr
	// Setpgid gives the step a process group to signal as a whole.
	// Pdeathsig ends the step if Gantry dies; it fires when the thread
	// that started it ends, which is why that thread waits for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Output still held by a process that escaped the group must not keep
	// Wait from returning.
	cmd.WaitDelay = time.Second
	return cmd
}

// runPlain runs t as a plain process group: the fallback where namespaces
// are not available. /tmp is replaced by a private TMPDIR.
func (e *Executor) runPlain(ctx context.Context, t *gantry.Task) (gantry.Exit, error) {
	tmp, err := os.MkdirTemp("", "gantry-step-")
	if err != nil {
		return gantry.Exit{Code: -1}, fmt.Errorf("make private TMPDIR: %w", err)
	}
	defer os.RemoveAll(tmp)
	type result struct {
		exit gantry.Exit
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Locked so that Pdeathsig refers to a thread that lives as long
		// as the step.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := e.command(t, "-e", "-c", t.Script)
		cmd.Env = append(cmd.Env, "TMPDIR="+filepath.Clean(tmp))
		if err := cmd.Start(); err != nil {
			done <- result{gantry.Exit{Code: -1}, fmt.Errorf("start %s: %w", e.shell, err)}
			return
		}
		pgid := cmd.Process.Pid
		exit, err := e.wait(ctx, t, cmd, "process group only, no sandbox: "+e.why, func(sig syscall.Signal) {
			_ = syscall.Kill(-pgid, sig)
		})
		// Whatever the step left running in its group goes with it.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		done <- result{exit, err}
	}()
	r := <-done
	return r.exit, r.err
}

// wait waits for cmd, stopping it when ctx ends: signal(SIGTERM) first,
// signal(SIGKILL) after the grace period or at once when t.Kill closes.
func (e *Executor) wait(ctx context.Context, t *gantry.Task, cmd *exec.Cmd, sandbox string, signal func(syscall.Signal)) (gantry.Exit, error) {
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		signal(syscall.SIGTERM)
		grace := t.Grace
		if grace <= 0 {
			grace = 10 * time.Second
		}
		timer := time.NewTimer(grace)
		select {
		case err = <-waited:
		case <-timer.C:
			signal(syscall.SIGKILL)
			err = <-waited
		case <-t.Kill:
			signal(syscall.SIGKILL)
			err = <-waited
		}
		timer.Stop()
		exit := exitOf(cmd, err)
		exit.Sandbox = sandbox
		return exit, ctx.Err()
	}
	exit := exitOf(cmd, err)
	exit.Sandbox = sandbox
	if err != nil && cmd.ProcessState == nil {
		return exit, fmt.Errorf("wait for %s: %w", e.shell, err)
	}
	return exit, nil
}

func exitOf(cmd *exec.Cmd, err error) gantry.Exit {
	ps := cmd.ProcessState
	if ps == nil {
		return gantry.Exit{Code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return gantry.Exit{Code: -1, Signal: strings.ToUpper(unix.SignalName(ws.Signal()))}
	}
	return gantry.Exit{Code: ps.ExitCode()}
}
