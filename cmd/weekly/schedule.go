package main

import (
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// lastFire returns the most recent time at or before now when sched fires, read in
// loc, and false if it has not fired in the past year. robfig/cron only looks
// forward, so this walks forward from a point far enough back.
//
// An "@every D" schedule has no fixed times: robfig/cron counts D from whenever the
// daemon started. Its slots are taken to be the multiples of D since the zero time,
// so that restarts agree on which slot now is in.
func lastFire(sched cron.Schedule, now time.Time, loc *time.Location) (time.Time, bool) {
	now = now.In(loc)
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		return now.Truncate(every.Delay), true
	}
	for _, back := range []time.Duration{8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour} {
		var last time.Time
		for t := sched.Next(now.Add(-back)); !t.IsZero() && !t.After(now); t = sched.Next(t) {
			last = t
		}
		if !last.IsZero() {
			return last, true
		}
	}
	return time.Time{}, false
}

// sameSlot reports whether a send already made for slot prev answers slot s too.
// Around a DST change robfig/cron can fire a local-time schedule twice, an hour
// apart; both fires are one week's send. A slot counts as answered when the earlier
// one lies within half a period of it.
func sameSlot(sched cron.Schedule, prev, s time.Time) bool {
	if prev.After(s) {
		return true
	}
	period := sched.Next(s).Sub(s)
	return s.Sub(prev) < period/2
}

// cronLogger lets robfig/cron report through slog: recovered panics and skipped
// overlapping runs come out as ordinary log lines.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug("cron_"+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron_"+msg, append(kv, slog.Any("err", err))...)
}
