package auth

import (
	"math"
	"sync"
	"time"
)

// Limiter is an in-memory token-bucket rate limiter keyed by string, such as
// "ip:192.0.2.1" or "user:alice". Each key starts with a full bucket of burst
// tokens, which refills at a steady rate.
//
// It holds at most maxKeys buckets. When it is full it forgets buckets that
// have refilled completely; if none have, new keys are refused (fail closed)
// until some do, which bounds memory under a flood of distinct keys.
type Limiter struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	maxKeys int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter that allows burst events at once per key and
// then perMinute events a minute. now is the clock; nil means time.Now.
func NewLimiter(perMinute, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		perSec:  float64(max(perMinute, 1)) / 60,
		burst:   float64(max(burst, 1)),
		maxKeys: max(maxKeys, 1),
		now:     now,
		buckets: make(map[string]*bucket),
	}
}

// Allow takes one token from the bucket of every key, but only if each of
// them has one. Otherwise it takes none and returns how long to wait before
// trying again.
func (l *Limiter) Allow(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	bs := make([]*bucket, 0, len(keys))
	for _, k := range keys {
		b := l.bucket(k, now)
		if b == nil {
			return false, l.refillTime(1)
		}
		if b.tokens < 1 {
			wait = max(wait, l.refillTime(1-b.tokens))
		}
		bs = append(bs, b)
	}
	if wait > 0 {
		return false, wait
	}
	for _, b := range bs {
		b.tokens--
	}
	return true, 0
}

// bucket returns k's bucket refilled up to now, creating it if there is room.
func (l *Limiter) bucket(k string, now time.Time) *bucket {
	b, ok := l.buckets[k]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.prune(now)
			if len(l.buckets) >= l.maxKeys {
				return nil
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[k] = b
		return b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.perSec)
		b.last = now
	}
	return b
}

// prune forgets buckets that would be full by now: they carry no state.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSec >= l.burst {
			delete(l.buckets, k)
		}
	}
}

func (l *Limiter) refillTime(tokens float64) time.Duration {
	return time.Duration(math.Ceil(tokens / l.perSec * float64(time.Second)))
}
