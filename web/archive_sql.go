package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"time"

	"github.com/backendweekly/weekly/templates"
	"github.com/microcosm-cc/bluemonday"
)

// StoreArchive is the Archive over the database's issues and issue_items tables. It
// only reads, and only issues whose status is sent.
type StoreArchive struct {
	db     *sql.DB
	policy *bluemonday.Policy
}

// NewArchive returns the Archive over db.
func NewArchive(db *sql.DB) *StoreArchive {
	// Excerpts were sanitised when their feed was fetched; sanitising again on the
	// way out costs little and keeps a page safe from any older or imported row.
	return &StoreArchive{db: db, policy: bluemonday.UGCPolicy()}
}

// SentIssues returns the most recent sent issues, newest first, at most limit.
func (a *StoreArchive) SentIssues(ctx context.Context, limit int) ([]ArchiveEntry, error) {
	rows, err := a.db.QueryContext(ctx, `
		SELECT number, subject, intro, sent_at FROM issues
		WHERE status = 'sent' ORDER BY number DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("web: list sent issues: %w", err)
	}
	defer rows.Close()
	var list []ArchiveEntry
	for rows.Next() {
		var e ArchiveEntry
		var sent sql.NullInt64
		if err := rows.Scan(&e.Number, &e.Subject, &e.Intro, &sent); err != nil {
			return nil, fmt.Errorf("web: list sent issues: %w", err)
		}
		e.SentAt = time.UnixMilli(sent.Int64).UTC()
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("web: list sent issues: %w", err)
	}
	return list, nil
}

// SentIssue returns the sent issue numbered number, or ErrNotFound.
func (a *StoreArchive) SentIssue(ctx context.Context, number int) (templates.Issue, error) {
	var is templates.Issue
	var id int64
	var sent sql.NullInt64
	err := a.db.QueryRowContext(ctx, `
		SELECT id, number, subject, intro, sent_at FROM issues
		WHERE status = 'sent' AND number = ?`, number).Scan(&id, &is.Number, &is.Subject, &is.Intro, &sent)
	if errors.Is(err, sql.ErrNoRows) {
		return templates.Issue{}, ErrNotFound
	}
	if err != nil {
		return templates.Issue{}, fmt.Errorf("web: issue %d: %w", number, err)
	}
	is.Date = time.UnixMilli(sent.Int64).UTC()
	is.Sections, err = a.sections(ctx, id)
	if err != nil {
		return templates.Issue{}, fmt.Errorf("web: issue %d: %w", number, err)
	}
	return is, nil
}

// sections returns the issue's items in the editor's order, grouped under their
// section headings in the order the headings first appear.
func (a *StoreArchive) sections(ctx context.Context, issueID int64) ([]templates.Section, error) {
	rows, err := a.db.QueryContext(ctx, `
		SELECT kind, section, title, url, note, feed_name, excerpt_html FROM issue_items
		WHERE issue_id = ? ORDER BY position`, issueID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var secs []templates.Section
	at := map[string]int{}
	for rows.Next() {
		var it templates.Item
		var section, excerpt string
		if err := rows.Scan(&it.Kind, &section, &it.Title, &it.URL, &it.Note, &it.FeedName, &excerpt); err != nil {
			return nil, err
		}
		it.Excerpt = template.HTML(a.policy.Sanitize(excerpt))
		i, ok := at[section]
		if !ok {
			i = len(secs)
			at[section] = i
			secs = append(secs, templates.Section{Name: section})
		}
		secs[i].Items = append(secs[i].Items, it)
	}
	return secs, rows.Err()
}
