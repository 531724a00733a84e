package local

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"gantry.dev/gantry"
)

// A sandbox is a goroutine locked to an OS thread that has made the
// namespaces of one step and waits for it. Most of a sandbox's cost is the
// kernel making namespaces (a network namespace alone takes about half a
// millisecond); sandboxes made ahead of time take it off the step's path.
// Each serves exactly one step; its thread ends with it.
type sandbox struct {
	jobs chan job // receives the one job, then is closed
	err  error    // why the sandbox could not be made
}

type job struct {
	ctx  context.Context
	t    *gantry.Task
	e    *Executor
	done chan<- jobResult
}

type jobResult struct {
	exit gantry.Exit
	err  error
}

// prepare starts a sandbox for steps in workspace: new mount, pid, ipc and
// uts namespaces, a new network namespace with loopback up unless network
// is true, mounts kept from the host, a private /tmp, the workspace
// bind-mounted, the state directories hidden and the hostname "gantry".
func prepare(network bool, workspace string, stateDirs []string) *sandbox {
	sb := &sandbox{jobs: make(chan job, 1)}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread holds the namespaces
		sb.err = setUp(network, workspace, stateDirs)
		close(ready)
		j, ok := <-sb.jobs
		if !ok {
			return
		}
		exit, err := j.runIn()
		j.done <- jobResult{exit, err}
	}()
	<-ready
	return sb
}

func setUp(network bool, workspace string, stateDirs []string) error {
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	if !network {
		flags |= unix.CLONE_NEWNET
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("make namespaces: %w", err)
	}
	if !network {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// A detached copy of the workspace, taken before /tmp is covered: the
	// workspace may be inside it.
	ws := -1
	if workspace != "" {
		fd, err := unix.OpenTree(unix.AT_FDCWD, workspace, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("bind-mount workspace %s: %w", workspace, err)
		}
		ws = fd
		defer unix.Close(ws)
	}
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount private /tmp: %w", err)
	}
	if ws >= 0 {
		if err := os.MkdirAll(workspace, 0o755); err != nil {
			return fmt.Errorf("make workspace mount point: %w", err)
		}
		if err := unix.MoveMount(ws, "", unix.AT_FDCWD, workspace, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("bind-mount workspace %s: %w", workspace, err)
		}
	}
	for _, dir := range stateDirs {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0555"); err != nil {
			return fmt.Errorf("hide %s: %w", dir, err)
		}
	}
	_ = unix.Sethostname([]byte("gantry"))
	return nil
}

// loopbackUp brings up the loopback interface of the thread's new network
// namespace, as a container with no network has it: a step's own tests may
// listen on 127.0.0.1, which is the sandbox's and not the host's.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	return nil
}

// pool keeps a few network-less sandboxes ready, the common kind, for the
// workspace of the last step (a run's steps share one). It starts filling
// at the first step, not before, so that a run without local steps pays
// nothing.
type pool struct {
	ready     chan *sandbox
	mu        sync.Mutex
	filling   int // sandboxes being made; ready+filling never exceeds cap
	closed    bool
	workspace string
	stateDirs []string
	gen       int // bumped when the workspace changes, so stale sandboxes are dropped
}

func newPool(size int) *pool { return &pool{ready: make(chan *sandbox, size)} }

// take returns a ready sandbox for workspace, or makes one when none is.
func (p *pool) take(workspace string, stateDirs []string) *sandbox {
	p.mu.Lock()
	if p.workspace != workspace || !slices.Equal(p.stateDirs, stateDirs) {
		p.workspace, p.stateDirs = workspace, slices.Clone(stateDirs)
		p.gen++
		p.drainLocked()
	}
	p.mu.Unlock()
	defer p.refill()
	select {
	case sb := <-p.ready:
		return sb
	default:
		return prepare(false, workspace, stateDirs)
	}
}

func (p *pool) refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && len(p.ready)+p.filling < cap(p.ready) {
		p.filling++
		gen, ws, dirs := p.gen, p.workspace, p.stateDirs
		go func() {
			sb := prepare(false, ws, dirs)
			p.mu.Lock()
			p.filling--
			keep := sb.err == nil && !p.closed && gen == p.gen
			if keep {
				p.ready <- sb // cannot block: ready+filling stayed below cap
			}
			p.mu.Unlock()
			if !keep {
				close(sb.jobs)
			}
		}()
	}
}

// close ends the sandboxes that wait.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.drainLocked()
}

func (p *pool) drainLocked() {
	for {
		select {
		case sb := <-p.ready:
			close(sb.jobs)
		default:
			return
		}
	}
}
