package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backendweekly/weekly/mailer/smtptest"
	"github.com/backendweekly/weekly/subscribers"
)

// serveSubscribers are the active subscribers of serveCLI's database.
var serveSubscribers = []string{"ada@example.org", "bob@example.org", "cy@example.org"}

// serveCLI is an initialised database with serveSubscribers, mail going to a test
// SMTP server, and every other setting at its default.
func serveCLI(t *testing.T) (*cli, *smtptest.Server) {
	t.Helper()
	c := newCLI(t)
	srv := smtptest.NewServer(t)
	c.env["WEEKLY_SMTP_HOST"], c.env["WEEKLY_SMTP_PORT"], c.env["WEEKLY_SMTP_TLS"] = srv.Host(), strconv.Itoa(srv.Port()), "none"
	c.env["WEEKLY_BASE_URL"] = "https://weekly.example.com"
	c.env["WEEKLY_FROM"] = "weekly@example.com"
	c.ok("init")
	for _, a := range serveSubscribers {
		c.ok("subscribers", "add", a)
	}
	return c, srv
}

// queueLinks queues n links with titles and notes, so nothing is fetched.
func queueLinks(t *testing.T, c *cli, prefix string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		c.ok("links", "add", fmt.Sprintf("https://%s.example.net/post-%d", prefix, i),
			"--title", fmt.Sprintf("%s post %d", prefix, i), "--note", "Worth a read.")
	}
}

// addSubscribers adds n more active subscribers straight through the store.
func addSubscribers(t *testing.T, c *cli, n int) []string {
	t.Helper()
	ctx := context.Background()
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	subs := subscribers.NewStore(db, nil)
	var emails []string
	for i := range n {
		e := fmt.Sprintf("reader%03d@example.org", i)
		if _, err := subs.Add(ctx, e, "", subscribers.SourceCLI); err != nil {
			t.Fatal(err)
		}
		emails = append(emails, e)
	}
	return emails
}

// testClock is a clock the test sets.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newTestDaemon parses 'weekly serve' with c's environment and args, as cmdServe
// does, and puts the daemon on clock. Its log is returned too.
func newTestDaemon(t *testing.T, c *cli, clock *testClock, args ...string) (*daemon, *lockedBuffer) {
	t.Helper()
	var out, logs lockedBuffer
	e := &env{getenv: func(k string) string { return c.env[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &logs}
	d, err := parseServe(context.Background(), e, append([]string{"--listen", "127.0.0.1:0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	d.now = clock.now
	t.Cleanup(func() { d.close() })
	return d, &logs
}

// startServe runs 'weekly serve' through run on a free loopback port. It returns
// the server's address, a stop function (the SIGTERM of the test: it cancels the
// context and returns what run returned) and the log.
func startServe(t *testing.T, c *cli, args ...string) (string, func() error, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), func(k string) string { return c.env[k] },
			strings.NewReader(""), &out, &logs)
	}()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("weekly serve did not stop within 30s of its context ending")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	re := regexp.MustCompile(`Serving on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], stop, &logs
		}
		select {
		case err := <-done:
			t.Fatalf("weekly serve exited: %v\nlog: %s", err, logs.String())
		default:
		}
	}
	t.Fatalf("weekly serve did not start; stdout %q, log %q", out.String(), logs.String())
	return "", nil, nil
}

// waitUntil polls cond for up to 20 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// unsubscribeLink returns the one-click link of the first message to addr.
func unsubscribeLink(t *testing.T, srv *smtptest.Server, addr string) string {
	t.Helper()
	for _, m := range srv.Messages() {
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], addr) {
			continue
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if u := regexp.MustCompile(`<(https://[^>]+/unsubscribe/[^>]+)>`).FindStringSubmatch(msg.Header.Get("List-Unsubscribe")); u != nil {
			return u[1]
		}
		t.Fatalf("message to %s has no one-click link: List-Unsubscribe %q", addr, msg.Header.Get("List-Unsubscribe"))
	}
	t.Fatalf("no message to %s", addr)
	return ""
}

// getPage returns the status and body of GET u.
func getPage(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// deliveryStatuses counts the deliveries of every issue by status.
func deliveryStatuses(t *testing.T, dbPath string) map[string]int {
	t.Helper()
	db := openTestDB(t, dbPath)
	defer db.Close()
	rows, err := db.Query(`SELECT status, COUNT(*) FROM deliveries GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		got[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
