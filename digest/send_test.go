package digest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/mailer/smtptest"
	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
)

// fixture is a database with subscribers and a draft issue, and a test SMTP server.
type fixture struct {
	t       *testing.T
	dbPath  string
	db      *sql.DB
	subs    *subscribers.Store
	srv     *smtptest.Server
	issueID int64
	emails  []string // of the active subscribers, by id
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, dbPath: filepath.Join(t.TempDir(), "weekly.db")}
	db, err := store.Open(ctx, f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	f.subs = subscribers.NewStore(db, time.Now)
	for i := 1; i <= n; i++ {
		email := fmt.Sprintf("sub%04d@example.org", i)
		if _, err := f.subs.Add(ctx, email, fmt.Sprintf("Reader %d", i), subscribers.SourceCLI); err != nil {
			t.Fatal(err)
		}
		f.emails = append(f.emails, email)
	}
	res, err := db.ExecContext(ctx, `INSERT INTO issues (number, subject, status, window_start, window_end, created_at)
		VALUES (7, 'Backend Weekly #7: queues', 'draft', 0, 0, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	f.issueID, _ = res.LastInsertId()
	f.srv = smtptest.NewServer(t)
	return f
}

// sender returns a Sender to the fixture's server with test-sized timings.
func (f *fixture) sender(edit func(*digest.SendConfig)) *digest.Sender {
	f.t.Helper()
	m, err := mailer.New(mailer.Config{
		From: "weekly@news.example.com", FromName: "Backend Weekly",
		Host: f.srv.Host(), Port: f.srv.Port(), TLS: mailer.TLSNone,
		Timeout: 5 * time.Second, Concurrency: 4,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { m.Close() })
	cfg := digest.SendConfig{
		DB: f.db, Transport: m, Bouncer: f.subs,
		UnsubscribeURL: func(sub, issue int64) string {
			return fmt.Sprintf("https://weekly.example.com/u/%d-%d", sub, issue)
		},
		Concurrency: 4,
		StopTimeout: 2 * time.Second,
		RetryBase:   5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		PauseBase: 10 * time.Millisecond, PauseMax: 100 * time.Millisecond,
		MaxAttempts: 50,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := digest.NewSender(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// body is a tiny Body: the shape of templates' personalised issue.
type body struct{ name, url string }

func (b body) WriteHTML(w io.Writer) (int64, error) {
	n, err := fmt.Fprintf(w, "<p>Hello %s</p><p><a href=%q>Unsubscribe</a></p>", b.name, b.url)
	return int64(n), err
}

func (b body) WriteText(w io.Writer) (int64, error) {
	n, err := fmt.Fprintf(w, "Hello %s\n\nUnsubscribe: %s\n", b.name, b.url)
	return int64(n), err
}

var content = digest.Content{
	Personalize: func(name, url string) digest.Body { return body{name, url} },
	HTML:        "<p>frozen</p>",
	Text:        "frozen",
}

// status returns each subscriber's status and hard-bounce count, by email.
func (f *fixture) status() map[string]string {
	f.t.Helper()
	rows, err := f.db.Query(`SELECT email, status, hard_bounces FROM subscribers`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var email, st string
		var n int
		if err := rows.Scan(&email, &st, &n); err != nil {
			f.t.Fatal(err)
		}
		got[email] = fmt.Sprintf("%s/%d", st, n)
	}
	return got
}

func (f *fixture) issueStatus() string {
	var st string
	if err := f.db.QueryRow(`SELECT status FROM issues WHERE id = ?`, f.issueID).Scan(&st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// deliveries returns each delivery's status by email.
func (f *fixture) deliveries() map[string]string {
	f.t.Helper()
	rows, err := f.db.Query(`SELECT s.email, d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.issue_id = ?`, f.issueID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var email, st string
		if err := rows.Scan(&email, &st); err != nil {
			f.t.Fatal(err)
		}
		got[email] = st
	}
	return got
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSendUnderFaults(t *testing.T) {
	const n = 120
	rejected := map[string]int{"sub0010@example.org": 550, "sub0020@example.org": 553, "sub0030@example.org": 554}
	cases := []struct {
		name   string
		before func(*fixture)
		during func(*fixture) // runs while the send is under way
	}{
		{name: "no fault"},
		{name: "4xx on a third", before: func(f *fixture) { f.srv.FailTemporarily(0.33) }},
		{name: "5xx for chosen addresses", before: func(f *fixture) {
			for a, code := range rejected {
				f.srv.Reject(code, a)
			}
		}},
		{name: "dropped mid-DATA", before: func(f *fixture) { f.srv.DropDuringData(15) }},
		{name: "server stops and comes back", before: func(f *fixture) { f.srv.Delay(2 * time.Millisecond) },
			during: func(f *fixture) {
				waitFor(f.t, "20 messages", func() bool { return f.srv.Count() >= 20 })
				f.srv.Stop()
				if c := f.srv.Count(); c >= n {
					f.t.Errorf("the send was over (%d messages) before the server stopped", c)
				}
				time.Sleep(300 * time.Millisecond)
				if err := f.srv.Start(); err != nil {
					f.t.Error(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, n)
			if tc.before != nil {
				tc.before(f)
			}
			done := make(chan struct{})
			if tc.during != nil {
				go func() { defer close(done); tc.during(f) }()
			} else {
				close(done)
			}
			res, err := f.sender(nil).Send(context.Background(), f.issueID, content)
			<-done
			if err != nil || !res.Finished {
				t.Fatalf("Send = %+v, %v; want finished, nil", res, err)
			}
			got := f.srv.PerRecipient()
			wantCopies, wantStatus, wantDelivery := map[string]int{}, map[string]string{}, map[string]string{}
			for _, e := range f.emails {
				wantStatus[e], wantDelivery[e] = "active/0", digest.DeliverySent
				if code, ok := rejected[e]; ok && strings.Contains(tc.name, "5xx") {
					wantDelivery[e] = digest.DeliveryFailed
					wantStatus[e] = "active/1" // 554: the first of three
					if code != 554 {
						wantStatus[e] = "bounced/1" // no such user: at once
					}
					continue
				}
				wantCopies[e] = 1
			}
			if diff := cmp.Diff(wantCopies, got); diff != "" {
				t.Errorf("copies per recipient (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantStatus, f.status()); diff != "" {
				t.Errorf("subscriber status/bounces (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantDelivery, f.deliveries()); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			if st := f.issueStatus(); st != "sent" {
				t.Errorf("issue status = %q, want sent", st)
			}
		})
	}
}

func TestSendSkipsWhoLeavesDuringTheSend(t *testing.T) {
	f := newFixture(t, 60)
	f.srv.Delay(3 * time.Millisecond)
	last := f.emails[len(f.emails)-1]
	go func() {
		waitFor(t, "5 messages", func() bool { return f.srv.Count() >= 5 })
		sub, err := f.subs.ByEmail(context.Background(), last)
		if err == nil {
			_, err = f.subs.Unsubscribe(context.Background(), sub.ID, subscribers.SourceOneClick, f.issueID)
		}
		if err != nil {
			t.Error(err)
		}
	}()
	res, err := f.sender(func(c *digest.SendConfig) { c.Concurrency = 2 }).Send(context.Background(), f.issueID, content)
	if err != nil || !res.Finished {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if n := f.srv.PerRecipient()[last]; n != 0 {
		t.Errorf("%s unsubscribed during the send and got %d copies, want 0", last, n)
	}
	if got := f.deliveries()[last]; got != digest.DeliverySkipped {
		t.Errorf("delivery to %s = %q, want skipped", last, got)
	}
	want := digest.Counts{Total: 60, Sent: 59, Skipped: 1, Unsubscribed: 1}
	if diff := cmp.Diff(want, res.Counts); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
}

func TestSendStopsCleanlyWhenCancelled(t *testing.T) {
	f := newFixture(t, 300)
	f.srv.Delay(4 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "30 messages", func() bool { return f.srv.Count() >= 30 })
		cancel() // what SIGTERM does
	}()
	start := time.Now()
	res, err := f.sender(nil).Send(ctx, f.issueID, content)
	if err != nil || res.Finished {
		t.Fatalf("cancelled Send = %+v, %v; want unfinished, nil", res, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled Send took %v", d)
	}
	// Everything the server accepted is recorded as sent, and nothing else.
	sent := map[string]int{}
	for e, st := range f.deliveries() {
		if st == digest.DeliverySent {
			sent[e] = 1
		}
	}
	if diff := cmp.Diff(f.srv.PerRecipient(), sent); diff != "" {
		t.Errorf("accepted by the server vs recorded sent (-server +ledger):\n%s", diff)
	}
	if st := f.issueStatus(); st != "sending" {
		t.Errorf("issue status after a stop = %q, want sending", st)
	}
	// Resuming finishes the issue with no copy sent twice.
	res, err = f.sender(nil).Send(context.Background(), f.issueID, content)
	if err != nil || !res.Finished {
		t.Fatalf("resumed Send = %+v, %v", res, err)
	}
	want := map[string]int{}
	for _, e := range f.emails {
		want[e] = 1
	}
	if diff := cmp.Diff(want, f.srv.PerRecipient()); diff != "" {
		t.Errorf("copies after resuming (-want +got):\n%s", diff)
	}
}

func TestSendLease(t *testing.T) {
	f := newFixture(t, 40)
	// Slow enough that the first sender is still at work (about 200 ms) when the
	// second one tries, even on a loaded machine.
	f.srv.Delay(50 * time.Millisecond)
	first := make(chan error, 1)
	go func() {
		_, err := f.sender(nil).Send(context.Background(), f.issueID, content)
		first <- err
	}()
	waitFor(t, "the first sender", func() bool { return f.srv.Count() >= 1 })
	_, err := f.sender(nil).Send(context.Background(), f.issueID, content)
	if !errors.Is(err, digest.ErrSendLeased) {
		t.Errorf("second Send while the first runs = %v, want ErrSendLeased", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first Send: %v", err)
	}
	for e, n := range f.srv.PerRecipient() {
		if n != 1 {
			t.Errorf("%s got %d copies, want 1", e, n)
		}
	}
	// A lease left by a process elsewhere expires; a sent issue is a no-op.
	if _, err := f.db.Exec(`UPDATE issues SET status = 'sending', send_lease_owner = 'elsewhere:1:x', send_lease_until = ? WHERE id = ?`,
		time.Now().Add(-time.Second).UnixMilli(), f.issueID); err != nil {
		t.Fatal(err)
	}
	if res, err := f.sender(nil).Send(context.Background(), f.issueID, content); err != nil || !res.Finished {
		t.Errorf("Send after an expired lease = %+v, %v; want finished", res, err)
	}
	if res, err := f.sender(nil).Send(context.Background(), f.issueID, content); err != nil || !res.Finished || f.srv.Count() != 40 {
		t.Errorf("Send of a sent issue = %+v, %v, %d messages; want a no-op", res, err, f.srv.Count())
	}
}

func TestSendRefusesCancelledAndMissingIssues(t *testing.T) {
	f := newFixture(t, 1)
	if _, err := f.sender(nil).Send(context.Background(), f.issueID+100, content); !errors.Is(err, digest.ErrNoIssue) {
		t.Errorf("Send of a missing issue = %v, want ErrNoIssue", err)
	}
	f.db.Exec(`UPDATE issues SET status = 'cancelled' WHERE id = ?`, f.issueID)
	if _, err := f.sender(nil).Send(context.Background(), f.issueID, content); !errors.Is(err, digest.ErrNotSendable) {
		t.Errorf("Send of a cancelled issue = %v, want ErrNotSendable", err)
	}
}

func TestSendStopsWhenTheServerRefusesEveryone(t *testing.T) {
	f := newFixture(t, 100)
	f.srv.Reject(554, f.emails...) // say, "relaying denied" for all
	_, err := f.sender(func(c *digest.SendConfig) { c.MaxRefusals = 5 }).Send(context.Background(), f.issueID, content)
	if !errors.Is(err, digest.ErrRefused) {
		t.Fatalf("Send to a server refusing everyone = %v, want ErrRefused", err)
	}
	counts, _ := digest.DeliveryCounts(context.Background(), f.db, f.issueID)
	// Workers in flight when the breaker trips may each record one more failure.
	if counts.Failed > 4+4 || counts.Left() < 100-8 {
		t.Errorf("after the stop: %+v; want at most 8 failed and the rest left", counts)
	}
	if st := f.issueStatus(); st != "sending" {
		t.Errorf("issue status = %q, want sending (to resume once the server is fixed)", st)
	}
}
