package links

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const selectLinks = `SELECT l.id, l.url, l.title, l.note, l.section, l.position, l.created_at,
	coalesce(l.issue_id, 0), coalesce(i.number, 0)
	FROM links l LEFT JOIN issues i ON i.id = l.issue_id `

// Queued returns the links waiting for an issue, in the editors' order.
func (s *Store) Queued(ctx context.Context) ([]Link, error) {
	return s.query(ctx, selectLinks+`WHERE l.issue_id IS NULL ORDER BY l.position, l.id`)
}

// All returns every link: the queue in order, then sent links, newest issue first.
func (s *Store) All(ctx context.Context) ([]Link, error) {
	return s.query(ctx, selectLinks+`ORDER BY l.issue_id IS NOT NULL, i.number DESC, l.position, l.id`)
}

// InIssue returns the links an issue carried, in their order.
func (s *Store) InIssue(ctx context.Context, issueID int64) ([]Link, error) {
	return s.query(ctx, selectLinks+`WHERE l.issue_id = ? ORDER BY l.position, l.id`, issueID)
}

// Get returns one link, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Link, error) {
	ls, err := s.query(ctx, selectLinks+`WHERE l.id = ?`, id)
	if err != nil {
		return Link{}, err
	}
	if len(ls) == 0 {
		return Link{}, fmt.Errorf("link %d: %w", id, ErrNotFound)
	}
	return ls[0], nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]Link, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("links: list: %w", err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var l Link
		var created int64
		if err := rows.Scan(&l.ID, &l.URL, &l.Title, &l.Note, &l.Section, &l.Position, &created,
			&l.IssueID, &l.IssueNumber); err != nil {
			return nil, fmt.Errorf("links: list: %w", err)
		}
		l.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("links: list: %w", err)
	}
	return out, nil
}

// EditParams name the fields to change; nil leaves a field as it is.
type EditParams struct {
	Title, Note, Section *string
}

// Edit changes a queued link. A sent link is ErrSent; an unknown one ErrNotFound.
func (s *Store) Edit(ctx context.Context, id int64, p EditParams) (Link, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Link{}, fmt.Errorf("links: edit %d: %w", id, err)
	}
	defer tx.Rollback()
	if err := queuedOnly(ctx, tx, id); err != nil {
		return Link{}, err
	}
	set := func(col string, v *string, max int) error {
		if v == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE links SET `+col+` = ? WHERE id = ?`, clean(*v, max), id)
		return err
	}
	if err := errors.Join(set("title", p.Title, maxTitle), set("note", p.Note, maxNote),
		set("section", p.Section, maxSection)); err != nil {
		return Link{}, fmt.Errorf("links: edit %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return Link{}, fmt.Errorf("links: edit %d: %w", id, err)
	}
	return s.Get(ctx, id)
}

// Remove deletes a queued link. A sent link is ErrSent: it stays with its issue.
func (s *Store) Remove(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("links: remove %d: %w", id, err)
	}
	defer tx.Rollback()
	if err := queuedOnly(ctx, tx, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE id = ?`, id); err != nil {
		return fmt.Errorf("links: remove %d: %w", id, err)
	}
	return tx.Commit()
}

// Move puts queued link id just before queued link beforeID and renumbers the queue
// 1, 2, 3... in one transaction.
func (s *Store) Move(ctx context.Context, id, beforeID int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("links: move %d: %w", id, err)
	}
	defer tx.Rollback()
	for _, x := range []int64{id, beforeID} {
		if err := queuedOnly(ctx, tx, x); err != nil {
			return err
		}
	}
	if id == beforeID {
		return nil
	}
	order, err := queuedIDs(ctx, tx)
	if err != nil {
		return err
	}
	moved := make([]int64, 0, len(order))
	for _, x := range order {
		if x == beforeID {
			moved = append(moved, id)
		}
		if x != id {
			moved = append(moved, x)
		}
	}
	for i, x := range moved {
		if _, err := tx.ExecContext(ctx, `UPDATE links SET position = ? WHERE id = ?`, i+1, x); err != nil {
			return fmt.Errorf("links: move %d: %w", id, err)
		}
	}
	return tx.Commit()
}

func queuedIDs(ctx context.Context, tx *sql.Tx) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM links WHERE issue_id IS NULL ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("links: queue order: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("links: queue order: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// queuedOnly returns ErrNotFound or ErrSent unless link id is queued.
func queuedOnly(ctx context.Context, tx *sql.Tx, id int64) error {
	var issue sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT issue_id FROM links WHERE id = ?`, id).Scan(&issue)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("link %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("links: link %d: %w", id, err)
	}
	if issue.Valid {
		return fmt.Errorf("link %d: %w", id, ErrSent)
	}
	return nil
}

// MarkSent attaches queued links to an issue inside the caller's transaction (tx, not
// the Store's own database handle, is used): the
// sender calls it when the issue carrying them starts sending, so they leave the
// queue. Every id must be a queued link; otherwise nothing is changed by this call
// and the error wraps ErrNotFound or ErrSent (the caller rolls back).
func (s *Store) MarkSent(ctx context.Context, tx *sql.Tx, ids []int64, issueID int64) error {
	for _, id := range ids {
		if err := queuedOnly(ctx, tx, id); err != nil {
			return fmt.Errorf("links: mark sent in issue %d: %w", issueID, err)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, issueID)
	for _, id := range ids {
		args = append(args, id)
	}
	q := `UPDATE links SET issue_id = ? WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("links: mark sent in issue %d: %w", issueID, err)
	}
	return nil
}
