package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
)

// LinkSource gives the links waiting for an issue, in the editors' order;
// *links.Store is one.
type LinkSource interface {
	Queued(ctx context.Context) ([]links.Link, error)
}

// FeedSource gives the feed items first seen in [from, to), newest first, without
// those already in a feed when it was added; *feeds.Store is one.
type FeedSource interface {
	ItemsSince(ctx context.Context, from, to time.Time) ([]feeds.Item, error)
}

// Config configures Issues. Zero values take the default given.
type Config struct {
	// Links and Feeds are read by Build; they are required for it and only for it.
	Links LinkSource
	Feeds FeedSource
	// ListName names the newsletter in default subjects; default "Backend Weekly".
	ListName string
	// PerFeed is the most items one feed contributes to an issue; default 5.
	PerFeed int
	// MaxItems is the most items in an issue, links included; default 30.
	MaxItems int
	// MinItems is the fewest items worth sending (see CheckMinItems); 0, the
	// default, means any non-empty issue is.
	MinItems int
}

// Issues builds, reads and shapes issues.
type Issues struct {
	db  *sql.DB
	now func() time.Time
	cfg Config
}

// NewIssues returns Issues on db. now is the clock; nil means time.Now.
func NewIssues(db *sql.DB, now func() time.Time, cfg Config) *Issues {
	if now == nil {
		now = time.Now
	}
	if cfg.ListName == "" {
		cfg.ListName = "Backend Weekly"
	}
	if cfg.PerFeed <= 0 {
		cfg.PerFeed = 5
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = 30
	}
	return &Issues{db: db, now: now, cfg: cfg}
}

// Draft returns the draft issue with its items, or ErrNoDraft.
func (s *Issues) Draft(ctx context.Context) (Issue, error) {
	iss, err := s.one(ctx, `WHERE status = 'draft'`)
	if errors.Is(err, ErrNotFound) {
		return Issue{}, ErrNoDraft
	}
	return iss, err
}

// Get returns the issue with the given ID and its items, or ErrNotFound.
func (s *Issues) Get(ctx context.Context, id int64) (Issue, error) {
	return s.one(ctx, `WHERE id = ?`, id)
}

// ByNumber returns the issue numbered number that is not cancelled, with its
// items, or ErrNotFound.
func (s *Issues) ByNumber(ctx context.Context, number int) (Issue, error) {
	return s.one(ctx, `WHERE number = ? AND status <> 'cancelled'`, number)
}

// CheckMinItems returns an error wrapping ErrTooFewItems if iss has fewer items
// than the configured minimum, or none at all.
func (s *Issues) CheckMinItems(iss Issue) error {
	if n := len(iss.Items); n == 0 || n < s.cfg.MinItems {
		return fmt.Errorf("%w: issue #%d has %d, the minimum is %d", ErrTooFewItems, iss.Number, n, max(s.cfg.MinItems, 1))
	}
	return nil
}

const issueColumns = `i.id, i.number, i.status, i.subject, i.subject_set, i.intro, i.window_start,
	i.window_end, i.scheduled_for, i.created_at, i.send_started_at, i.sent_at`

// one returns the single issue matched by where (on issues i), with its items. One
// statement reads both, so the items are those of the issue as read: a read
// transaction would take the write lock (the DSN sets _txlock=immediate).
func (s *Issues) one(ctx context.Context, where string, args ...any) (Issue, error) {
	return issueWhere(ctx, s.db, where, args...)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// issueWhere reads one issue (the first that where matches) and its items.
func issueWhere(ctx context.Context, q querier, where string, args ...any) (Issue, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+issueColumns+`, it.id, it.position, it.kind, it.section,
		it.title, it.url, it.note, it.feed_name, it.excerpt_html, coalesce(it.link_id, 0), coalesce(it.feed_item_id, 0)
		FROM (SELECT * FROM issues i `+where+` ORDER BY i.id LIMIT 1) i
		LEFT JOIN issue_items it ON it.issue_id = i.id
		ORDER BY it.position`, args...)
	if err != nil {
		return Issue{}, fmt.Errorf("digest: read issue: %w", err)
	}
	defer rows.Close()
	var row issueRow
	found := false
	for rows.Next() {
		var it itemRow
		if err := rows.Scan(append(row.dest(), it.dest()...)...); err != nil {
			return Issue{}, fmt.Errorf("digest: read issue: %w", err)
		}
		found = true
		if it.id.Valid {
			row.items = append(row.items, it.item())
		}
	}
	if err := rows.Err(); err != nil {
		return Issue{}, fmt.Errorf("digest: read issue: %w", err)
	}
	if !found {
		return Issue{}, ErrNotFound
	}
	return row.issue(), nil
}

// issueRow receives the issueColumns of one issue.
type issueRow struct {
	iss                  Issue
	start, end, created  int64
	sched, started, sent sql.NullInt64
	items                []Item
}

func (r *issueRow) dest() []any {
	return []any{&r.iss.ID, &r.iss.Number, &r.iss.Status, &r.iss.Subject, &r.iss.SubjectSet, &r.iss.Intro,
		&r.start, &r.end, &r.sched, &r.created, &r.started, &r.sent}
}

func (r *issueRow) issue() Issue {
	iss := r.iss
	iss.WindowStart, iss.WindowEnd, iss.CreatedAt = msTime(r.start), msTime(r.end), msTime(r.created)
	iss.ScheduledFor, iss.SendStartedAt, iss.SentAt = nullMsTime(r.sched), nullMsTime(r.started), nullMsTime(r.sent)
	iss.Items = r.items
	return iss
}

// itemRow receives an item's columns from a LEFT JOIN: all NULL for an issue with
// no items.
type itemRow struct {
	id, position, linkID, feedItemID sql.NullInt64
	kind, section, title, url        sql.NullString
	note, feedName, excerpt          sql.NullString
}

func (r *itemRow) dest() []any {
	return []any{&r.id, &r.position, &r.kind, &r.section, &r.title, &r.url, &r.note,
		&r.feedName, &r.excerpt, &r.linkID, &r.feedItemID}
}

func (r *itemRow) item() Item {
	return Item{ID: r.id.Int64, Position: int(r.position.Int64), Kind: r.kind.String, Section: r.section.String,
		Title: r.title.String, URL: r.url.String, Note: r.note.String, FeedName: r.feedName.String,
		ExcerptHTML: r.excerpt.String, LinkID: r.linkID.Int64, FeedItemID: r.feedItemID.Int64}
}

// msTime turns stored Unix milliseconds into a UTC time.
func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullMsTime is msTime for a nullable column; NULL is the zero time.
func nullMsTime(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return msTime(ms.Int64)
}
