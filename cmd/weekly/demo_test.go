package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs 'weekly demo' as the README's first command does, and again over
// its own folder.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	c := &cli{t: t, env: map[string]string{"WEEKLY_SMTP_HOST": "192.0.2.1"}} // must not be used
	start := time.Now()
	out := c.ok("demo", "--dir", dir)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("demo took %v; it must finish in seconds", took)
	}
	emls, _ := filepath.Glob(filepath.Join(dir, "outbox", "issue-0001", "*.eml"))
	if len(emls) != len(demoSubscribers) {
		t.Errorf("outbox holds %d .eml files, want one per subscriber (%d)", len(emls), len(demoSubscribers))
	}
	preview, err := os.ReadFile(filepath.Join(dir, "preview.html"))
	if err != nil {
		t.Fatal(err)
	}
	// The preview has the queued links and the feed items published after the feeds
	// were added, not those already there.
	for _, want := range []string{"The Tail at Scale", "Postgres connection pool", "Idempotency keys", "What WAL mode really changes"} {
		if !strings.Contains(string(preview), want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	if strings.Contains(string(preview), "Why retries make outages longer") {
		t.Error("preview carries a feed item that was there when the feed was added")
	}
	for _, want := range []string{emls[0][:strings.LastIndex(emls[0], string(filepath.Separator))], filepath.Join(dir, "preview.html"),
		"export WEEKLY_DB=" + filepath.Join(dir, "weekly.db"), "weekly serve", "sent to 4 of 4 subscribers"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}

	// A second run reuses the folder; a folder the demo did not make is refused.
	c.ok("demo", "--dir", dir)
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.run("", "demo", "--dir", other); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("demo over a folder with other files = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(other, "notes.txt")); err != nil {
		t.Errorf("the refused folder lost its file: %v", err)
	}
}

func TestDemoOldestItems(t *testing.T) {
	oldest := map[string]string{
		"queueing.rss.xml": "Why retries make outages longer",
		"storage.atom.xml": "Page cache, O_DIRECT",
		"distributed.json": "Fencing tokens",
	}
	for _, f := range demoFeedFiles {
		f := struct{ file, oldest string }{f.file, oldest[f.file]}
		b, err := demoData.ReadFile("demodata/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := oldestItems(f.file, b, 2)
		if err != nil {
			t.Fatalf("oldestItems(%s, 2) = %v", f.file, err)
		}
		for _, newest := range []string{"Little's Law", "What WAL mode", "Idempotency keys"} {
			if strings.Contains(string(got), newest) {
				t.Errorf("oldestItems(%s, 2) still has the newest item %q", f.file, newest)
			}
		}
		if !strings.Contains(string(got), f.oldest) {
			t.Errorf("oldestItems(%s, 2) lost the oldest item %q", f.file, f.oldest)
		}
	}
}
