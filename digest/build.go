package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
)

// Build creates the draft for the next issue, or rebuilds the draft there is,
// and returns it. The items are, in order: every queued link in the editors'
// order, then the feed items first seen since the previous issue started sending,
// newest first, at most PerFeed from one feed and MaxItems in all; grouped by
// section in the order the sections first appear. A feed item is left out if an
// editor queued its URL, if an earlier issue carried it, or if an editor dropped
// it from this draft. A rebuild keeps the draft's number, intro and chosen subject.
//
// The build may leave fewer items than the minimum: see CheckMinItems.
func (s *Issues) Build(ctx context.Context) (Issue, error) {
	if s.cfg.Links == nil || s.cfg.Feeds == nil {
		return Issue{}, errors.New("digest: Build needs Config.Links and Config.Feeds")
	}
	// The sources are read before the transaction, which must stay short; if an
	// issue starts sending meanwhile the window moves, and the build starts over.
	for range 3 {
		iss, err := s.build(ctx)
		if !errors.Is(err, errWindowMoved) {
			return iss, err
		}
	}
	return Issue{}, fmt.Errorf("digest: build: %w", errWindowMoved)
}

// errWindowMoved means an issue started sending while a build read its sources.
var errWindowMoved = errors.New("another issue started sending during the build; try again")

func (s *Issues) build(ctx context.Context) (Issue, error) {
	start, err := windowStart(ctx, s.db)
	if err != nil {
		return Issue{}, err
	}
	end := s.now()
	queued, err := s.cfg.Links.Queued(ctx)
	if err != nil {
		return Issue{}, fmt.Errorf("digest: build: %w", err)
	}
	fresh, err := s.cfg.Feeds.ItemsSince(ctx, start, end)
	if err != nil {
		return Issue{}, fmt.Errorf("digest: build: %w", err)
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Issue{}, fmt.Errorf("digest: build: %w", err)
	}
	defer tx.Rollback()
	if again, err := windowStart(ctx, tx); err != nil {
		return Issue{}, err
	} else if !again.Equal(start) {
		return Issue{}, errWindowMoved
	}
	draft, err := issueWhere(ctx, tx, `WHERE status = 'draft'`)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Issue{}, err
	}
	ex, err := loadExclusions(ctx, tx, draft.ID)
	if err != nil {
		return Issue{}, err
	}
	items := choose(queued, fresh, ex, s.cfg.PerFeed, s.cfg.MaxItems)
	id, err := s.saveDraft(ctx, tx, draft, start, end, items)
	if err != nil {
		return Issue{}, err
	}
	iss, err := issueWhere(ctx, tx, `WHERE id = ?`, id)
	if err != nil {
		return Issue{}, err
	}
	if err := tx.Commit(); err != nil {
		return Issue{}, fmt.Errorf("digest: build: %w", err)
	}
	return iss, nil
}

// windowStart is where the next issue's feed window begins: where the latest issue
// that started sending ended its own, or the beginning of time before the first.
func windowStart(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (time.Time, error) {
	var ms int64
	err := q.QueryRowContext(ctx, `SELECT coalesce(max(window_end), 0) FROM issues
		WHERE status IN ('sending', 'sent')`).Scan(&ms)
	if err != nil {
		return time.Time{}, fmt.Errorf("digest: build: window: %w", err)
	}
	return msTime(ms), nil
}

// exclusions is what must not go into the draft again.
type exclusions struct {
	sentURLs      map[string]bool // URLs carried by issues that started sending
	sentFeedItems map[int64]bool
	sentLinks     map[int64]bool
	dropped       map[string]bool // URLs an editor dropped from this draft
}

func loadExclusions(ctx context.Context, tx *sql.Tx, draftID int64) (exclusions, error) {
	ex := exclusions{sentURLs: map[string]bool{}, sentFeedItems: map[int64]bool{}, sentLinks: map[int64]bool{}, dropped: map[string]bool{}}
	rows, err := tx.QueryContext(ctx, `SELECT it.url, coalesce(it.feed_item_id, 0), coalesce(it.link_id, 0)
		FROM issue_items it JOIN issues i ON i.id = it.issue_id WHERE i.status IN ('sending', 'sent')`)
	if err != nil {
		return ex, fmt.Errorf("digest: build: earlier items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var feedItem, link int64
		if err := rows.Scan(&u, &feedItem, &link); err != nil {
			return ex, fmt.Errorf("digest: build: earlier items: %w", err)
		}
		ex.sentURLs[u], ex.sentFeedItems[feedItem], ex.sentLinks[link] = true, true, true
	}
	if err := rows.Err(); err != nil {
		return ex, fmt.Errorf("digest: build: earlier items: %w", err)
	}
	delete(ex.sentFeedItems, 0)
	delete(ex.sentLinks, 0)
	drops, err := tx.QueryContext(ctx, `SELECT url FROM issue_drops WHERE issue_id = ?`, draftID)
	if err != nil {
		return ex, fmt.Errorf("digest: build: dropped items: %w", err)
	}
	defer drops.Close()
	for drops.Next() {
		var u string
		if err := drops.Scan(&u); err != nil {
			return ex, fmt.Errorf("digest: build: dropped items: %w", err)
		}
		ex.dropped[u] = true
	}
	if err := drops.Err(); err != nil {
		return ex, fmt.Errorf("digest: build: dropped items: %w", err)
	}
	return ex, nil
}

// choose picks and orders an issue's items (see Build). It is pure, so the rules
// can be tested without a database. Positions are 1, 2, 3, ...
func choose(queued []links.Link, fresh []feeds.Item, ex exclusions, perFeed, maxItems int) []Item {
	var picked []Item
	linkURLs := map[string]bool{}
	for _, l := range queued {
		if len(picked) == maxItems {
			break
		}
		if ex.sentLinks[l.ID] || ex.dropped[l.URL] || linkURLs[l.URL] {
			continue
		}
		linkURLs[l.URL] = true
		picked = append(picked, linkItem(l))
	}
	fresh = append([]feeds.Item(nil), fresh...)
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].PublishedAt.After(fresh[j].PublishedAt) })
	perFeedCount := map[int64]int{}
	seen := map[string]bool{}
	for _, f := range fresh {
		if len(picked) == maxItems {
			break
		}
		if f.URL == "" || linkURLs[f.URL] || seen[f.URL] || ex.sentURLs[f.URL] || ex.sentFeedItems[f.ID] ||
			ex.dropped[f.URL] || perFeedCount[f.FeedID] == perFeed {
			continue
		}
		seen[f.URL] = true
		perFeedCount[f.FeedID]++
		picked = append(picked, feedItem(f))
	}
	return groupBySection(picked)
}

func linkItem(l links.Link) Item {
	it := Item{Kind: KindLink, Section: oneLine(l.Section), Title: oneLine(l.Title), URL: l.URL, Note: l.Note, LinkID: l.ID}
	if it.Section == "" {
		it.Section = DefaultLinkSection
	}
	if it.Title == "" {
		it.Title = l.URL
	}
	return it
}

func feedItem(f feeds.Item) Item {
	it := Item{Kind: KindFeed, Section: oneLine(f.Section), Title: oneLine(f.Title), URL: f.URL,
		FeedName: oneLine(f.FeedName), ExcerptHTML: excerpt(f.SummaryHTML), FeedItemID: f.ID}
	if it.Section == "" {
		it.Section = DefaultFeedSection
	}
	if it.Title == "" {
		it.Title = f.URL
	}
	return it
}

// groupBySection orders items by section, the sections in the order they first
// appear, keeping the order within each, and numbers them from 1.
func groupBySection(items []Item) []Item {
	rank := map[string]int{}
	for _, it := range items {
		if _, ok := rank[it.Section]; !ok {
			rank[it.Section] = len(rank)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return rank[items[i].Section] < rank[items[j].Section] })
	for i := range items {
		items[i].Position = i + 1
	}
	return items
}

// saveDraft writes the draft's row and items, creating the draft if there is none
// (draft.ID == 0), and returns its ID.
func (s *Issues) saveDraft(ctx context.Context, tx *sql.Tx, draft Issue, start, end time.Time, items []Item) (int64, error) {
	id := draft.ID
	if id == 0 {
		var last int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(number), 0) FROM issues WHERE status <> 'cancelled'`).Scan(&last); err != nil {
			return 0, fmt.Errorf("digest: build: next number: %w", err)
		}
		draft.Number = last + 1
		res, err := tx.ExecContext(ctx, `INSERT INTO issues (number, status, window_start, window_end, created_at)
			VALUES (?, 'draft', ?, ?, ?)`, draft.Number, start.UnixMilli(), end.UnixMilli(), s.now().UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("digest: build: create draft: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return 0, fmt.Errorf("digest: build: create draft: %w", err)
		}
	} else {
		if _, err := tx.ExecContext(ctx, `DELETE FROM issue_items WHERE issue_id = ?`, id); err != nil {
			return 0, fmt.Errorf("digest: build: clear draft: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE issues SET window_start = ?, window_end = ? WHERE id = ?`,
			start.UnixMilli(), end.UnixMilli(), id); err != nil {
			return 0, fmt.Errorf("digest: build: update draft: %w", err)
		}
	}
	for _, it := range items {
		if _, err := tx.ExecContext(ctx, `INSERT INTO issue_items (issue_id, position, kind, section, title, url,
			note, feed_name, excerpt_html, link_id, feed_item_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, it.Position, it.Kind, it.Section, it.Title, it.URL, it.Note, it.FeedName, it.ExcerptHTML,
			nullID(it.LinkID), nullID(it.FeedItemID)); err != nil {
			return 0, fmt.Errorf("digest: build: add item: %w", err)
		}
	}
	if !draft.SubjectSet {
		if err := setDefaultSubject(ctx, tx, id, s.cfg.ListName, draft.Number, items); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// setDefaultSubject stores the default subject for the issue's current items.
func setDefaultSubject(ctx context.Context, tx *sql.Tx, id int64, listName string, number int, items []Item) error {
	if _, err := tx.ExecContext(ctx, `UPDATE issues SET subject = ? WHERE id = ? AND subject_set = 0`,
		DefaultSubject(listName, number, items), id); err != nil {
		return fmt.Errorf("digest: default subject: %w", err)
	}
	return nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
