package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Summary is an issue that started sending, with its delivery counts.
type Summary struct {
	ID            int64     `json:"id"`
	Number        int       `json:"number"`
	Status        string    `json:"status"` // sending or sent
	Subject       string    `json:"subject"`
	SendStartedAt time.Time `json:"send_started_at"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	Items         int       `json:"items"`
	Tally
}

// Tally counts what happened to an issue's copies. The delivery counts come from
// the ledger; bounces, unsubscribes and complaints are subscriber events that name
// the issue.
type Tally struct {
	Recipients   int `json:"recipients"` // deliveries made when sending started
	Sent         int `json:"sent"`
	Failed       int `json:"failed"`   // refused for good (5xx) or too many retries
	Retrying     int `json:"retrying"` // a 4xx reply; will be tried again
	Pending      int `json:"pending"`
	Skipped      int `json:"skipped"` // the subscriber left before their copy went
	Bounced      int `json:"bounced"` // subscribers marked bounced by this issue
	Unsubscribed int `json:"unsubscribed"`
	Complained   int `json:"complained"`
}

// summarySelect reads issues with their tallies; append a WHERE on issues i.
const summarySelect = `SELECT i.id, i.number, i.status, i.subject, coalesce(i.send_started_at, 0), i.sent_at,
	(SELECT count(*) FROM issue_items WHERE issue_id = i.id),
	coalesce(d.total, 0), coalesce(d.sent, 0), coalesce(d.failed, 0), coalesce(d.retry, 0),
	coalesce(d.pending, 0), coalesce(d.skipped, 0),
	coalesce(e.bounced, 0), coalesce(e.unsubscribed, 0), coalesce(e.complained, 0)
	FROM issues i
	LEFT JOIN (SELECT issue_id, count(*) AS total,
		count(*) FILTER (WHERE status = 'sent') AS sent,
		count(*) FILTER (WHERE status = 'failed') AS failed,
		count(*) FILTER (WHERE status = 'retry') AS retry,
		count(*) FILTER (WHERE status = 'pending') AS pending,
		count(*) FILTER (WHERE status = 'skipped') AS skipped
		FROM deliveries GROUP BY issue_id) d ON d.issue_id = i.id
	LEFT JOIN (SELECT issue_id,
		count(*) FILTER (WHERE status = 'bounced') AS bounced,
		count(*) FILTER (WHERE status = 'unsubscribed') AS unsubscribed,
		count(*) FILTER (WHERE status = 'complained') AS complained
		FROM subscriber_events WHERE issue_id IS NOT NULL GROUP BY issue_id) e ON e.issue_id = i.id
	`

// List returns the issues that started sending, newest first, with their counts.
func (s *Issues) List(ctx context.Context) ([]Summary, error) {
	rows, err := s.db.QueryContext(ctx, summarySelect+`WHERE i.status IN ('sending', 'sent') ORDER BY i.number DESC`)
	if err != nil {
		return nil, fmt.Errorf("digest: list issues: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		sum, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("digest: list issues: %w", err)
		}
		out = append(out, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("digest: list issues: %w", err)
	}
	return out, nil
}

// Summarize returns the counts of the issue with the given ID, or ErrNotFound.
func (s *Issues) Summarize(ctx context.Context, id int64) (Summary, error) {
	sum, err := scanSummary(s.db.QueryRowContext(ctx, summarySelect+`WHERE i.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Summary{}, ErrNotFound
	}
	if err != nil {
		return Summary{}, fmt.Errorf("digest: summarize issue %d: %w", id, err)
	}
	return sum, nil
}

func scanSummary(row interface{ Scan(...any) error }) (Summary, error) {
	var sum Summary
	var started int64
	var sent sql.NullInt64
	t := &sum.Tally
	err := row.Scan(&sum.ID, &sum.Number, &sum.Status, &sum.Subject, &started, &sent, &sum.Items,
		&t.Recipients, &t.Sent, &t.Failed, &t.Retrying, &t.Pending, &t.Skipped, &t.Bounced, &t.Unsubscribed, &t.Complained)
	if err != nil {
		return Summary{}, err
	}
	if started != 0 {
		sum.SendStartedAt = msTime(started)
	}
	sum.SentAt = nullMsTime(sent)
	return sum, nil
}
