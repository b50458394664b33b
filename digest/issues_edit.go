package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// EditParams name what to change in the draft; nil leaves a field as it is.
type EditParams struct {
	// Subject is the subject line; "" goes back to the default subject.
	Subject *string
	// Intro is the editor's introduction, plain text; blank lines separate
	// paragraphs. "" removes it.
	Intro *string
}

// Edit changes the draft's subject or intro and returns the draft. A subject with a
// line break, or one or the other too long, is ErrInvalid.
func (s *Issues) Edit(ctx context.Context, p EditParams) (Issue, error) {
	if p.Subject != nil {
		subj := strings.TrimSpace(*p.Subject)
		if strings.ContainsAny(subj, "\r\n") {
			return Issue{}, fmt.Errorf("%w: the subject must be one line", ErrInvalid)
		}
		if n := utf8.RuneCountInString(subj); n > maxSubject {
			return Issue{}, fmt.Errorf("%w: the subject is %d characters, at most %d fit", ErrInvalid, n, maxSubject)
		}
		if !utf8.ValidString(subj) || strings.IndexFunc(subj, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return Issue{}, fmt.Errorf("%w: the subject holds control characters", ErrInvalid)
		}
		p.Subject = &subj
	}
	if p.Intro != nil {
		intro := strings.TrimSpace(strings.ReplaceAll(*p.Intro, "\r\n", "\n"))
		if n := utf8.RuneCountInString(intro); n > maxIntro {
			return Issue{}, fmt.Errorf("%w: the intro is %d characters, at most %d fit", ErrInvalid, n, maxIntro)
		}
		p.Intro = &intro
	}
	return s.inDraft(ctx, func(tx *sql.Tx, draft Issue) error {
		if p.Intro != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE issues SET intro = ? WHERE id = ?`, *p.Intro, draft.ID); err != nil {
				return fmt.Errorf("digest: edit intro: %w", err)
			}
		}
		if p.Subject == nil {
			return nil
		}
		if *p.Subject == "" {
			if _, err := tx.ExecContext(ctx, `UPDATE issues SET subject_set = 0 WHERE id = ?`, draft.ID); err != nil {
				return fmt.Errorf("digest: edit subject: %w", err)
			}
			return setDefaultSubject(ctx, tx, draft.ID, s.cfg.ListName, draft.Number, draft.Items)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE issues SET subject = ?, subject_set = 1 WHERE id = ?`, *p.Subject, draft.ID); err != nil {
			return fmt.Errorf("digest: edit subject: %w", err)
		}
		return nil
	})
}

// DropItems removes the items at the given positions from the draft and returns
// the draft. A rebuild will not bring them back. An unknown position is
// ErrNotFound, and then nothing is dropped.
func (s *Issues) DropItems(ctx context.Context, positions ...int) (Issue, error) {
	return s.inDraft(ctx, func(tx *sql.Tx, draft Issue) error {
		byPos := make(map[int]Item, len(draft.Items))
		for _, it := range draft.Items {
			byPos[it.Position] = it
		}
		for _, pos := range positions {
			it, ok := byPos[pos]
			if !ok {
				return fmt.Errorf("%w: the draft has no item %d", ErrNotFound, pos)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM issue_items WHERE id = ?`, it.ID); err != nil {
				return fmt.Errorf("digest: drop item %d: %w", pos, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO issue_drops (issue_id, url) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, draft.ID, it.URL); err != nil {
				return fmt.Errorf("digest: drop item %d: %w", pos, err)
			}
			delete(byPos, pos)
		}
		var left []Item
		for _, it := range draft.Items {
			if _, ok := byPos[it.Position]; ok {
				left = append(left, it)
			}
		}
		return setDefaultSubject(ctx, tx, draft.ID, s.cfg.ListName, draft.Number, left)
	})
}

// inDraft runs change on the draft in one transaction and returns the draft as it
// is afterwards.
func (s *Issues) inDraft(ctx context.Context, change func(*sql.Tx, Issue) error) (Issue, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Issue{}, fmt.Errorf("digest: change draft: %w", err)
	}
	defer tx.Rollback()
	draft, err := issueWhere(ctx, tx, `WHERE status = 'draft'`)
	if errors.Is(err, ErrNotFound) {
		return Issue{}, ErrNoDraft
	}
	if err != nil {
		return Issue{}, err
	}
	if err := change(tx, draft); err != nil {
		return Issue{}, err
	}
	if draft, err = issueWhere(ctx, tx, `WHERE id = ?`, draft.ID); err != nil {
		return Issue{}, err
	}
	if err := tx.Commit(); err != nil {
		return Issue{}, fmt.Errorf("digest: change draft: %w", err)
	}
	return draft, nil
}

// Cancel cancels an issue: the draft, or, if sending is true, the issue being sent.
// Cancelling a send stops it: deliveries not yet made are skipped and the issue's
// links go back to the queue (unless the same URL was queued again meanwhile). A
// cancelled issue's number is free for the next one. It returns the cancelled
// issue; ErrNoDraft if there is nothing to cancel.
func (s *Issues) Cancel(ctx context.Context, sending bool) (Issue, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Issue{}, fmt.Errorf("digest: cancel: %w", err)
	}
	defer tx.Rollback()
	status := StatusDraft
	if sending {
		status = StatusSending
	}
	iss, err := issueWhere(ctx, tx, `WHERE status = ?`, status)
	if errors.Is(err, ErrNotFound) {
		if sending {
			return Issue{}, fmt.Errorf("%w: no issue is sending", ErrNotFound)
		}
		return Issue{}, ErrNoDraft
	}
	if err != nil {
		return Issue{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE issues SET status = 'cancelled' WHERE id = ?`, iss.ID); err != nil {
		return Issue{}, fmt.Errorf("digest: cancel issue #%d: %w", iss.Number, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'skipped', updated_at = ?
		WHERE issue_id = ? AND status IN ('pending', 'retry')`, s.now().UnixMilli(), iss.ID); err != nil {
		return Issue{}, fmt.Errorf("digest: cancel issue #%d: skip deliveries: %w", iss.Number, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE links SET issue_id = NULL WHERE issue_id = ?
		AND url NOT IN (SELECT url FROM links WHERE issue_id IS NULL)`, iss.ID); err != nil {
		return Issue{}, fmt.Errorf("digest: cancel issue #%d: requeue links: %w", iss.Number, err)
	}
	if err := tx.Commit(); err != nil {
		return Issue{}, fmt.Errorf("digest: cancel issue #%d: %w", iss.Number, err)
	}
	iss.Status = StatusCancelled
	return iss, nil
}
