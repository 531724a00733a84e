package auth

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// remoteLimiter is a token bucket per remote address, holding at most max
// addresses so that a flood of addresses cannot exhaust memory.
type remoteLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	*rate.Limiter
	denying bool // the last attempt was refused
}

func newRemoteLimiter(limit rate.Limit, burst, max int) *remoteLimiter {
	return &remoteLimiter{limit: limit, burst: burst, max: max, buckets: map[string]*bucket{}}
}

// allow takes one token from remote's bucket at now. first reports a
// refusal that follows an allowed attempt, so that a flood is recorded
// once rather than once per request.
func (l *remoteLimiter) allow(remote string, now time.Time) (ok, first bool) {
	key := remoteKey(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{Limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	ok = b.AllowN(now, 1)
	first = !ok && !b.denying
	b.denying = !ok
	return ok, first
}

// evict makes room: first it drops the buckets that have refilled, which
// are no different from new ones; when every bucket is still draining (a
// flood of addresses), it drops arbitrary ones down to three quarters of
// the bound, so that eviction is rare and its cost amortised.
func (l *remoteLimiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max*3/4+1 {
			break
		}
		delete(l.buckets, k)
	}
}

func (l *remoteLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// remoteKey is the rate-limiting key of a remote address ("host:port" or
// a bare address): the IPv4 address, or the /64 of an IPv6 address, since
// one host commonly has a whole /64.
func remoteKey(remote string) string {
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		ap, err := netip.ParseAddrPort(remote)
		if err != nil {
			return clip(remote)
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
