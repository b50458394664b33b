package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Store keeps subscribers in the SQLite database opened by store.Open. Every method
// that changes a status does it in one short transaction that also records the change
// in subscriber_events. Reads run without a transaction: with _txlock=immediate every
// BEGIN takes the write lock.
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

const subscriberColumns = `id, email, name, status, created_at, status_changed_at, status_source, hard_bounces, unsubscribed_issue_id`

type scanner interface{ Scan(dest ...any) error }

func scanSubscriber(row scanner) (Subscriber, error) {
	var (
		sub              Subscriber
		created, changed int64
		issue            sql.NullInt64
	)
	err := row.Scan(&sub.ID, &sub.Email, &sub.Name, &sub.Status, &created, &changed, &sub.StatusSource, &sub.HardBounces, &issue)
	if err != nil {
		return Subscriber{}, err
	}
	sub.CreatedAt = time.UnixMilli(created).UTC()
	sub.StatusChangedAt = time.UnixMilli(changed).UTC()
	sub.UnsubscribedIssueID = issue.Int64
	return sub, nil
}

// queryer is what *sql.DB and *sql.Tx share, so lookups run inside or outside a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getByID(ctx context.Context, q queryer, id int64) (Subscriber, error) {
	sub, err := scanSubscriber(q.QueryRowContext(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Subscriber{}, ErrNotFound
	}
	if err != nil {
		return Subscriber{}, fmt.Errorf("subscribers: get %d: %w", id, err)
	}
	return sub, nil
}

func getByEmail(ctx context.Context, q queryer, email string) (Subscriber, error) {
	sub, err := scanSubscriber(q.QueryRowContext(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return Subscriber{}, ErrNotFound
	}
	if err != nil {
		return Subscriber{}, fmt.Errorf("subscribers: get by address: %w", err)
	}
	return sub, nil
}

// Get returns the subscriber with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Subscriber, error) {
	return getByID(ctx, s.db, id)
}

// ByEmail returns the subscriber with the address email in any letter case, or ErrNotFound.
func (s *Store) ByEmail(ctx context.Context, email string) (Subscriber, error) {
	return getByEmail(ctx, s.db, strings.TrimSpace(email))
}

// List returns the subscribers with status, or all of them when status is "", in the
// order they were added.
func (s *Store) List(ctx context.Context, status Status) ([]Subscriber, error) {
	q := `SELECT ` + subscriberColumns + ` FROM subscribers ORDER BY id`
	var args []any
	if status != "" {
		if _, err := ParseStatus(string(status)); err != nil {
			return nil, err
		}
		q = `SELECT ` + subscriberColumns + ` FROM subscribers WHERE status = ? ORDER BY id`
		args = append(args, status)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("subscribers: list: %w", err)
	}
	defer rows.Close()
	subs := []Subscriber{}
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			return nil, fmt.Errorf("subscribers: list: %w", err)
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subscribers: list: %w", err)
	}
	return subs, nil
}

// Stats returns how many subscribers have each status; every status is present.
func (s *Store) Stats(ctx context.Context) (map[Status]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, count(*) FROM subscribers GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("subscribers: stats: %w", err)
	}
	defer rows.Close()
	stats := make(map[Status]int)
	for _, st := range Statuses() {
		stats[st] = 0
	}
	for rows.Next() {
		var (
			st Status
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("subscribers: stats: %w", err)
		}
		stats[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subscribers: stats: %w", err)
	}
	return stats, nil
}

// Add puts a new, active subscriber on the list, as an editor or an import does (no
// confirmation email). It returns ErrExists if the address is there in any letter case,
// whatever that subscriber's status.
func (s *Store) Add(ctx context.Context, email, name string, source Source) (Subscriber, error) {
	email, name, err := validate(email, name)
	if err != nil {
		return Subscriber{}, err
	}
	if !source.valid() {
		return Subscriber{}, invalidf("unknown source %q", source)
	}
	var sub Subscriber
	err = s.inTx(ctx, "add", func(tx *sql.Tx) error {
		id, err := insert(ctx, tx, email, name, StatusActive, source, s.now())
		if err != nil {
			return err
		}
		sub, err = getByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Subscriber{}, err
	}
	return sub, nil
}

// insertSQL adds a subscriber unless the address is taken (RowsAffected is then 0).
const insertSQL = `INSERT INTO subscribers (email, name, status, created_at, status_changed_at, status_source)
	VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`

// eventSQL records a status change: subscriber, status, source, issue (NULL for none), time.
const eventSQL = `INSERT INTO subscriber_events (subscriber_id, status, source, issue_id, at) VALUES (?, ?, ?, ?, ?)`

// insert adds a subscriber and records their first status. It returns ErrExists when
// the address is taken.
func insert(ctx context.Context, tx *sql.Tx, email, name string, st Status, src Source, at time.Time) (int64, error) {
	ms := at.UnixMilli()
	res, err := tx.ExecContext(ctx, insertSQL, email, name, st, ms, ms, src)
	if err != nil {
		return 0, fmt.Errorf("subscribers: insert: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("subscribers: insert: %w", err)
	}
	if n == 0 {
		return 0, ErrExists
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("subscribers: insert: %w", err)
	}
	return id, recordEvent(ctx, tx, id, st, src, 0, ms)
}

// setStatus changes a subscriber's status and records the change; tx must hold the
// row already checked. An unsubscribe also notes the issue whose link carried it.
func setStatus(ctx context.Context, tx *sql.Tx, id int64, st Status, src Source, issueID int64, at time.Time) error {
	ms := at.UnixMilli()
	q := `UPDATE subscribers SET status = ?, status_changed_at = ?, status_source = ? WHERE id = ?`
	args := []any{st, ms, src, id}
	if st == StatusUnsubscribed {
		q = `UPDATE subscribers SET status = ?, status_changed_at = ?, status_source = ?, unsubscribed_issue_id = ? WHERE id = ?`
		args = []any{st, ms, src, nullID(issueID), id}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("subscribers: set status of %d to %s: %w", id, st, err)
	}
	return recordEvent(ctx, tx, id, st, src, issueID, ms)
}

func recordEvent(ctx context.Context, tx *sql.Tx, id int64, st Status, src Source, issueID, ms int64) error {
	if _, err := tx.ExecContext(ctx, eventSQL, id, st, src, nullID(issueID), ms); err != nil {
		return fmt.Errorf("subscribers: record event for %d: %w", id, err)
	}
	return nil
}

// nullID stores the "no issue" 0 as NULL, which the foreign key needs.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func validate(email, name string) (string, string, error) {
	email, err := ValidateEmail(email)
	if err != nil {
		return "", "", err
	}
	name, err = ValidateName(name)
	if err != nil {
		return "", "", err
	}
	return email, name, nil
}
