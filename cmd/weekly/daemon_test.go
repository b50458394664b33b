package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Monday 7 January 2030, 09:00 UTC: a slot of the default send schedule, after any
// real clock these tests run on, so only the daemon's own clock matters.
var slot2030 = time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)

func TestServeWeeklyCatchUp(t *testing.T) {
	cases := []struct {
		name  string
		after time.Duration // how long after the slot the daemon starts
		want  string
		sent  int
	}{
		{"five hours late", 5 * time.Hour, outcomeSent, 3},
		{"five days late", 5 * 24 * time.Hour, weekMissed, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := serveCLI(t)
			queueLinks(t, c, "catchup", 3)
			clock := &testClock{t: slot2030.Add(tc.after)}
			d, logs := newTestDaemon(t, c, clock)
			if got := d.weeklyJob(context.Background()); got != tc.want {
				t.Fatalf("weeklyJob at slot+%v = %q, want %q\nlog:\n%s", tc.after, got, tc.want, logs)
			}
			if srv.Count() != tc.sent {
				t.Errorf("messages sent = %d, want %d", srv.Count(), tc.sent)
			}
			// A tick an hour later, and a restart the next day, change nothing.
			clock.set(clock.now().Add(time.Hour))
			if got := d.weeklyJob(context.Background()); got != "already_"+tc.want {
				t.Errorf("second tick = %q, want already_%s", got, tc.want)
			}
			if n := strings.Count(logs.String(), "the week was missed"); tc.want == weekMissed && n != 1 {
				t.Errorf("the missed week logged %d times, want once:\n%s", n, logs)
			}
			clock.set(clock.now().Add(24 * time.Hour))
			d2, _ := newTestDaemon(t, c, clock)
			if got := d2.weeklyJob(context.Background()); got != "already_"+tc.want {
				t.Errorf("after a restart = %q, want already_%s", got, tc.want)
			}
			if srv.Count() != tc.sent {
				t.Errorf("messages after the second tick and restart = %d, want %d", srv.Count(), tc.sent)
			}
		})
	}
}

func TestServeWeeklyNextWeek(t *testing.T) {
	c, srv := serveCLI(t)
	queueLinks(t, c, "week1", 3)
	clock := &testClock{t: slot2030.Add(time.Minute)}
	d, _ := newTestDaemon(t, c, clock)
	if got := d.weeklyJob(context.Background()); got != outcomeSent {
		t.Fatalf("week 1: weeklyJob = %q, want sent", got)
	}
	queueLinks(t, c, "week2", 3)
	clock.set(slot2030.Add(7*24*time.Hour + time.Second))
	if got := d.weeklyJob(context.Background()); got != outcomeSent {
		t.Fatalf("week 2: weeklyJob = %q, want sent", got)
	}
	want := map[string]int{"ada@example.org": 2, "bob@example.org": 2, "cy@example.org": 2}
	if diff := cmp.Diff(want, srv.PerRecipient()); diff != "" {
		t.Errorf("messages per recipient (-want +got):\n%s", diff)
	}
}

func TestServeWeeklySkipsThinWeekOnce(t *testing.T) {
	c, srv := serveCLI(t)
	queueLinks(t, c, "thin", 2) // --min-items is 3
	clock := &testClock{t: slot2030.Add(time.Second)}
	d, logs := newTestDaemon(t, c, clock)
	if got := d.weeklyJob(context.Background()); got != weekSkipped {
		t.Fatalf("weeklyJob with 2 items = %q, want skipped", got)
	}
	queueLinks(t, c, "late", 1)
	clock.set(clock.now().Add(time.Hour))
	if got := d.weeklyJob(context.Background()); got != "already_skipped" {
		t.Errorf("next tick in the same week = %q, want already_skipped", got)
	}
	if srv.Count() != 0 {
		t.Errorf("messages sent = %d, want 0", srv.Count())
	}
	if n := strings.Count(logs.String(), "skipping the week"); n != 1 || !strings.Contains(logs.String(), "level=WARN msg=job_weekly") {
		t.Errorf("the skipped week logged %d times, want once as a warning:\n%s", n, logs)
	}
	// Next week the draft has its 3 items and goes out.
	clock.set(slot2030.Add(7*24*time.Hour + time.Second))
	if got := d.weeklyJob(context.Background()); got != outcomeSent || srv.Count() != 3 {
		t.Errorf("next week: weeklyJob = %q with %d messages, want sent to 3", got, srv.Count())
	}
}

func TestServeWeeklyDSTDoubleFire(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	c, srv := serveCLI(t)
	queueLinks(t, c, "dst", 3)
	c.env["WEEKLY_TIMEZONE"] = "America/New_York"
	// Sundays 01:30, which happens twice on 3 November 2030: EDT, then EST.
	first := time.Date(2030, 11, 3, 1, 30, 0, 0, ny)
	again := first.Add(time.Hour)
	if again.Hour() != 1 || again.Minute() != 30 {
		t.Fatalf("%v is not the repeated 01:30", again)
	}
	clock := &testClock{t: first.Add(time.Second)}
	d, _ := newTestDaemon(t, c, clock, "--send-schedule", "30 1 * * 0")
	if got := d.weeklyJob(context.Background()); got != outcomeSent {
		t.Fatalf("first 01:30: weeklyJob = %q, want sent", got)
	}
	queueLinks(t, c, "more", 3) // something to send, were the second fire taken as a new week
	clock.set(again.Add(time.Second))
	if got := d.weeklyJob(context.Background()); got != "already_sent" {
		t.Errorf("repeated 01:30: weeklyJob = %q, want already_sent", got)
	}
	if srv.Count() != 3 {
		t.Errorf("messages = %d, want 3: one issue", srv.Count())
	}
}

func TestServeWeeklyAnsweredByHandSend(t *testing.T) {
	c, srv := serveCLI(t)
	queueLinks(t, c, "byhand", 3)
	clock := &testClock{t: slot2030.Add(2 * time.Hour)}
	d, _ := newTestDaemon(t, c, clock)
	// An editor sent an issue by hand after the slot, while the daemon was down.
	if _, err := d.issues().Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	iss, err := d.issues().Draft(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := d.send(context.Background(), iss); err != nil || !res.Finished {
		t.Fatalf("send by hand = %+v, %v", res, err)
	}
	queueLinks(t, c, "after", 3)
	clock.set(clock.now().Add(time.Hour))
	if got := d.weeklyJob(context.Background()); got != "already_sent" {
		t.Errorf("weeklyJob after a send by hand = %q, want already_sent", got)
	}
	if srv.Count() != 3 {
		t.Errorf("messages = %d, want 3", srv.Count())
	}
}
