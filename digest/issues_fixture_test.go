package digest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
	"github.com/backendweekly/weekly/store"
)

// issuesFixture is a real database in a temporary folder with the real link and
// feed stores, and a clock the test moves.
type issuesFixture struct {
	t      testing.TB
	ctx    context.Context
	db     *sql.DB
	clock  time.Time
	links  *links.Store
	feeds  *feeds.Store
	issues *Issues
}

func newIssuesFixture(t testing.TB, cfg Config) *issuesFixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "weekly.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &issuesFixture{t: t, ctx: ctx, db: db, clock: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	now := func() time.Time { return f.clock }
	f.links, f.feeds = links.NewStore(db, now), feeds.NewStore(db, now)
	cfg.Links, cfg.Feeds = f.links, f.feeds
	f.issues = NewIssues(db, now, cfg)
	return f
}

func (f *issuesFixture) exec(q string, args ...any) sql.Result {
	f.t.Helper()
	res, err := f.db.ExecContext(f.ctx, q, args...)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return res
}

func (f *issuesFixture) queue(url, title, note, section string) links.Link {
	f.t.Helper()
	l, _, err := f.links.Add(f.ctx, links.AddParams{URL: url, Title: title, Note: note, Section: section})
	if err != nil {
		f.t.Fatalf("queue %s: %v", url, err)
	}
	return l
}

func (f *issuesFixture) feed(url, name, section string) int64 {
	f.t.Helper()
	fd, err := f.feeds.Add(f.ctx, url, name, section)
	if err != nil {
		f.t.Fatalf("add feed %s: %v", url, err)
	}
	return fd.ID
}

// feedItem records an item as the fetcher would: first seen at the clock's time,
// published at pub.
func (f *issuesFixture) feedItem(feedID int64, url, title, summary string, pub time.Time) int64 {
	f.t.Helper()
	res := f.exec(`INSERT INTO feed_items (feed_id, identity, url, title, summary_html, published_at, first_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, feedID, url, url, title, summary, pub.UnixMilli(), f.clock.UnixMilli())
	id, _ := res.LastInsertId()
	return id
}

// send marks the draft as sent, as the send loop would, with one delivery per
// given status.
func (f *issuesFixture) send(statuses ...string) Issue {
	f.t.Helper()
	d, err := f.issues.Draft(f.ctx)
	if err != nil {
		f.t.Fatalf("send: %v", err)
	}
	now := f.clock.UnixMilli()
	f.exec(`UPDATE issues SET status = 'sent', send_started_at = ?, sent_at = ? WHERE id = ?`, now, now, d.ID)
	f.exec(`UPDATE links SET issue_id = ? WHERE id IN (SELECT link_id FROM issue_items WHERE issue_id = ?)`, d.ID, d.ID)
	for i, st := range statuses {
		sub := f.subscriber(fmt.Sprintf("s%d-%d@example.com", d.ID, i))
		f.exec(`INSERT INTO deliveries (issue_id, subscriber_id, status, updated_at) VALUES (?, ?, ?, ?)`, d.ID, sub, st, now)
	}
	got, err := f.issues.Get(f.ctx, d.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func (f *issuesFixture) subscriber(email string) int64 {
	f.t.Helper()
	now := f.clock.UnixMilli()
	res := f.exec(`INSERT INTO subscribers (email, status, created_at, status_changed_at, status_source)
		VALUES (?, 'active', ?, ?, 'cli')`, email, now, now)
	id, _ := res.LastInsertId()
	return id
}

func (f *issuesFixture) build() Issue {
	f.t.Helper()
	iss, err := f.issues.Build(f.ctx)
	if err != nil {
		f.t.Fatalf("Build() = %v", err)
	}
	return iss
}

// issueTitles lists an issue's items as "position section: title".
func issueTitles(iss Issue) []string {
	var out []string
	for _, it := range iss.Items {
		out = append(out, fmt.Sprintf("%d %s: %s", it.Position, it.Section, it.Title))
	}
	return out
}
