package web

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds how many clients (or addresses) the sign-up limits remember, so
// a flood of distinct keys costs bounded memory. When full, the least recently seen
// key is forgotten first.
const maxLimiters = 10_000

// limiters is a bounded LRU of token-bucket limiters, one per key. A key idle for
// longer than ttl is forgotten; ttl must exceed the time a bucket takes to refill, so
// forgetting a key never grants more than its bucket would have.
type limiters struct {
	every rate.Limit
	burst int
	max   int
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *limitEntry, most recently seen at the front
	byKey map[string]*list.Element
}

type limitEntry struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(perSecond float64, burst, max int, ttl time.Duration, now func() time.Time) *limiters {
	return &limiters{
		every: rate.Limit(perSecond),
		burst: burst,
		max:   max,
		ttl:   ttl,
		now:   now,
		lru:   list.New(),
		byKey: make(map[string]*list.Element),
	}
}

// allow reports whether key may act now, and counts the act if so.
func (l *limiters) allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[key]; ok {
		e := el.Value.(*limitEntry)
		e.seen = now
		l.lru.MoveToFront(el)
		return e.lim.AllowN(now, 1)
	}
	for back := l.lru.Back(); back != nil; back = l.lru.Back() {
		e := back.Value.(*limitEntry)
		if l.lru.Len() < l.max && now.Sub(e.seen) <= l.ttl {
			break
		}
		l.lru.Remove(back)
		delete(l.byKey, e.key)
	}
	e := &limitEntry{key: key, lim: rate.NewLimiter(l.every, l.burst), seen: now}
	l.byKey[key] = l.lru.PushFront(e)
	return e.lim.AllowN(now, 1)
}

// len returns how many keys are remembered.
func (l *limiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
