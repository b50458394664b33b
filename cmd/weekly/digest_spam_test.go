package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backendweekly/weekly/subscribers"
)

// TestSentIssueSpamScore builds an issue, sends it to the outbox with the real
// mailer and scores the .eml a subscriber would get with SpamAssassin (offline, no
// Bayes): the score must be at most 0.0. Skipped without spamassassin, except in CI.
func TestSentIssueSpamScore(t *testing.T) {
	sa, err := exec.LookPath("spamassassin")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("spamassassin is not installed; CI must install the spamassassin package")
		}
		t.Skip("spamassassin not installed (apt-get install spamassassin)")
	}
	c := newDigestCLI(t)
	c.env["WEEKLY_OUTBOX"] = filepath.Join(t.TempDir(), "outbox")
	c.env["WEEKLY_FROM"] = "weekly@weekly.example.com"
	ctx := context.Background()
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	if _, err := subscribers.NewStore(db, nil).Add(ctx, "ada@example.org", "Ada Lovelace", subscribers.SourceCLI); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c.ok("digest", "build")
	c.ok("digest", "edit", "--intro", "Welcome back. This week: queues in SQLite, connection pools and retries.")
	c.ok("digest", "send")
	files, _ := filepath.Glob(filepath.Join(c.env["WEEKLY_OUTBOX"], "*", "*.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox holds %q, want one message", files)
	}
	msg, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(tctx, sa, "-L", "-t", "--cf=use_bayes 0")
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spamassassin: %v", err)
	}
	// X-Spam-Status may be folded over several lines.
	status := regexp.MustCompile(`(?m)^X-Spam-Status:.*(\n[ \t].*)*`).Find(out)
	m := regexp.MustCompile(`score=(-?[0-9.]+)[\s\S]*?tests=([^\s]*(?:\s+[A-Z0-9_,]+)*)`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no score in spamassassin's output:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	rules := strings.Join(strings.Fields(string(m[2])), "")
	t.Logf("SpamAssassin score of the sent message: %.1f (%s)", score, rules)
	if score > 0 {
		report := out
		if i := bytes.Index(out, []byte("Content analysis")); i >= 0 {
			report = out[i:]
		}
		t.Errorf("SpamAssassin score = %.1f (%s), want <= 0.0\n%s", score, rules, report)
	}
}
