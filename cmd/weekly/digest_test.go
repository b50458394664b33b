package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
)

// newDigestCLI is an initialised database with three queued links and one feed
// item seen an hour ago.
func newDigestCLI(t *testing.T) *cli {
	t.Helper()
	c := newCLI(t)
	c.env["WEEKLY_BASE_URL"] = "https://weekly.example.com"
	c.ok("init")
	ctx := context.Background()
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	ls := links.NewStore(db, nil)
	for _, p := range []links.AddParams{
		{URL: "https://a.example/queues", Title: "Queues in SQLite", Note: "Worth a read."},
		{URL: "https://b.example/pools", Title: "Connection pools", Section: "Databases"},
		{URL: "https://c.example/retries", Title: "Retries done right"},
	} {
		if _, _, err := ls.Add(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := feeds.NewStore(db, nil).Add(ctx, "https://blog.example/feed.xml", "Example Blog", "")
	if err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	if _, err := db.Exec(`INSERT INTO feed_items (feed_id, identity, url, title, summary_html, published_at, first_seen_at)
		VALUES (?, 'x', 'https://blog.example/post', 'A post from a feed', '<p>Its summary.</p><script>alert(1)</script>', ?, ?)`,
		fd.ID, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	return c
}

// failsWithUsage runs args and fails the test unless they fail with a one-line usage
// error containing want.
func (c *cli) failsWithUsage(want string, args ...string) {
	c.t.Helper()
	_, _, err := c.run("", args...)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		c.t.Errorf("weekly %s: error = %v, want a one-line usage error containing %q", strings.Join(args, " "), err, want)
	}
}

func outputHas(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func TestDigestCommands(t *testing.T) {
	c := newDigestCLI(t)
	c.failsWithUsage("run 'weekly digest build' first", "digest", "show")
	c.failsWithUsage("run 'weekly digest build' first", "digest", "preview")

	out := c.ok("digest", "build")
	outputHas(t, "digest build", out, "Draft issue #1: 4 items (3 queued links, 1 from feeds)", "Subject: Backend Weekly #1: Queues in SQLite")

	out = c.ok("digest", "show")
	outputHas(t, "digest show", out, "Editor's picks\n   1. Queues in SQLite", "Note: Worth a read.",
		"Databases\n   3. Connection pools", "4. A post from a feed  [Example Blog]", "Its summary.")

	out = c.ok("digest", "edit", "--subject", "Queues, pools and retries")
	outputHas(t, "digest edit", out, "Subject: Queues, pools and retries\n")
	out, _, err := c.run("First paragraph.\n\nSecond one.", "digest", "edit", "--intro", "-")
	if err != nil {
		t.Fatal(err)
	}
	outputHas(t, "digest edit --intro -", out, "Intro:\n  First paragraph.\n  \n  Second one.")
	c.failsWithUsage("must be one line", "digest", "edit", "--subject", "two\nlines")
	c.failsWithUsage("nothing to change", "digest", "edit")

	out = c.ok("digest", "drop", "3")
	outputHas(t, "digest drop", out, "Dropped 1 item(s) from draft issue #1, which has 3 left")
	c.failsWithUsage("the draft has no item 3", "digest", "drop", "3")
	c.failsWithUsage(`"x" is not an item number`, "digest", "drop", "x")
	c.failsWithUsage("expected one or more item numbers", "digest", "drop")

	file := filepath.Join(t.TempDir(), "issue.html")
	out = c.ok("digest", "preview", "--out", file, "--name", "Ada")
	outputHas(t, "digest preview --out", out, "Wrote the HTML of draft issue #1")
	html, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	outputHas(t, "preview HTML", string(html), "<title>Queues, pools and retries</title>", "Hi Ada,",
		`href="https://weekly.example.com/unsubscribe/preview"`, `href="https://weekly.example.com/archive/1"`, "First paragraph.")
	if strings.Contains(string(html), "<script") || strings.Contains(string(html), "Connection pools") {
		t.Error("preview HTML carries the feed's script or the dropped item")
	}
	text := c.ok("digest", "preview", "--text")
	outputHas(t, "preview text", text, "Hello,", "* Queues in SQLite\n  https://a.example/queues\n  Worth a read.",
		"Unsubscribe with one click:\nhttps://weekly.example.com/unsubscribe/preview")

	var iss digest.Issue
	if err := json.Unmarshal([]byte(c.ok("digest", "show", "--json")), &iss); err != nil || iss.Number != 1 || len(iss.Items) != 3 {
		t.Errorf("digest show --json = #%d with %d items, %v; want #1 with 3", iss.Number, len(iss.Items), err)
	}

	outputHas(t, "digest cancel", c.ok("digest", "cancel"), "Cancelled issue #1")
	c.failsWithUsage("no draft to cancel", "digest", "cancel")
	c.failsWithUsage("no issue is being sent", "digest", "cancel", "--sending")
}

func TestDigestSendIsWired(t *testing.T) {
	c := newCLI(t)
	out := c.ok("digest", "--help")
	outputHas(t, "digest --help", out, "build", "show", "edit", "drop", "cancel", "preview", "send")
	outputHas(t, "digest send --help", c.ok("digest", "send", "--help"), "Usage: weekly digest send")
}

func TestIssuesCommands(t *testing.T) {
	c := newDigestCLI(t)
	outputHas(t, "issues list", c.ok("issues", "list"), "No issue has been sent yet.")
	if got := strings.TrimSpace(c.ok("issues", "list", "--json")); got != "[]" {
		t.Errorf("issues list --json with none = %q, want []", got)
	}
	c.ok("digest", "build")
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixMilli()
	for _, q := range []string{
		`UPDATE issues SET status = 'sent', send_started_at = ?1, sent_at = ?1`,
		`INSERT INTO subscribers (email, status, created_at, status_changed_at, status_source) VALUES ('a@example.org', 'active', ?1, ?1, 'cli'), ('b@example.org', 'unsubscribed', ?1, ?1, 'page')`,
		`INSERT INTO deliveries (issue_id, subscriber_id, status, updated_at) VALUES (1, 1, 'sent', ?1), (1, 2, 'failed', ?1)`,
		`INSERT INTO subscriber_events (subscriber_id, status, source, issue_id, at) VALUES (2, 'unsubscribed', 'page', 1, ?1)`,
	} {
		if _, err := db.Exec(q, now); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.env["WEEKLY_TIMEZONE"] = "Europe/Berlin"
	out := c.ok("issues", "list")
	outputHas(t, "issues list", out, "DELIVERED", "2026-03-02 10:00", "sent", "1/2", "Backend Weekly #1: Queues in SQLite")

	var list []digest.Summary
	if err := json.Unmarshal([]byte(c.ok("issues", "list", "--json")), &list); err != nil || len(list) != 1 ||
		list[0].Sent != 1 || list[0].Failed != 1 || list[0].Unsubscribed != 1 || list[0].Items != 4 {
		t.Errorf("issues list --json = %+v, %v; want issue #1 with 4 items, 1 sent, 1 failed, 1 unsubscribed", list, err)
	}
	out = c.ok("issues", "show", "1")
	outputHas(t, "issues show 1", out, "Issue #1 (sent), 4 items", "Sent: 2026-03-02 10:00 CET",
		"Deliveries: 2 recipients, 1 sent, 1 failed", "1 unsubscribed")
	var shown struct {
		Number int
		Counts digest.Tally
	}
	if err := json.Unmarshal([]byte(c.ok("issues", "show", "1", "--json")), &shown); err != nil || shown.Number != 1 || shown.Counts.Sent != 1 {
		t.Errorf("issues show 1 --json = %+v, %v; want #1 with 1 sent", shown, err)
	}
	c.failsWithUsage("there is no issue #9", "issues", "show", "9")
	c.failsWithUsage(`"x" is not an issue number`, "issues", "show", "x")
	c.failsWithUsage("expected one issue number", "issues", "show")
}
