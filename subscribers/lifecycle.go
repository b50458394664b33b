package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// inTx runs fn in one transaction and commits it if fn succeeds.
//
// It turns on secure_delete for the connection first: an UPDATE that moves a row
// leaves the old copy, with the address and name, in the page's free space unless
// that is zeroed, and Remove could then not truly erase anyone.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("subscribers: %s: %w", op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return fmt.Errorf("subscribers: %s: %w", op, err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("subscribers: %s: %w", op, err)
	}
	return nil
}

// Unsubscribe stops all mail to subscriber id, recording source and the issue whose
// link was used (0 for none). It is safe to repeat and only ever sets the status to
// unsubscribed: an active or pending subscriber becomes unsubscribed (changed is true);
// one who already left, bounced or complained receives nothing already and is left as
// they are (changed is false). Deliveries of an issue still sending are skipped.
func (s *Store) Unsubscribe(ctx context.Context, id int64, source Source, issueID int64) (changed bool, err error) {
	if !source.valid() {
		return false, invalidf("unknown source %q", source)
	}
	err = s.inTx(ctx, "unsubscribe", func(tx *sql.Tx) error {
		sub, err := getByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if sub.Status != StatusActive && sub.Status != StatusPending {
			return nil
		}
		changed = true
		return setStatus(ctx, tx, id, StatusUnsubscribed, source, issueID, s.now())
	})
	return changed, err
}

// Complain marks subscriber id as having reported issueID (0 for unknown) as spam, so
// they receive nothing more. It is safe to repeat.
func (s *Store) Complain(ctx context.Context, id, issueID int64) (changed bool, err error) {
	err = s.inTx(ctx, "complain", func(tx *sql.Tx) error {
		sub, err := getByID(ctx, tx, id)
		if err != nil || sub.Status == StatusComplained {
			return err
		}
		changed = true
		return setStatus(ctx, tx, id, StatusComplained, SourceComplaint, issueID, s.now())
	})
	return changed, err
}

// Remove erases the subscriber with address email (in any letter case): the right to
// be forgotten. Their status history stays, with no link to them, so the counts per
// issue stay true; a schema trigger skips any delivery of theirs not yet sent.
//
// The row, and any older copy of it left by updates, is overwritten with zeros
// (secure_delete), so once the write-ahead log has been checkpointed, as SQLite does
// on its own, the address is gone from the database file. Backups made before keep it.
func (s *Store) Remove(ctx context.Context, email string) error {
	var n int64
	err := s.inTx(ctx, "remove", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE email = ?`, strings.TrimSpace(email))
		if err != nil {
			return fmt.Errorf("subscribers: remove: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SignUp handles the web form. A new address is added as pending; a pending one gets
// its confirmation again; someone who unsubscribed, bounced or complained becomes
// pending and must confirm again. In those cases sendConfirmation is true and a name
// given replaces the stored one. An active subscriber is returned unchanged, with
// sendConfirmation false.
func (s *Store) SignUp(ctx context.Context, email, name string) (sub Subscriber, sendConfirmation bool, err error) {
	email, name, err = validate(email, name)
	if err != nil {
		return Subscriber{}, false, err
	}
	err = s.inTx(ctx, "sign up", func(tx *sql.Tx) error {
		cur, err := getByEmail(ctx, tx, email)
		if errors.Is(err, ErrNotFound) {
			id, err := insert(ctx, tx, email, name, StatusPending, SourceSignup, s.now())
			if err != nil {
				return err
			}
			sendConfirmation = true
			sub, err = getByID(ctx, tx, id)
			return err
		}
		if err != nil || cur.Status == StatusActive {
			sub = cur
			return err
		}
		sendConfirmation = true
		if cur.Status != StatusPending {
			if err := setStatus(ctx, tx, cur.ID, StatusPending, SourceSignup, 0, s.now()); err != nil {
				return err
			}
		}
		if name != "" && name != cur.Name {
			if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET name = ? WHERE id = ?`, name, cur.ID); err != nil {
				return fmt.Errorf("subscribers: sign up %d: %w", cur.ID, err)
			}
		}
		sub, err = getByID(ctx, tx, cur.ID)
		return err
	})
	if err != nil {
		return Subscriber{}, false, err
	}
	return sub, sendConfirmation, nil
}

// Confirm activates pending subscriber id after they followed the double opt-in link,
// and clears their bounce count: the confirmation reached them. Confirming an active
// subscriber changes nothing, and so does an old link used by someone who has since
// left, bounced or complained.
func (s *Store) Confirm(ctx context.Context, id int64) (changed bool, err error) {
	err = s.inTx(ctx, "confirm", func(tx *sql.Tx) error {
		sub, err := getByID(ctx, tx, id)
		if err != nil || sub.Status != StatusPending {
			return err
		}
		changed = true
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET hard_bounces = 0 WHERE id = ?`, id); err != nil {
			return fmt.Errorf("subscribers: confirm %d: %w", id, err)
		}
		return setStatus(ctx, tx, id, StatusActive, SourceConfirm, 0, s.now())
	})
	return changed, err
}

// HardBounce counts a permanent delivery failure of issueID (0 for none) to subscriber
// id. When the count reaches threshold, an active or pending subscriber becomes
// bounced and bounced is true. Someone who already left keeps their status.
func (s *Store) HardBounce(ctx context.Context, id, issueID int64, threshold int) (bounced bool, err error) {
	if threshold < 1 {
		return false, invalidf("bounce threshold %d is below 1", threshold)
	}
	err = s.inTx(ctx, "hard bounce", func(tx *sql.Tx) error {
		sub, err := getByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET hard_bounces = hard_bounces + 1 WHERE id = ?`, id); err != nil {
			return fmt.Errorf("subscribers: hard bounce %d: %w", id, err)
		}
		if sub.HardBounces+1 < threshold || (sub.Status != StatusActive && sub.Status != StatusPending) {
			return nil
		}
		bounced = true
		return setStatus(ctx, tx, id, StatusBounced, SourceBounce, issueID, s.now())
	})
	return bounced, err
}
