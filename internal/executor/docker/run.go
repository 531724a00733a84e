package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"gantry.dev/gantry"
)

// Bounds on talking to the engine once a container exists. They use a
// context of their own, because a cancelled run must still clean up.
const (
	apiTimeout  = 30 * time.Second // one request: create, start, kill, remove
	killTimeout = 30 * time.Second // from SIGKILL to the container being gone
	drainTime   = 5 * time.Second  // for output still in flight after the exit
)

// Run runs the task in a new container and returns when the container has
// been removed. See gantry.Executor for what cancelling ctx does.
func (e *Executor) Run(ctx context.Context, t *gantry.Task) (gantry.Exit, error) {
	failed := gantry.Exit{Code: -1}
	if t.Workspace == "" || !filepath.IsAbs(t.Workspace) {
		return failed, gantry.Errorf(gantry.EInvalid, "step %s: workspace %q is not an absolute path", t.Step, t.Workspace)
	}
	if err := t.CheckDir(); err != nil {
		return failed, err
	}
	for k, v := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return failed, gantry.Errorf(gantry.EInvalid, "step %s: environment variable %q cannot be passed to a process", t.Step, k)
		}
	}
	img, err := e.image(ctx, t.Image)
	if err != nil {
		return failed, err
	}
	network := "none"
	if t.Network {
		network = e.network
	}
	failed.Sandbox = e.sandbox(network)
	failed.Meta = map[string]string{"image_digest": img.id, "engine": e.engine}
	if img.repoDigest != "" {
		failed.Meta["image_repo_digest"] = img.repoDigest
	}
	if err := ctx.Err(); err != nil {
		return failed, err
	}

	// From here on the container may exist, so the engine is talked to with
	// a context that survives ctx: whatever happens, it is removed.
	bg := context.WithoutCancel(ctx)
	createCtx, cancel := context.WithTimeout(bg, apiTimeout)
	created, err := e.cli.ContainerCreate(createCtx, e.createOptions(t, img, network))
	cancel()
	if err != nil {
		if cerrdefs.IsInvalidArgument(err) { // a workspace that does not exist, say
			return failed, gantry.Errorf(gantry.EInvalid, "step %s: create container: %w", t.Step, err)
		}
		return failed, fmt.Errorf("step %s: create container: %w", t.Step, err)
	}
	id := created.ID
	failed.Meta["container_id"] = id

	c := &run{e: e, t: t, id: id, bg: bg}
	exit, err := c.run(ctx)
	if !c.gone {
		rmCtx, cancel := context.WithTimeout(bg, apiTimeout)
		rmErr := e.remove(rmCtx, id)
		cancel()
		if rmErr != nil {
			e.log.Warn("docker: container left behind", "container", id, "run", t.RunID, "step", t.Step, "err", rmErr)
			if err == nil {
				err = fmt.Errorf("step %s: remove container %.12s: %w", t.Step, id, rmErr)
			}
		}
	}
	exit.Sandbox, exit.Meta = failed.Sandbox, failed.Meta
	return exit, err
}

// createOptions describe the task's container.
func (e *Executor) createOptions(t *gantry.Task, img image, network string) client.ContainerCreateOptions {
	env := make([]string, 0, len(t.Env))
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		v := t.Env[k]
		if k == "GANTRY_WORKSPACE" {
			v = WorkspaceDir // the workspace as the container sees it
		}
		env = append(env, k+"="+v)
	}
	init := true
	pids := e.pidsLimit
	return client.ContainerCreateOptions{
		Config: &container.Config{
			Image:        img.id, // by ID: the digest recorded is the image that ran
			User:         e.user,
			Env:          env,
			Entrypoint:   entrypoint(t.Script),
			WorkingDir:   path.Join(WorkspaceDir, filepath.ToSlash(t.Dir)),
			AttachStdout: true,
			AttachStderr: true,
			Labels:       map[string]string{LabelRun: string(t.RunID), LabelStep: t.Step},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(network),
			Mounts: []mount.Mount{{
				Type:   mount.TypeBind,
				Source: t.Workspace,
				Target: WorkspaceDir,
			}},
			// The engine removes the container as soon as it exits, even when
			// this process is gone by then.
			AutoRemove:  true,
			CapDrop:     []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges"},
			// docker-init as PID 1 passes SIGTERM on to the script's shell,
			// which as PID 1 itself would ignore it, and reaps orphans.
			Init:      &init,
			Resources: container.Resources{PidsLimit: &pids},
		},
	}
}

// entrypoint is the container's command: the step's script under
// `sh -e`, so that it stops at the first command that fails.
func entrypoint(script string) []string {
	return []string{"/bin/sh", "-e", "-c", script}
}

// run is one container's life after it was created.
type run struct {
	e  *Executor
	t  *gantry.Task
	id string
	bg context.Context // outlives the caller's ctx, for talking to the engine

	gone bool // the engine has removed the container
}

func (c *run) run(ctx context.Context) (gantry.Exit, error) {
	t := c.t
	apiCtx, cancel := context.WithTimeout(c.bg, apiTimeout)
	defer cancel()

	// Attach before start, so that no output is missed.
	attached, err := c.e.cli.ContainerAttach(apiCtx, c.id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return gantry.Exit{Code: -1}, fmt.Errorf("step %s: attach to container: %w", t.Step, err)
	}
	stdout, stderr := newLineWriter(t.Stdout), newLineWriter(t.Stderr)
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, attached.Reader)
		copied <- err
	}()
	// Nothing is written to the task's writers after Run returns.
	copyDone := false
	defer func() {
		attached.Close()
		if !copyDone {
			<-copied
		}
	}()

	// Wait for removal, not for exit: Run's contract is that the container
	// is gone when it returns, and with AutoRemove the engine does both.
	waitCtx, stopWaiting := context.WithCancel(c.bg)
	defer stopWaiting()
	wait := c.e.cli.ContainerWait(waitCtx, c.id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})

	if err := ctx.Err(); err != nil {
		return gantry.Exit{Code: -1}, err
	}
	if _, err := c.e.cli.ContainerStart(apiCtx, c.id, client.ContainerStartOptions{}); err != nil {
		return gantry.Exit{Code: -1}, fmt.Errorf("step %s: start container: %w", t.Step, err)
	}

	var (
		done      = ctx.Done()
		kill      = t.Kill
		grace     <-chan time.Time
		stuck     <-chan time.Time
		stopped   bool
		status    int64
		waitErr   error
		exitKnown bool
	)
	for !exitKnown {
		select {
		case res := <-wait.Result:
			exitKnown, status = true, res.StatusCode
			c.gone = res.Error == nil || res.Error.Message == ""
			if !c.gone {
				// The container exited, but the engine could not remove it:
				// Run tries again, and fails only if that fails too.
				c.e.log.Warn("docker: engine did not remove container", "container", c.id, "err", res.Error.Message)
			}
		case err := <-wait.Error:
			exitKnown, waitErr = true, err
		case <-done:
			done, stopped = nil, true
			d := t.Grace
			if d <= 0 {
				d = DefaultGrace
			}
			grace = time.After(d)
			c.signalContainer("SIGTERM")
		case <-kill:
			done, kill, grace, stopped = nil, nil, nil, true
			stuck = time.After(killTimeout)
			c.signalContainer("SIGKILL")
		case <-grace:
			grace, kill = nil, nil
			stuck = time.After(killTimeout)
			c.signalContainer("SIGKILL")
		case <-stuck:
			// Run goes on to remove it by force; the step was stopped all the same.
			cause := ctx.Err()
			if cause == nil {
				cause = context.Canceled
			}
			return gantry.Exit{Code: -1, Signal: "SIGKILL"}, fmt.Errorf("step %s: container %.12s still there %s after SIGKILL: %w", t.Step, c.id, killTimeout, cause)
		}
	}
	if waitErr != nil {
		return gantry.Exit{Code: -1}, fmt.Errorf("step %s: wait for container: %w", t.Step, waitErr)
	}

	// The engine closes the output streams before it reports the exit;
	// a stream that stays open past that is not worth waiting long for.
	var copyErr error
	select {
	case copyErr = <-copied:
	case <-time.After(drainTime):
		attached.Close()
		copyErr = <-copied
	}
	copyDone = true
	if err := errors.Join(stdout.Flush(), stderr.Flush()); err != nil {
		copyErr = err
	}

	exit := gantry.Exit{Code: int(status)}
	if stopped {
		// docker-init exits with 128+n when the script was killed by signal n.
		if status > 128 {
			exit.Code, exit.Signal = -1, signalName(int(status-128))
		}
		if err := ctx.Err(); err != nil {
			return exit, err
		}
		return exit, context.Canceled // Kill was closed while ctx was not cancelled
	}
	if copyErr != nil {
		return exit, fmt.Errorf("step %s: copy output: %w", t.Step, copyErr)
	}
	return exit, nil
}

// signalContainer sends a signal to the container's PID 1. A container that
// has stopped already is not an error, and any other error will show as a
// container that does not stop.
func (c *run) signalContainer(sig string) {
	ctx, cancel := context.WithTimeout(c.bg, apiTimeout)
	defer cancel()
	if _, err := c.e.cli.ContainerKill(ctx, c.id, client.ContainerKillOptions{Signal: sig}); err != nil {
		c.e.log.Debug("docker: signal container", "container", c.id, "signal", sig, "err", err)
	}
}

// signalName names the signals a stopped container usually dies of.
func signalName(n int) string {
	switch n {
	case 9:
		return "SIGKILL"
	case 15:
		return "SIGTERM"
	case 2:
		return "SIGINT"
	}
	return fmt.Sprintf("signal %d", n)
}

// lineWriter passes only whole lines to w, so that each write to a task's
// stdout or stderr carries complete lines, however the container's output
// was split into frames. A line longer than maxLine is passed on in pieces.
type lineWriter struct {
	w   io.Writer
	buf []byte
	err error
}

const maxLine = 64 << 10

func newLineWriter(w io.Writer) *lineWriter {
	if w == nil {
		w = io.Discard
	}
	return &lineWriter{w: w}
}

// Write never fails, so that the container's output is always drained; the
// first error of w is kept for Flush.
func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		if len(l.buf) > 0 {
			l.buf = append(l.buf, p[:i+1]...)
			l.write(l.buf)
			l.buf = l.buf[:0]
		} else {
			l.write(p[:i+1])
		}
		p = p[i+1:]
	}
	l.buf = append(l.buf, p...)
	for len(l.buf) >= maxLine {
		l.write(l.buf[:maxLine])
		l.buf = append(l.buf[:0], l.buf[maxLine:]...)
	}
	return n, nil
}

func (l *lineWriter) write(p []byte) {
	if l.err == nil {
		_, l.err = l.w.Write(p)
	}
}

// Flush passes on what is left of the last line and reports the first
// error of the underlying writer.
func (l *lineWriter) Flush() error {
	if len(l.buf) > 0 {
		l.write(l.buf)
		l.buf = l.buf[:0]
	}
	return l.err
}
