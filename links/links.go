// Package links holds the editors' curated queue: links picked by hand, each with a
// note, waiting in the editors' order for the next issue. A link belongs to at most
// one issue; once that issue is sent the link stays in history with it.
//
// Normalize, the URL canonicalisation used for de-duplication, lives here and is
// shared with package feeds so that queued links and feed items compare equal.
package links

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors.
var (
	// ErrNotFound is returned when no link has the given ID.
	ErrNotFound = errors.New("links: not found")
	// ErrQueued is returned by Add when the URL is already in the queue.
	ErrQueued = errors.New("links: already queued")
	// ErrSentBefore is returned by Add when the URL went out in an earlier issue
	// and AddParams.Force is not set.
	ErrSentBefore = errors.New("links: already sent in an earlier issue")
	// ErrSent is returned when editing, removing or moving a link already sent.
	ErrSent = errors.New("links: link already sent; it belongs to its issue")
)

// Field limits: a note is a sentence or two, not an article.
const (
	maxTitle   = 300
	maxNote    = 1000
	maxSection = 80
)

// Link is one curated link.
type Link struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"` // normalised
	Title     string    `json:"title"`
	Note      string    `json:"note"`
	Section   string    `json:"section"`
	Position  int       `json:"position"` // editor's order among queued links, 1 first
	CreatedAt time.Time `json:"created_at"`
	IssueID   int64     `json:"issue_id,omitempty"` // 0 while queued
	// IssueNumber is the number of the issue that carried the link; 0 while queued.
	IssueNumber int `json:"issue_number,omitempty"`
}

// Queued reports whether the link is still waiting for an issue.
func (l Link) Queued() bool { return l.IssueID == 0 }

// Store reads and writes links.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// NewStore returns a Store on db. now is the clock; nil means time.Now.
func NewStore(db *sql.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// AddParams describe a link to queue. URL is required; it is normalised.
type AddParams struct {
	URL     string
	Title   string
	Note    string
	Section string
	// Force queues a URL even if it was sent in an earlier issue.
	Force bool
}

// Add queues a link at the end of the queue. A URL already queued is ErrQueued. A URL
// sent in an earlier issue is ErrSentBefore unless p.Force is set; sentIn then holds
// that issue's number so the caller can warn.
func (s *Store) Add(ctx context.Context, p AddParams) (l Link, sentIn int, err error) {
	u, err := Normalize(p.URL)
	if err != nil {
		return Link{}, 0, err
	}
	l = Link{URL: u, Title: clean(p.Title, maxTitle), Note: clean(p.Note, maxNote),
		Section: clean(p.Section, maxSection), CreatedAt: s.now().UTC().Truncate(time.Millisecond)}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Link{}, 0, fmt.Errorf("links: add %s: %w", u, err)
	}
	defer tx.Rollback()
	if sentIn, err = check(ctx, tx, u, p.Force); err != nil {
		return Link{}, sentIn, err
	}
	err = tx.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) + 1 FROM links WHERE issue_id IS NULL`).Scan(&l.Position)
	if err != nil {
		return Link{}, 0, fmt.Errorf("links: add %s: %w", u, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO links (url, title, note, section, position, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		l.URL, l.Title, l.Note, l.Section, l.Position, l.CreatedAt.UnixMilli())
	if err != nil {
		return Link{}, 0, fmt.Errorf("links: add %s: %w", u, err)
	}
	if l.ID, err = res.LastInsertId(); err != nil {
		return Link{}, 0, fmt.Errorf("links: add %s: %w", u, err)
	}
	if err := tx.Commit(); err != nil {
		return Link{}, 0, fmt.Errorf("links: add %s: %w", u, err)
	}
	return l, sentIn, nil
}

// Check reports whether the URL may be queued, as Add would: it normalises raw and
// returns ErrQueued or ErrSentBefore (unless force), and the number of the latest
// issue that carried it (0 if none). It lets a caller refuse before doing slow work.
func (s *Store) Check(ctx context.Context, raw string, force bool) (sentIn int, err error) {
	u, err := Normalize(raw)
	if err != nil {
		return 0, err
	}
	return check(ctx, s.db, u, force)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func check(ctx context.Context, q querier, u string, force bool) (int, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM links WHERE url = ? AND issue_id IS NULL`, u).Scan(&id)
	if err == nil {
		return 0, fmt.Errorf("%s is already queued as link %d: %w", u, id, ErrQueued)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("links: check %s: %w", u, err)
	}
	n, err := sentIn(ctx, q, u)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !force {
		return n, fmt.Errorf("%s was sent in issue %d: %w", u, n, ErrSentBefore)
	}
	return n, nil
}

// SentIn returns the number of the latest issue that carried the URL (normalised
// first), or ErrNotFound if no issue has.
func (s *Store) SentIn(ctx context.Context, raw string) (int, error) {
	u, err := Normalize(raw)
	if err != nil {
		return 0, err
	}
	return sentIn(ctx, s.db, u)
}

func sentIn(ctx context.Context, q querier, u string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT i.number FROM links l JOIN issues i ON i.id = l.issue_id
		WHERE l.url = ? AND i.status <> 'cancelled' ORDER BY i.number DESC LIMIT 1`, u).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("links: sent in %s: %w", u, err)
	}
	return n, nil
}

// clean trims s, turns line breaks and tabs into spaces and caps its length in runes.
func clean(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}
