package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/templates"
	"github.com/microcosm-cc/bluemonday"
)

// Issues is what the archive reads of the issue store; *digest.Issues satisfies it.
type Issues interface {
	List(ctx context.Context) ([]digest.Summary, error)
	ByNumber(ctx context.Context, number int) (digest.Issue, error)
}

// IssueArchive is the Archive over the digest's issues. It shows sent issues only,
// turned into template data exactly as the email was (digest.Issue.Template), so the
// archive page says what the email said.
type IssueArchive struct {
	issues Issues
	policy *bluemonday.Policy
}

// NewArchive returns the Archive over issues.
func NewArchive(issues Issues) *IssueArchive {
	// Excerpts are escaped text by the time they reach an issue; sanitising again on
	// the way out costs little and keeps the site's origin safe from any older or
	// imported row, where a script would matter more than in an email.
	return &IssueArchive{issues: issues, policy: bluemonday.UGCPolicy()}
}

// SentIssues returns the most recent sent issues, newest first, at most limit.
func (a *IssueArchive) SentIssues(ctx context.Context, limit int) ([]ArchiveEntry, error) {
	all, err := a.issues.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: archive: %w", err)
	}
	var out []ArchiveEntry
	for _, s := range all {
		if s.Status != digest.StatusSent {
			continue
		}
		out = append(out, ArchiveEntry{Number: s.Number, Subject: s.Subject, SentAt: s.SendStartedAt})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// SentIssue returns the sent issue numbered number, or ErrNotFound.
func (a *IssueArchive) SentIssue(ctx context.Context, number int) (templates.Issue, error) {
	iss, err := a.issues.ByNumber(ctx, number)
	if errors.Is(err, digest.ErrNotFound) || (err == nil && iss.Status != digest.StatusSent) {
		return templates.Issue{}, ErrNotFound
	}
	if err != nil {
		return templates.Issue{}, fmt.Errorf("web: archive: issue %d: %w", number, err)
	}
	t := iss.Template(digest.Site{}) // the server fills in the URLs, names and time zone
	for i := range t.Sections {
		for j := range t.Sections[i].Items {
			it := &t.Sections[i].Items[j]
			it.Excerpt = template.HTML(a.policy.Sanitize(string(it.Excerpt)))
		}
	}
	return t, nil
}
