package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backendweekly/weekly/templates"
	"github.com/gorilla/feeds"
)

// ErrNotFound is returned by an Archive for an issue that does not exist or was not
// sent; the server answers it with the not-found page.
var ErrNotFound = errors.New("web: not found")

// Archive reads sent issues. Sent issues only: a draft is never public.
type Archive interface {
	// SentIssues returns the most recent sent issues, newest first, at most limit.
	SentIssues(ctx context.Context, limit int) ([]ArchiveEntry, error)
	// SentIssue returns the sent issue with this number, or ErrNotFound. The server
	// sets its Date (in Config.Location), ArchiveURL, HomeURL and ListName. It holds
	// the content of the email and nothing personal: no name, no unsubscribe link.
	SentIssue(ctx context.Context, number int) (templates.Issue, error)
}

// ArchiveEntry is one sent issue in the archive index and the feed.
type ArchiveEntry struct {
	Number  int
	Subject string
	SentAt  time.Time // when sending started: the date the email carries
}

// archiveLimit bounds the archive list; feedLimit the Atom feed.
const (
	archiveLimit = 1000
	feedLimit    = 20
)

// archiveIndex answers GET /archive.
func (s *Server) archiveIndex(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Archive.SentIssues(r.Context(), archiveLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := templates.ArchivePage{Site: s.site(), FeedURL: s.url("/feed.atom"), SignupURL: s.url("/subscribe")}
	for _, e := range list {
		p.Issues = append(p.Issues, templates.ArchiveEntry{
			Number:  e.Number,
			Date:    e.SentAt.In(s.cfg.Location),
			Subject: e.Subject,
			URL:     s.issueURL(e.Number),
		})
	}
	s.render(w, r, http.StatusOK, templates.PageArchive, p)
}

// archiveIssue answers GET /archive/{number}.
func (s *Server) archiveIssue(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 || strconv.Itoa(n) != r.PathValue("number") {
		s.fail(w, r, ErrNotFound)
		return
	}
	is, err := s.cfg.Archive.SentIssue(r.Context(), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	is.Date = is.Date.In(s.cfg.Location)
	is.ArchiveURL = s.issueURL(n)
	is.PastIssuesURL = s.url("/archive")
	is.HomeURL = s.base
	is.ListName = s.cfg.Name
	s.render(w, r, http.StatusOK, templates.PageArchiveIssue, templates.ArchiveIssuePage{
		Site:      s.site(),
		Issue:     is,
		SignupURL: s.url("/subscribe"),
	})
}

// feed answers GET /feed.atom: the most recent sent issues as an Atom feed.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Archive.SentIssues(r.Context(), feedLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := &feeds.Feed{
		Title:       s.cfg.Name,
		Link:        &feeds.Link{Href: s.url("/archive")},
		Id:          s.url("/feed.atom"),
		Description: "Every issue of " + s.cfg.Name,
	}
	for _, e := range list {
		if e.SentAt.After(f.Updated) {
			f.Updated = e.SentAt
		}
		u := s.issueURL(e.Number)
		f.Items = append(f.Items, &feeds.Item{
			Id:      u,
			Title:   e.Subject, // the default subject already names the list and number
			Link:    &feeds.Link{Href: u},
			Created: e.SentAt,
			Updated: e.SentAt,
		})
	}
	if f.Updated.IsZero() {
		f.Updated = time.Unix(0, 0)
	}
	body, err := f.ToAtom()
	if err != nil {
		s.fail(w, r, fmt.Errorf("web: atom feed: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

func (s *Server) issueURL(n int) string { return s.url("/archive/" + strconv.Itoa(n)) }
