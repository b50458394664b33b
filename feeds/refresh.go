package feeds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Back-off after failures: 15 minutes after the first, doubling, at most a day.
const (
	backoffBase = 15 * time.Minute
	backoffMax  = 24 * time.Hour
	maxErrorLen = 500
)

// Backoff returns how long to wait before fetching a feed again after failures
// consecutive failed fetches.
func Backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := backoffBase
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// Result is the outcome of refreshing one feed.
type Result struct {
	FeedID      int64
	Name        string // the feed's name, else its host
	URL         string // the URL fetched
	MovedTo     string // the new URL after a permanent redirect, if any
	NotModified bool   // the server answered 304
	Items       int    // items in the feed document
	New         int    // items never seen before
	FirstFetch  bool   // the feed's first successful fetch: its items were recorded as seen
	Err         error  // why the fetch failed; nil on success
	Failures    int    // consecutive failures, this one included
	NextFetchAt time.Time
}

// Refresh fetches feeds concurrently (Fetcher's worker and per-host limits) and
// stores their new items. With ids it fetches those feeds now, whatever their
// back-off; without, every feed that is due. A feed that fails is recorded with its
// error and backed off; it never stops the others. The error is non-nil only if
// an ID is unknown or the database fails. Fetch failures are reported in the
// Results (and logged at debug level only): the caller shows or logs them.
func (s *Store) Refresh(ctx context.Context, f *Fetcher, ids ...int64) ([]Result, error) {
	list, err := s.toRefresh(ctx, ids)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(list))
	errs := make([]error, len(list))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(f.cfg.Workers, len(list)) {
		wg.Go(func() { // exits when jobs is closed and drained
			for i := range jobs {
				results[i], errs[i] = s.refreshOne(ctx, f, list[i])
			}
		})
	}
	for i := range list {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results, errors.Join(errs...)
}

// toRefresh returns the feeds named by ids, each once, or every due feed if none.
func (s *Store) toRefresh(ctx context.Context, ids []int64) ([]Feed, error) {
	if len(ids) == 0 {
		return s.due(ctx, s.now())
	}
	var list []Feed
	asked := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if asked[id] {
			continue
		}
		asked[id] = true
		fd, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		list = append(list, fd)
	}
	return list, nil
}

// refreshOne fetches one feed, then records the outcome in a short transaction.
func (s *Store) refreshOne(ctx context.Context, f *Fetcher, fd Feed) (Result, error) {
	r := Result{FeedID: fd.ID, Name: fd.DisplayName(), URL: fd.URL}
	now := s.now().UTC()
	got, err := f.fetch(ctx, fd, now)
	if ctx.Err() != nil && err != nil {
		// Shutting down: not the feed's fault, so not a failure on its record.
		r.Err = ctx.Err()
		return r, nil
	}
	if err != nil {
		r.Err = err
		r.Failures = fd.ConsecutiveFailures + 1
		wait := Backoff(r.Failures)
		var se *statusError
		if errors.As(err, &se) {
			wait = max(wait, se.retryAfter)
		}
		r.NextFetchAt = now.Add(wait).Truncate(time.Millisecond)
		f.log.Debug("feed_fetch_failed", "feed_id", fd.ID, "failures", r.Failures, "next_fetch_at", r.NextFetchAt, "err", err)
		return r, s.recordFailure(ctx, fd.ID, now, r.NextFetchAt, r.Failures, err)
	}
	r.NotModified, r.MovedTo, r.Items, r.NextFetchAt = got.notModified, got.movedTo, len(got.doc.Items), now.Truncate(time.Millisecond)
	r.New, r.FirstFetch, err = s.recordSuccess(ctx, fd, got, now)
	if err == nil && fd.Name == "" && got.doc.Title != "" {
		r.Name = got.doc.Title
	}
	f.log.Debug("feed_fetched", "feed_id", fd.ID, "not_modified", r.NotModified, "items", r.Items, "new_items", r.New)
	return r, err
}

func (s *Store) recordFailure(ctx context.Context, id int64, now, next time.Time, failures int, cause error) error {
	msg := strings.Join(strings.Fields(cause.Error()), " ")
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	_, err := s.db.ExecContext(ctx, `UPDATE feeds SET last_fetched_at = ?, last_error = ?,
		consecutive_failures = ?, next_fetch_at = ? WHERE id = ?`,
		now.UnixMilli(), msg, failures, next.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("feeds: record failure of feed %d: %w", id, err)
	}
	return nil
}

// recordSuccess stores new items and the feed's validators in one transaction. Items
// from a feed's first successful fetch were there before we followed it: they are
// recorded as seen_on_add and never offered to an issue.
func (s *Store) recordSuccess(ctx context.Context, fd Feed, got fetched, now time.Time) (added int, first bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("feeds: store feed %d: %w", fd.ID, err)
	}
	defer tx.Rollback()
	var success sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT last_success_at FROM feeds WHERE id = ?`, fd.ID).Scan(&success)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil // removed while we fetched it
	}
	if err != nil {
		return 0, false, fmt.Errorf("feeds: store feed %d: %w", fd.ID, err)
	}
	first = !success.Valid
	if !got.notModified {
		if added, err = insertItems(ctx, tx, fd.ID, got.doc.Items, now, first); err != nil {
			return 0, false, err
		}
	}
	etag, lastMod := got.etag, got.lastModified
	if got.notModified {
		etag, lastMod = fd.ETag, fd.LastModified // a 304 need not repeat them
	}
	nowMs := now.UnixMilli()
	if _, err := tx.ExecContext(ctx, `UPDATE feeds SET etag = ?, last_modified = ?, last_fetched_at = ?,
		last_success_at = ?, last_error = '', consecutive_failures = 0, next_fetch_at = ?,
		name = CASE WHEN name = '' THEN ? ELSE name END WHERE id = ?`,
		etag, lastMod, nowMs, nowMs, nowMs, got.doc.Title, fd.ID); err != nil {
		return 0, false, fmt.Errorf("feeds: store feed %d: %w", fd.ID, err)
	}
	if got.movedTo != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE feeds SET url = ? WHERE id = ?
			AND NOT EXISTS (SELECT 1 FROM feeds WHERE url = ?)`, got.movedTo, fd.ID, got.movedTo); err != nil {
			return 0, false, fmt.Errorf("feeds: store feed %d: %w", fd.ID, err)
		}
	}
	return added, first, tx.Commit()
}

func insertItems(ctx context.Context, tx *sql.Tx, feedID int64, items []entry, now time.Time, seenOnAdd bool) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO feed_items (feed_id, identity, url, title,
		summary_html, author, published_at, first_seen_at, seen_on_add) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (feed_id, identity) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("feeds: store items of feed %d: %w", feedID, err)
	}
	defer stmt.Close()
	added := 0
	for _, e := range items {
		res, err := stmt.ExecContext(ctx, feedID, e.Identity, e.URL, e.Title, e.SummaryHTML, e.Author,
			e.PublishedAt.UnixMilli(), now.UnixMilli(), seenOnAdd)
		if err != nil {
			return 0, fmt.Errorf("feeds: store items of feed %d: %w", feedID, err)
		}
		if n, err := res.RowsAffected(); err == nil {
			added += int(n)
		}
	}
	return added, nil
}
