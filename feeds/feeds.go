// Package feeds follows the feeds the newsletter draws on: the list of sources, a
// careful HTTP fetcher (timeouts, a body cap, conditional GET, Retry-After, back-off),
// parsing with gofeed (RSS, Atom, RDF, JSON Feed), and the items found, normalised and
// sanitised, kept forever so an item is new exactly once.
//
// Feed text is hostile: titles become plain text and summaries pass an allow-list
// sanitiser before they are stored.
package feeds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backendweekly/weekly/links"
)

// Sentinel errors.
var (
	// ErrNotFound is returned when no feed has the given ID.
	ErrNotFound = errors.New("feeds: not found")
	// ErrExists is returned by Add when a feed with the same URL is followed already.
	ErrExists = errors.New("feeds: already followed")
	// ErrInvalidURL is returned for a feed URL that is not absolute http or https.
	ErrInvalidURL = links.ErrInvalidURL
)

// Feed is one source the newsletter follows, with its fetch state.
type Feed struct {
	ID                  int64     `json:"id"`
	URL                 string    `json:"url"`
	Name                string    `json:"name"`
	Section             string    `json:"section"`
	ETag                string    `json:"-"`
	LastModified        string    `json:"-"`
	CreatedAt           time.Time `json:"created_at"`
	LastFetchedAt       time.Time `json:"last_fetched_at"` // zero: never fetched
	LastSuccessAt       time.Time `json:"last_success_at"` // zero: never fetched successfully
	LastError           string    `json:"last_error"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	NextFetchAt         time.Time `json:"next_fetch_at"` // not fetched by Refresh before this
	ItemCount           int       `json:"item_count"`
}

// Item is one entry seen in a feed. URL is normalised with links.Normalize (empty if
// the entry had no usable link); Title is plain text; SummaryHTML is sanitised.
type Item struct {
	ID          int64     `json:"id"`
	FeedID      int64     `json:"feed_id"`
	FeedName    string    `json:"feed_name"`
	Section     string    `json:"section"` // the feed's section
	URL         string    `json:"url"`
	Title       string    `json:"title"`
	SummaryHTML string    `json:"summary_html"`
	Author      string    `json:"author"`
	PublishedAt time.Time `json:"published_at"`
	FirstSeenAt time.Time `json:"first_seen_at"`
}

// Store reads and writes feeds and their items.
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

func (s *Store) nowMs() int64 { return s.now().UTC().UnixMilli() }

// Add follows a new feed. It does not fetch it: call Refresh with its ID, which
// records the items already in the feed as seen rather than new.
func (s *Store) Add(ctx context.Context, rawURL, name, section string) (Feed, error) {
	u, err := links.Normalize(rawURL)
	if err != nil {
		return Feed{}, err
	}
	name, section = plainText(name, 200), plainText(section, 80)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Feed{}, fmt.Errorf("feeds: add %s: %w", u, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM feeds WHERE url = ?`, u).Scan(&id)
	if err == nil {
		return Feed{}, fmt.Errorf("%s is already followed as feed %d: %w", u, id, ErrExists)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Feed{}, fmt.Errorf("feeds: add %s: %w", u, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO feeds (url, name, section, created_at) VALUES (?, ?, ?, ?)`,
		u, name, section, s.nowMs())
	if err != nil {
		return Feed{}, fmt.Errorf("feeds: add %s: %w", u, err)
	}
	if id, err = res.LastInsertId(); err != nil {
		return Feed{}, fmt.Errorf("feeds: add %s: %w", u, err)
	}
	if err := tx.Commit(); err != nil {
		return Feed{}, fmt.Errorf("feeds: add %s: %w", u, err)
	}
	return s.Get(ctx, id)
}

const selectFeeds = `SELECT f.id, f.url, f.name, f.section, f.etag, f.last_modified, f.created_at,
	coalesce(f.last_fetched_at, 0), coalesce(f.last_success_at, 0), f.last_error,
	f.consecutive_failures, f.next_fetch_at,
	(SELECT count(*) FROM feed_items i WHERE i.feed_id = f.id)
	FROM feeds f `

// Get returns one feed, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Feed, error) {
	fs, err := s.query(ctx, selectFeeds+`WHERE f.id = ?`, id)
	if err != nil {
		return Feed{}, err
	}
	if len(fs) == 0 {
		return Feed{}, fmt.Errorf("feed %d: %w", id, ErrNotFound)
	}
	return fs[0], nil
}

// List returns every feed, by ID.
func (s *Store) List(ctx context.Context) ([]Feed, error) {
	return s.query(ctx, selectFeeds+`ORDER BY f.id`)
}

// due returns the feeds whose back-off has passed at t.
func (s *Store) due(ctx context.Context, t time.Time) ([]Feed, error) {
	return s.query(ctx, selectFeeds+`WHERE f.next_fetch_at <= ? ORDER BY f.id`, t.UnixMilli())
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]Feed, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("feeds: list: %w", err)
	}
	defer rows.Close()
	var out []Feed
	for rows.Next() {
		var f Feed
		var created, fetched, success, next int64
		if err := rows.Scan(&f.ID, &f.URL, &f.Name, &f.Section, &f.ETag, &f.LastModified, &created,
			&fetched, &success, &f.LastError, &f.ConsecutiveFailures, &next, &f.ItemCount); err != nil {
			return nil, fmt.Errorf("feeds: list: %w", err)
		}
		f.CreatedAt, f.LastFetchedAt, f.LastSuccessAt, f.NextFetchAt = ms(created), ms(fetched), ms(success), ms(next)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("feeds: list: %w", err)
	}
	return out, nil
}

// ms turns stored milliseconds into a UTC time; 0 is the zero time.
func ms(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Remove stops following a feed and forgets its items. Issues already built keep
// their own copies.
func (s *Store) Remove(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM feeds WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("feeds: remove %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("feeds: remove %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("feed %d: %w", id, ErrNotFound)
	}
	return nil
}

// ItemsSince returns the items first seen in [from, to), newest published first,
// leaving out those that were already in a feed when it was added. The digest picks
// an issue's feed items from them.
func (s *Store) ItemsSince(ctx context.Context, from, to time.Time) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT i.id, i.feed_id, f.name, f.section, i.url, i.title,
		i.summary_html, i.author, i.published_at, i.first_seen_at
		FROM feed_items i JOIN feeds f ON f.id = i.feed_id
		WHERE i.first_seen_at >= ? AND i.first_seen_at < ? AND i.seen_on_add = 0
		ORDER BY i.published_at DESC, i.id`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("feeds: items since %v: %w", from, err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		var pub, seen int64
		if err := rows.Scan(&it.ID, &it.FeedID, &it.FeedName, &it.Section, &it.URL, &it.Title,
			&it.SummaryHTML, &it.Author, &pub, &seen); err != nil {
			return nil, fmt.Errorf("feeds: items since %v: %w", from, err)
		}
		it.PublishedAt, it.FirstSeenAt = time.UnixMilli(pub).UTC(), time.UnixMilli(seen).UTC()
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("feeds: items since %v: %w", from, err)
	}
	return out, nil
}

// DisplayName is the feed's name, else its URL's host.
func (f Feed) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	_, rest, _ := strings.Cut(f.URL, "://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}
