package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusAfterDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	c := &cli{t: t, env: map[string]string{}}
	c.ok("demo", "--dir", dir)
	c.env["WEEKLY_DB"] = filepath.Join(dir, "weekly.db")
	// The demo's feeds are gone: a fetch now fails, and status reports it.
	if _, _, err := c.run("", "feeds", "fetch"); err == nil {
		t.Fatal("feeds fetch with the demo's feed server gone = nil, want failures")
	}
	c.ok("links", "add", "https://example.com/next", "--title", "Next week")

	var st daemonStatus
	if err := json.Unmarshal([]byte(c.ok("status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.LastIssue == nil || st.LastIssue.Number != 1 || st.LastIssue.Sent != len(demoSubscribers) {
		t.Errorf("status last issue = %+v, want #1 sent to %d", st.LastIssue, len(demoSubscribers))
	}
	if len(st.Failing) != len(demoFeedFiles) || st.Draft != nil || st.QueuedLinks != 1 {
		t.Errorf("status: %d failing feeds, draft %+v, %d queued links; want %d, none, 1", len(st.Failing), st.Draft, st.QueuedLinks, len(demoFeedFiles))
	}
	if !st.NextSend.After(st.Now) || st.NextSend.Weekday() != 1 || st.NextSend.Hour() != 9 {
		t.Errorf("status next send = %v, want the next Monday 09:00 after %v", st.NextSend, st.Now)
	}

	out := c.ok("status")
	for _, want := range []string{"Next send:", "Draft:       none yet; 1 links queued", "3 followed, 3 failing", "Last issue:  #1 (sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	c.ok("digest", "build")
	out = c.ok("status", "--min-items", "3")
	if !strings.Contains(out, "issue #2, 1 items (1 links, 0 from feeds)") || !strings.Contains(out, "the send skips the week") {
		t.Errorf("status with a thin draft:\n%s", out)
	}
}

func TestStatusWeekStates(t *testing.T) {
	c, _ := serveCLI(t)
	queueLinks(t, c, "status", 3)
	clock := &testClock{t: slot2030.Add(5 * 24 * time.Hour)}
	d, _ := newTestDaemon(t, c, clock)
	st, err := readStatus(t.Context(), d.db, d.c, clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{weekMissed, slot2030.String()}, []string{st.State, st.Slot.UTC().String()}); diff != "" {
		t.Errorf("status 5 days after the slot (-want +got):\n%s", diff)
	}
	clock.set(slot2030.Add(time.Hour))
	if st, _ = readStatus(t.Context(), d.db, d.c, clock.now()); st.State != weekDue || !st.GraceUntil.Equal(slot2030.Add(48*time.Hour)) {
		t.Errorf("status an hour after the slot = %q until %v, want due until slot+48h", st.State, st.GraceUntil)
	}
	d.weeklyJob(t.Context())
	if st, _ = readStatus(t.Context(), d.db, d.c, clock.now()); st.State != weekSent || st.SlotIssue != 1 {
		t.Errorf("status after the send = %q, issue %d; want sent, 1", st.State, st.SlotIssue)
	}
}
