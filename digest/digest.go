// Package digest makes and sends the weekly issues.
//
// An issue goes from draft to sending to sent, or is cancelled. Issues (this file,
// issues*.go and build*.go) builds the draft from the queued links and the new feed
// items, copying every item into the issue so later edits of links or feeds never
// change it, and lets an editor shape it. The delivery ledger and the send loop
// (ledger*.go and send*.go) take a draft to sent, one delivery per subscriber.
//
// Links and feed items are read through the small interfaces LinkSource and
// FeedSource; *links.Store and *feeds.Store satisfy them.
package digest

import (
	"errors"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/backendweekly/weekly/templates"
)

// Sentinel errors of the issue-building half.
var (
	// ErrNotFound is returned when no issue, or no item of an issue, matches.
	ErrNotFound = errors.New("digest: not found")
	// ErrNoDraft is returned when an operation needs the draft and there is none.
	ErrNoDraft = errors.New("digest: no draft issue")
	// ErrNotDraft is returned when an issue can no longer be changed: it is
	// sending, sent or cancelled.
	ErrNotDraft = errors.New("digest: issue is not a draft")
	// ErrInvalid is returned for a subject or intro that cannot be used.
	ErrInvalid = errors.New("digest: invalid value")
	// ErrTooFewItems is returned by Issues.CheckMinItems for an issue with fewer
	// items than the configured minimum: not worth sending.
	ErrTooFewItems = errors.New("digest: too few items to send")
)

// Issue statuses, as stored in issues.status.
const (
	StatusDraft     = "draft"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusCancelled = "cancelled"
)

// Item kinds.
const (
	KindLink = "link" // a link an editor queued
	KindFeed = "feed" // an item from a feed
)

// Default section names, for links and feeds that have none.
const (
	DefaultLinkSection = "Editor's picks"
	DefaultFeedSection = "From around the web"
)

// Issue is one issue of the newsletter with its items, as stored.
type Issue struct {
	ID     int64  `json:"id"`
	Number int    `json:"number"`
	Status string `json:"status"`
	// Subject is the subject line. Unless SubjectSet, it is the default one and
	// follows the items when the draft is rebuilt or an item dropped.
	Subject    string `json:"subject"`
	SubjectSet bool   `json:"subject_set"`
	Intro      string `json:"intro"`
	// WindowStart and WindowEnd bound when the feed items were first seen.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// ScheduledFor is the schedule slot the issue answers, if the daemon made it.
	ScheduledFor  time.Time `json:"scheduled_for,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	SendStartedAt time.Time `json:"send_started_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	Items         []Item    `json:"items"`
}

// Item is one item of an issue, a copy made when the issue was built.
type Item struct {
	ID int64 `json:"id"`
	// Position orders the items and names them to "weekly digest drop". It stays
	// the same when other items are dropped.
	Position int    `json:"position"`
	Kind     string `json:"kind"`
	Section  string `json:"section"`
	Title    string `json:"title"`
	URL      string `json:"url"`
	Note     string `json:"note,omitempty"`
	FeedName string `json:"feed_name,omitempty"`
	// ExcerptHTML is safe HTML: plain text, escaped, made from the sanitised summary.
	ExcerptHTML string `json:"excerpt_html,omitempty"`
	LinkID      int64  `json:"link_id,omitempty"`
	FeedItemID  int64  `json:"feed_item_id,omitempty"`
}

// Site is what turning an issue into template data needs to know about the
// newsletter.
type Site struct {
	ListName string
	// BaseURL is the web server's public address, with no trailing slash.
	BaseURL string
	// Location is the time zone dates are shown in; nil means UTC.
	Location *time.Location
	// Now dates an issue that has not started sending; nil means time.Now.
	Now func() time.Time
}

// ArchiveURL returns the address of issue number on the web archive.
func (s Site) ArchiveURL(number int) string { return s.BaseURL + "/archive/" + strconv.Itoa(number) }

// Template returns the data the templates render for iss. Items are grouped into
// sections in the order the sections first appear. The date is when sending
// started, or now for an issue not yet sending.
func (iss Issue) Template(site Site) templates.Issue {
	date := iss.SendStartedAt
	if date.IsZero() {
		now := site.Now
		if now == nil {
			now = time.Now
		}
		date = now()
	}
	loc := site.Location
	if loc == nil {
		loc = time.UTC
	}
	out := templates.Issue{
		Number:        iss.Number,
		Date:          date.In(loc),
		Subject:       iss.Subject,
		Intro:         iss.Intro,
		ArchiveURL:    site.ArchiveURL(iss.Number),
		PastIssuesURL: site.BaseURL + "/archive",
		HomeURL:       site.BaseURL,
		ListName:      site.ListName,
	}
	at := make(map[string]int)
	for _, it := range iss.Items {
		i, ok := at[it.Section]
		if !ok {
			i = len(out.Sections)
			at[it.Section] = i
			out.Sections = append(out.Sections, templates.Section{Name: it.Section})
		}
		out.Sections[i].Items = append(out.Sections[i].Items, templates.Item{
			Kind: it.Kind, Title: it.Title, URL: it.URL, Note: it.Note, FeedName: it.FeedName,
			// ExcerptHTML was made by excerpt (build_excerpt.go): escaped text only.
			Excerpt: template.HTML(it.ExcerptHTML),
		})
	}
	return out
}

// DefaultSubject is the subject of an issue whose editor chose none:
// "<list> #<number>: <title of the first link>", or of the first item if no link.
func DefaultSubject(listName string, number int, items []Item) string {
	s := listName + " #" + strconv.Itoa(number)
	first := ""
	for _, it := range items {
		if it.Kind == KindLink {
			first = it.Title
			break
		}
	}
	if first == "" && len(items) > 0 {
		first = items[0].Title
	}
	if first != "" {
		s += ": " + first
	}
	return truncate(oneLine(s), maxSubject)
}

// oneLine turns every run of whitespace, line breaks included, into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate shortens s to at most max runes, ending with an ellipsis if it cut.
func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return strings.TrimSpace(string(r[:max-1])) + "…"
}
