package local

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// netnsPool keeps a few network namespaces made ahead of time, each with
// its loopback up. Making one costs about half a millisecond of kernel
// work, the largest part of a sandbox's cost; made in the background, it
// overlaps with the step before. Each namespace serves exactly one step.
type netnsPool struct {
	ready chan int // fds of prepared namespaces
	mu    sync.Mutex
	// filling counts namespaces being made, so that the pool never holds
	// or makes more than cap(ready) at once.
	filling int
	closed  bool
}

func newNetnsPool(size int) *netnsPool {
	return &netnsPool{ready: make(chan int, size)}
}

// get returns a network namespace fd that the caller owns and must close.
func (p *netnsPool) get() (int, error) {
	select {
	case fd := <-p.ready:
		p.refill()
		return fd, nil
	default:
	}
	p.refill()
	return makeNetns()
}

// refill starts making namespaces until the pool is full.
func (p *netnsPool) refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && len(p.ready)+p.filling < cap(p.ready) {
		p.filling++
		go func() {
			fd, err := makeNetns()
			p.mu.Lock()
			p.filling--
			keep := err == nil && !p.closed
			if keep {
				p.ready <- fd // cannot block: len+filling stayed below cap
			}
			p.mu.Unlock()
			if err == nil && !keep {
				unix.Close(fd)
			}
		}()
	}
}

// close releases the prepared namespaces.
func (p *netnsPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case fd := <-p.ready:
			unix.Close(fd)
		default:
			return
		}
	}
}

// makeNetns makes a network namespace with its loopback up, on a thread
// that is thrown away afterwards, and returns an fd that holds it.
func makeNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is in the new namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{-1, fmt.Errorf("make network namespace: %w", err)}
			return
		}
		if err := loopbackUp(); err != nil {
			done <- result{-1, err}
			return
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{-1, fmt.Errorf("hold network namespace: %w", err)}
			return
		}
		done <- result{fd, nil}
	}()
	r := <-done
	return r.fd, r.err
}
