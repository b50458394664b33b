package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The daemon answers each slot of the send schedule with at most one issue. These
// methods read and record which issue answers which slot; deciding whether two slots
// are the same week is the scheduler's business.

// LastScheduled returns the number of the latest issue made for a schedule slot that
// is sending, sent or cancelled, and that slot; ErrNotFound if there is none.
func (s *Issues) LastScheduled(ctx context.Context) (number int, slot time.Time, err error) {
	var at int64
	err = s.db.QueryRowContext(ctx, `SELECT number, scheduled_for FROM issues
		WHERE scheduled_for IS NOT NULL AND status IN ('sending', 'sent', 'cancelled')
		ORDER BY scheduled_for DESC LIMIT 1`).Scan(&number, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, ErrNotFound
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("digest: last scheduled issue: %w", err)
	}
	return number, time.UnixMilli(at).UTC(), nil
}

// StartedSince returns the number of the first issue that started sending at or
// after t, scheduled or sent by hand; ErrNotFound if there is none.
func (s *Issues) StartedSince(ctx context.Context, t time.Time) (int, error) {
	var number int
	err := s.db.QueryRowContext(ctx, `SELECT number FROM issues
		WHERE status IN ('sending', 'sent') AND send_started_at >= ? ORDER BY send_started_at LIMIT 1`,
		t.UnixMilli()).Scan(&number)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("digest: issues started since %v: %w", t, err)
	}
	return number, nil
}

// Schedule records on the draft issueID which schedule slot it answers, before it
// is sent; ErrNotDraft if issueID is not the draft.
func (s *Issues) Schedule(ctx context.Context, issueID int64, slot time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE issues SET scheduled_for = ? WHERE id = ? AND status = 'draft'`,
		slot.UnixMilli(), issueID)
	if err != nil {
		return fmt.Errorf("digest: schedule issue %d: %w", issueID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("digest: schedule issue %d: %w", issueID, ErrNotDraft)
	}
	return nil
}
