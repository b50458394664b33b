package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestLastFire(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	monday9 := mustSchedule(t, "0 9 * * 1")
	cases := []struct {
		name string
		now  time.Time
		loc  *time.Location
		want time.Time
	}{
		{"just after", time.Date(2026, 11, 23, 9, 0, 1, 0, time.UTC), time.UTC, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"exactly on", time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"just before", time.Date(2026, 11, 23, 8, 59, 0, 0, time.UTC), time.UTC, time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)},
		{"five days late", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"in Berlin", time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC), berlin, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, ok := lastFire(monday9, c.now, c.loc)
		if !ok || !got.Equal(c.want) {
			t.Errorf("%s: lastFire(%v) = %v, %v; want %v", c.name, c.now, got.UTC(), ok, c.want)
		}
	}
	yearly := mustSchedule(t, "0 0 1 1 *")
	if got, ok := lastFire(yearly, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.UTC); !ok || !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("yearly lastFire = %v, %v; want 2026-01-01", got, ok)
	}
}

func TestSameSlotAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	sched := mustSchedule(t, "30 1 * * 0") // Sundays 01:30, which happens twice on 2026-11-01
	first := time.Date(2026, 11, 1, 1, 30, 0, 0, ny)
	again := first.Add(time.Hour) // the repeated 01:30, in EST
	if !sameSlot(sched, first, again) {
		t.Errorf("sameSlot(%v, %v) = false; a DST double fire must count as one week", first, again)
	}
	nextWeek := sched.Next(again)
	if sameSlot(sched, first, nextWeek) {
		t.Errorf("sameSlot(%v, %v) = true; next week is a new slot", first, nextWeek)
	}
}

func mustSchedule(t *testing.T, spec string) interface{ Next(time.Time) time.Time } {
	t.Helper()
	s, err := parseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLastFireEvery(t *testing.T) {
	// "@every D" counts from start-up in robfig/cron; its slots here are the
	// multiples of D, so two starts in one slot agree on it.
	every, err := parseSchedule("@every 1h")
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{
		time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 10, 42, 13, 5, time.UTC),
		time.Date(2026, 11, 23, 10, 59, 59, 0, time.UTC),
	} {
		want := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		if got, ok := lastFire(every, now, time.UTC); !ok || !got.Equal(want) {
			t.Errorf("lastFire(@every 1h, %v) = %v, %v; want %v", now, got, ok, want)
		}
	}
	s := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if sameSlot(every, s, s.Add(time.Hour)) || !sameSlot(every, s, s) {
		t.Error("sameSlot(@every 1h): want the next hour to be a new slot and the same hour the same")
	}
}

func TestCronLoggerReportsRecoveredPanic(t *testing.T) {
	var logs lockedBuffer
	l := cronLogger{slog.New(slog.NewTextHandler(&logs, nil))}
	job := cron.NewChain(cron.Recover(l), cron.SkipIfStillRunning(l)).Then(cron.FuncJob(func() { panic("boom") }))
	job.Run() // must not panic
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "msg=cron_panic") || !strings.Contains(got, "boom") {
		t.Errorf("log after a job panicked = %q, want an error line naming the panic", got)
	}
}
