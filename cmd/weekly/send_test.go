package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/mailer/smtptest"
	"github.com/backendweekly/weekly/subscribers"
)

// sendCLI is a database with three subscribers and a one-item draft.
func sendCLI(t *testing.T) *cli {
	t.Helper()
	c := newCLI(t)
	c.env["WEEKLY_OUTBOX"] = filepath.Join(t.TempDir(), "outbox")
	c.ok("init")
	ctx := context.Background()
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	subs := subscribers.NewStore(db, nil)
	for _, a := range []string{"ada@example.org", "bob@example.org", "cy@example.org"} {
		if _, err := subs.Add(ctx, a, "", subscribers.SourceCLI); err != nil {
			t.Fatal(err)
		}
	}
	res, err := db.Exec(`INSERT INTO issues (number, subject, status, window_start, window_end, created_at)
		VALUES (1, 'Backend Weekly #1: queues', 'draft', 0, 0, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	if _, err := db.Exec(`INSERT INTO issue_items (issue_id, position, kind, title, url, note)
		VALUES (?, 1, 'link', 'Queues in SQLite', 'https://a.example/queues', 'Worth a read.')`, id); err != nil {
		t.Fatal(err)
	}
	return c
}

// send runs 'weekly digest send' (wired straight to its command).
func (c *cli) send(args ...string) (string, error) {
	c.t.Helper()
	var out, errb bytes.Buffer
	e := &env{getenv: func(k string) string { return c.env[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	err := cmdDigestSend(context.Background(), e, args)
	return out.String(), err
}

func TestDigestSendToOutbox(t *testing.T) {
	c := sendCLI(t)
	out, err := c.send("--dry-run")
	if err != nil || !strings.Contains(out, "would go to 3 active subscribers") || !strings.Contains(out, "First subscriber ids: 1, 2, 3") {
		t.Errorf("digest send --dry-run = %q, %v", out, err)
	}
	out, err = c.send()
	if err != nil || !strings.Contains(out, "Issue #1 sent: 3 delivered, 0 failed") {
		t.Fatalf("digest send = %q, %v", out, err)
	}
	var files []string
	for i := 1; i <= 3; i++ {
		files = append(files, filepath.Join(c.env["WEEKLY_OUTBOX"], "issue-0001", fmt.Sprintf("sub-%06d.eml", i)))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("outbox: %v", err)
			continue
		}
		if !bytes.Contains(b, []byte("List-Unsubscribe: <http://localhost:8080/unsubscribe/")) || !bytes.Contains(b, []byte("Queues in SQLite")) {
			t.Errorf("%s lacks the unsubscribe header or the issue:\n%s", f, b)
		}
	}
	_, err = c.send()
	if err == nil || !strings.Contains(err.Error(), "no draft issue") || strings.Contains(err.Error(), "\n") {
		t.Errorf("digest send with nothing to send = %v, want one line about the missing draft", err)
	}
}

func TestDigestSendTestCopy(t *testing.T) {
	c := sendCLI(t)
	srv := smtptest.NewServer(t)
	c.env["WEEKLY_SMTP_HOST"], c.env["WEEKLY_SMTP_PORT"], c.env["WEEKLY_SMTP_TLS"] = srv.Host(), strconv.Itoa(srv.Port()), "none"
	out, err := c.send("--to", "editor@example.com")
	if err != nil || !strings.Contains(out, "test copy of issue #1") {
		t.Fatalf("digest send --to = %q, %v", out, err)
	}
	if diff := cmp.Diff(map[string]int{"editor@example.com": 1}, srv.PerRecipient()); diff != "" {
		t.Errorf("recipients (-want +got):\n%s", diff)
	}
	// The ledger is untouched: the draft still goes to all three afterwards.
	out, err = c.send()
	if err != nil || !strings.Contains(out, "3 delivered") || srv.Count() != 4 {
		t.Errorf("digest send after a test copy = %q, %v, %d messages", out, err, srv.Count())
	}
	for _, args := range [][]string{{"--to", "Ed <ed@example.com>"}, {"--to", "a@b.c", "--dry-run"}, {"extra"}} {
		if _, err := c.send(args...); err == nil {
			t.Errorf("digest send %q = nil, want a usage error", args)
		}
	}
}

func TestDigestSendStopsOnSignalAndResumes(t *testing.T) {
	c := sendCLI(t)
	srv := smtptest.NewServer(t)
	srv.Delay(300 * time.Millisecond)
	c.env["WEEKLY_SMTP_HOST"], c.env["WEEKLY_SMTP_PORT"], c.env["WEEKLY_SMTP_TLS"] = srv.Host(), strconv.Itoa(srv.Port()), "none"
	c.env["WEEKLY_CONCURRENCY"] = "1"
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.Attempts() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel() // what SIGTERM does through signal.NotifyContext in main
	}()
	var out, errb bytes.Buffer
	e := &env{getenv: func(k string) string { return c.env[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	if err := cmdDigestSend(ctx, e, nil); err != nil {
		t.Fatalf("digest send stopped by a signal = %v, want nil (exit 0)", err)
	}
	if !strings.Contains(out.String(), "Stopped: issue #1 has 1 sent") {
		t.Errorf("output = %q, want the in-flight message recorded and the rest left", out.String())
	}
	srv.Delay(0)
	got, err := c.send()
	if err != nil || !strings.Contains(got, "Issue #1 sent: 3 delivered") || srv.Count() != 3 {
		t.Errorf("resumed digest send = %q, %v, %d messages; want 3, none twice", got, err, srv.Count())
	}
}

// TestDigestSendBounceThresholds checks that --bounces-other reaches the send loop:
// one 554 reply marks a subscriber bounced when the threshold is 1, not at the
// default of 3.
func TestDigestSendBounceThresholds(t *testing.T) {
	for _, tc := range []struct {
		threshold string
		want      subscribers.Status
	}{{"", subscribers.StatusActive}, {"1", subscribers.StatusBounced}} {
		c := sendCLI(t)
		srv := smtptest.NewServer(t)
		srv.Reject(554, "bob@example.org")
		c.env["WEEKLY_SMTP_HOST"], c.env["WEEKLY_SMTP_PORT"], c.env["WEEKLY_SMTP_TLS"] = srv.Host(), strconv.Itoa(srv.Port()), "none"
		c.env["WEEKLY_BOUNCES_OTHER"] = tc.threshold
		if out, err := c.send(); err != nil || !strings.Contains(out, "2 delivered, 1 failed") {
			t.Fatalf("WEEKLY_BOUNCES_OTHER=%q: digest send = %q, %v; want 2 delivered, 1 failed", tc.threshold, out, err)
		}
		out := c.ok("subscribers", "list", "--status", string(tc.want))
		if !strings.Contains(out, "bob@example.org") {
			t.Errorf("WEEKLY_BOUNCES_OTHER=%q: after one 554, bob is not %s:\n%s", tc.threshold, tc.want, out)
		}
	}
	c := sendCLI(t)
	if _, err := c.send("--bounces-other", "0"); err == nil || !strings.Contains(err.Error(), "--bounces-other") {
		t.Errorf("digest send --bounces-other 0: error = %v, want one naming the flag", err)
	}
}
