package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/mailer/smtptest"
)

// TestServeEndToEnd runs 'weekly serve' with both jobs every second: the feeds are
// refreshed, the issue goes to every subscriber once, the archive shows it, and a
// subscriber who unsubscribes with one click gets nothing from the next issue.
func TestServeEndToEnd(t *testing.T) {
	c, srv := serveCLI(t)
	queueLinks(t, c, "editor", 2)
	feeds, err := startDemoFeeds(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feeds.close() })
	for _, f := range demoFeedFiles {
		c.ok("feeds", "add", feeds.url(f.file), "--name", f.name)
	}
	feeds.publish() // two new items in each feed, for the daemon's refresh to find
	addr, stop, logs := startServe(t, c, "--send-schedule", "@every 1s", "--fetch-schedule", "@every 1s")

	waitUntil(t, "issue 1 to reach 3 subscribers", func() bool { return srv.Count() >= 3 })
	// The server has the messages a moment before the ledger records them and the
	// issue, now sent, joins the archive.
	waitUntil(t, "issue 1 in the archive", func() bool { code, _ := getPage(t, addr+"/archive/1"); return code == http.StatusOK })
	code, page := getPage(t, addr+"/archive/1")
	if code != http.StatusOK || !strings.Contains(page, "Postgres connection pool") || !strings.Contains(page, "editor post 1") {
		t.Fatalf("GET /archive/1: status %d, want 200 with a new feed item and a queued link:\n%s", code, page)
	}
	if strings.Contains(page, "Why retries make outages longer") {
		t.Errorf("issue 1 carries a feed item that was already there when the feed was added")
	}

	unsub := unsubscribeLink(t, srv, "ada@example.org")
	if code := postForm(t, onServer(t, addr, unsub), "List-Unsubscribe=One-Click"); code != http.StatusOK {
		t.Fatalf("one-click POST: status %d", code)
	}
	queueLinks(t, c, "second", 3)
	waitUntil(t, "issue 2 to reach the 2 who stayed", func() bool { return srv.Count() >= 5 })
	waitUntil(t, "issue 2 in the archive", func() bool { code, _ := getPage(t, addr+"/archive/2"); return code == http.StatusOK })
	if err := stop(); err != nil {
		t.Errorf("weekly serve after SIGTERM = %v, want nil (exit 0)", err)
	}
	want := map[string]int{"ada@example.org": 1, "bob@example.org": 2, "cy@example.org": 2}
	if diff := cmp.Diff(want, srv.PerRecipient()); diff != "" {
		t.Errorf("messages per recipient (-want +got):\n%s", diff)
	}
	for _, line := range []string{"msg=job_weekly", "outcome=sent", "msg=job_fetch", "msg=serve_stopped"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q", line)
		}
	}
	for _, s := range append(serveSubscribers, unsub[strings.LastIndex(unsub, "/")+1:]) {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log shows %q: no addresses or tokens in logs", s)
		}
	}
}

// TestServeStopDuringSend cancels the daemon's context (SIGTERM) while the issue is
// going out: serve returns nil, each delivery is either sent or pending, and the next
// start sends the rest, to nobody twice.
func TestServeStopDuringSend(t *testing.T) {
	c, srv := serveCLI(t)
	queueLinks(t, c, "stop", 3)
	srv.Delay(300 * time.Millisecond)
	c.env["WEEKLY_CONCURRENCY"] = "1"
	c.env["WEEKLY_SEND_SCHEDULE"] = "0 0 * * *" // midnight today: due at start-up
	_, stop, _ := startServe(t, c)
	waitUntil(t, "the first message to be in flight", func() bool { return srv.Attempts() > 0 || srv.Count() > 0 })
	if err := stop(); err != nil {
		t.Fatalf("weekly serve stopped during a send = %v, want nil (exit 0)", err)
	}
	got := deliveryStatuses(t, c.env["WEEKLY_DB"])
	if got["sent"] != srv.Count() || got["sent"]+got["pending"] != 3 || got["sent"] == 3 {
		t.Fatalf("after the stop: deliveries %v with %d messages accepted; want each sent one recorded, the rest pending", got, srv.Count())
	}
	srv.Delay(0)
	c.env["WEEKLY_LOG_FORMAT"] = "json"
	_, stop, logs := startServe(t, c)
	waitUntil(t, "the resumed send", func() bool { return deliveryStatuses(t, c.env["WEEKLY_DB"])["sent"] == 3 })
	if err := stop(); err != nil {
		t.Error(err)
	}
	jobs := 0
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q", line)
		}
		if rec["msg"] == "job_weekly" {
			jobs++
			if rec["outcome"] == nil || rec["duration"] == nil {
				t.Errorf("job line lacks its outcome or duration: %q", line)
			}
		}
	}
	if jobs != 1 {
		t.Errorf("%d job_weekly lines, want 1 for the start-up run:\n%s", jobs, logs)
	}
	want := map[string]int{"ada@example.org": 1, "bob@example.org": 1, "cy@example.org": 1}
	if diff := cmp.Diff(want, srv.PerRecipient()); diff != "" {
		t.Errorf("messages per recipient (-want +got):\n%s", diff)
	}
}

// The crash test runs 'weekly serve' in a child process (this test binary again,
// running TestServeCrashChild), kills it with SIGKILL in the middle of the send, and
// starts the daemon again, which resumes: nobody is missed, and nobody gets a second
// copy except those whose message was in flight.

const serveCrashEnv = "WEEKLY_TEST_SERVE_CRASH_CHILD"

func TestServeRestartAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	c, srv := serveCLI(t)
	queueLinks(t, c, "crash", 3)
	emails := append(addSubscribers(t, c, 57), serveSubscribers...)
	srv.Delay(20 * time.Millisecond)
	const conc = 3
	c.env["WEEKLY_CONCURRENCY"] = "3"
	c.env["WEEKLY_SEND_SCHEDULE"] = "0 0 * * *"
	cmd, out := startServeChild(t, c, srv, 15)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // reaped, its pid is gone and its send lease can be taken over at once
	killedAt := srv.Count()
	if killedAt >= len(emails) {
		t.Fatalf("the child finished (%d messages) before it was killed; output:\n%s", killedAt, out)
	}

	srv.Delay(0)
	_, stop, _ := startServe(t, c)
	waitUntil(t, "the resumed send", func() bool { return deliveryStatuses(t, c.env["WEEKLY_DB"])["sent"] == len(emails) })
	if err := stop(); err != nil {
		t.Error(err)
	}
	got := srv.PerRecipient()
	missed, dups := 0, 0
	for _, e := range emails {
		switch n := got[e]; {
		case n == 0:
			missed++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("killed after %d messages; %d missed, %d duplicates", killedAt, missed, dups)
	if missed != 0 || dups > conc {
		t.Errorf("%d missed and %d duplicates; want none missed and at most %d (the messages in flight)", missed, dups, conc)
	}
}

// TestServeCrashChild is the child of TestServeRestartAfterKill9 and
// TestServeSIGTERMExitsZero; alone it does nothing. It runs serve as main does, with
// SIGINT and SIGTERM ending the context, and passes (exit 0) when serve returns nil.
func TestServeCrashChild(t *testing.T) {
	if os.Getenv(serveCrashEnv) == "" {
		t.Skip("runs only as the child of TestServeRestartAfterKill9 and TestServeSIGTERMExitsZero")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{"serve"}, os.Getenv, strings.NewReader(""), os.Stdout, os.Stderr); err != nil {
		t.Fatalf("weekly serve = %v, want nil", err)
	}
}

// startServeChild runs 'weekly serve' in a child process with c's environment and
// waits until the test SMTP server has accepted n messages from it.
func startServeChild(t *testing.T, c *cli, srv *smtptest.Server, n int) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), serveCrashEnv+"=1", "WEEKLY_LISTEN=127.0.0.1:0")
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitUntil(t, fmt.Sprintf("the child to send %d messages", n), func() bool { return srv.Count() >= n })
	return cmd, out
}

// TestServeSIGTERMExitsZero sends SIGTERM to a daemon in the middle of a send: it
// exits 0, every message it sent is recorded and the rest are pending, and the next
// start sends those, to nobody twice.
func TestServeSIGTERMExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	c, srv := serveCLI(t)
	queueLinks(t, c, "term", 3)
	emails := append(addSubscribers(t, c, 57), serveSubscribers...)
	srv.Delay(20 * time.Millisecond)
	c.env["WEEKLY_CONCURRENCY"] = "3"
	c.env["WEEKLY_SEND_SCHEDULE"] = "0 0 * * *"
	cmd, out := startServeChild(t, c, srv, 10)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("weekly serve after SIGTERM: %v, want exit 0; output:\n%s", err, out)
	}
	got := deliveryStatuses(t, c.env["WEEKLY_DB"])
	if got["sent"] != srv.Count() || got["sent"]+got["pending"] != len(emails) || got["sent"] == len(emails) {
		t.Fatalf("after SIGTERM: deliveries %v with %d messages accepted; want each sent one recorded, the rest pending", got, srv.Count())
	}
	srv.Delay(0)
	_, stop, _ := startServe(t, c)
	waitUntil(t, "the resumed send", func() bool { return deliveryStatuses(t, c.env["WEEKLY_DB"])["sent"] == len(emails) })
	if err := stop(); err != nil {
		t.Error(err)
	}
	for _, e := range emails {
		if n := srv.PerRecipient()[e]; n != 1 {
			t.Errorf("%s got %d copies, want 1", e, n)
		}
	}
}

// TestServeSIGHUPReloadsTemplates changes an override template and sends the
// daemon SIGHUP: the next page comes from the new template, and a broken one is
// refused while the old one stays.
func TestServeSIGHUPReloadsTemplates(t *testing.T) {
	c, _ := serveCLI(t)
	dir := t.TempDir()
	c.env["WEEKLY_TEMPLATES"] = dir
	addr, stop, logs := startServe(t, c)
	if _, page := getPage(t, addr+"/subscribe"); strings.Contains(page, "Reloaded sign-up") {
		t.Fatal("the page shows the override before it exists")
	}
	css := filepath.Join(dir, "web")
	if err := os.MkdirAll(css, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(css, "style.css"), []byte("/* Reloaded sign-up */ body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the templates to reload", func() bool { return strings.Contains(logs.String(), "msg=templates_reloaded") })
	if _, body := getPage(t, addr+"/style.css"); !strings.Contains(body, "Reloaded sign-up") {
		t.Errorf("after SIGHUP, /style.css = %q; want the override", body)
	}
	if err := os.WriteFile(filepath.Join(css, "signup.html.tmpl"), []byte("{{define"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the broken template to be refused", func() bool { return strings.Contains(logs.String(), "msg=templates_reload_failed") })
	if code, body := getPage(t, addr+"/style.css"); code != http.StatusOK || !strings.Contains(body, "Reloaded sign-up") {
		t.Errorf("after a failed reload, /style.css = %d %q; want the templates loaded before", code, body)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestServeUsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"serve"}, // no database yet
		{"serve", "--send-schedule", "CRON_TZ="},
		{"serve", "--send-schedule", "CRON_TZ=Europe/Berlin"},
		{"serve", "--fetch-schedule", "every hour"},
		{"serve", "--send-schedule", "0 9 * * 1 *"},
		{"serve", "--grace", "-1h"},
		{"serve", "--stop-timeout", "0s"},
		{"serve", "--listen", "nonsense"},
		{"serve", "extra"},
		{"status", "--send-schedule", "CRON_TZ="},
		{"demo", "extra"},
	} {
		_, _, err := c.run("", args...)
		var ue usageError
		if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") {
			t.Errorf("weekly %q: error = %v, want a one-line usage error", args, err)
		}
	}
	c.ok("init")
	if out := c.ok("serve", "--help"); !strings.Contains(out, "-send-schedule") || !strings.Contains(out, "-stop-timeout") {
		t.Errorf("weekly serve --help does not list the schedule flags:\n%s", out)
	}
}
