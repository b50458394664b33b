package main

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/store"
)

// What the weekly job finds for the most recent slot of the send schedule.
const (
	weekNone    = "none"    // the schedule has not fired in the past year
	weekDue     = "due"     // unanswered and within the grace window: send now
	weekSent    = "sent"    // an issue answers the slot
	weekSkipped = "skipped" // too few items when it was due; recorded
	weekMissed  = "missed"  // older than the grace window when first seen
)

// settledKey is the setting that records the last slot the daemon let pass (too
// few items, or found too late), so each is logged once and never retried.
const settledKey = "daemon_settled_slot"

// weekPlan is where the weekly send stands at a given time.
type weekPlan struct {
	Slot  time.Time // the most recent slot at or before now; zero if none
	State string    // one of the week* constants
	// Recorded is true when State (skipped or missed) was recorded earlier.
	Recorded bool
	// Issue is the number of the issue that answers the slot, when State is sent.
	Issue int
	// Next is the next slot after now.
	Next time.Time
}

// planWeek finds the most recent slot of sched at or before now and whether the
// weekly job still owes it an issue. The issues table is the record: a slot is
// answered by an issue the daemon made for it (scheduled_for in the same slot; a
// DST double fire an hour later is the same slot) that went out or was cancelled
// by an editor, or by any issue that started sending at or after the slot (an
// editor who sent it by hand).
func planWeek(ctx context.Context, db *sql.DB, sched cron.Schedule, loc *time.Location, grace time.Duration, now time.Time) (weekPlan, error) {
	p := weekPlan{Next: sched.Next(now.In(loc))}
	slot, ok := lastFire(sched, now, loc)
	if !ok {
		p.State = weekNone
		return p, nil
	}
	p.Slot = slot
	n, err := answeringIssue(ctx, db, sched, slot)
	if err != nil {
		return p, err
	}
	if n > 0 {
		p.State, p.Issue = weekSent, n
		return p, nil
	}
	at, outcome, err := settledSlot(ctx, db)
	if err != nil {
		return p, err
	}
	if !at.IsZero() && sameSlot(sched, at, slot) {
		p.State, p.Recorded = outcome, true
		return p, nil
	}
	if now.Sub(slot) > grace {
		p.State = weekMissed
		return p, nil
	}
	p.State = weekDue
	return p, nil
}

// answeringIssue returns the number of the issue that answers slot, or 0: the one
// made for the same week (DST double fires included), or one an editor started
// sending by hand since slot.
func answeringIssue(ctx context.Context, db *sql.DB, sched cron.Schedule, slot time.Time) (int, error) {
	issues := digest.NewIssues(db, time.Now, digest.Config{})
	number, at, err := issues.LastScheduled(ctx)
	switch {
	case err == nil && sameSlot(sched, at, slot):
		return number, nil
	case err != nil && !errors.Is(err, digest.ErrNotFound):
		return 0, err
	}
	number, err = issues.StartedSince(ctx, slot)
	if errors.Is(err, digest.ErrNotFound) {
		return 0, nil
	}
	return number, err
}

// settledSlot returns the last slot the daemon let pass and why (skipped or missed).
func settledSlot(ctx context.Context, db *sql.DB) (time.Time, string, error) {
	v, err := store.Setting(ctx, db, settledKey)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", err
	}
	at, outcome, _ := strings.Cut(v, " ")
	t, err := time.Parse(time.RFC3339, at)
	if err != nil || (outcome != weekSkipped && outcome != weekMissed) {
		return time.Time{}, "", nil // unreadable: as if none, so at worst a slot is logged again
	}
	return t, outcome, nil
}

// settle records that the daemon lets slot pass, and why.
func settle(ctx context.Context, db *sql.DB, slot time.Time, outcome string) error {
	return store.PutSetting(ctx, db, settledKey, slot.UTC().Format(time.RFC3339)+" "+outcome)
}
