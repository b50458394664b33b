package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/backendweekly/weekly/links"
)

// Limits on stored text.
const (
	maxTitle    = 300
	maxAuthor   = 200
	maxIdentity = 512
	// maxEntries bounds the items taken from one document (feeds list the newest
	// first): a hostile feed of a million tiny items should not fill the database.
	maxEntries = 1000
)

// ErrNotAFeed is returned when a body is neither RSS, Atom, RDF nor JSON Feed.
var ErrNotAFeed = errors.New("not a feed")

// document is what one feed body held, normalised and sanitised.
type document struct {
	Title string
	Items []entry
}

// entry is one normalised item, not yet stored.
type entry struct {
	Identity    string
	URL         string
	Title       string
	SummaryHTML string
	Author      string
	PublishedAt time.Time
}

// parse reads a feed body with gofeed and normalises its items. feedURL is where the
// body came from, used to resolve relative links; fetchedAt stands in for missing
// dates and caps future ones. Items with the same identity keep the first; at most
// maxEntries are kept.
func parse(r io.Reader, feedURL string, fetchedAt time.Time, san *sanitizer) (document, error) {
	f, err := gofeed.NewParser().Parse(r)
	if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		return document{}, ErrNotAFeed
	}
	if err != nil {
		return document{}, fmt.Errorf("parse: %w", err)
	}
	if f.FeedType == "json" && f.FeedVersion == "" {
		return document{}, ErrNotAFeed // some other JSON document
	}
	base, _ := url.Parse(feedURL)
	site := base
	if f.Link != "" && base != nil {
		if u, err := base.Parse(strings.TrimSpace(f.Link)); err == nil {
			site = u
		}
	}
	doc := document{Title: plainText(f.Title, maxTitle)}
	seen := make(map[string]bool, len(f.Items))
	for _, it := range f.Items {
		if it == nil {
			continue
		}
		e := normalise(it, site, fetchedAt, san)
		if seen[e.Identity] {
			continue
		}
		seen[e.Identity] = true
		doc.Items = append(doc.Items, e)
		if len(doc.Items) == maxEntries {
			break
		}
	}
	return doc, nil
}

// normalise turns one gofeed item into an entry: identity, absolute normalised link,
// plain-text title and author, sanitised summary, and a date no later than fetchedAt.
// Relative links resolve against the feed's site link, else the feed's own URL.
func normalise(it *gofeed.Item, site *url.URL, fetchedAt time.Time, san *sanitizer) entry {
	var e entry
	link := strings.TrimSpace(it.Link)
	if link == "" && len(it.Links) > 0 {
		link = strings.TrimSpace(it.Links[0])
	}
	if link != "" {
		if n, err := links.Normalize(resolve(site, link)); err == nil {
			e.URL = n
		}
	}
	summaryBase := site
	if e.URL != "" {
		summaryBase, _ = url.Parse(e.URL)
	}
	summary := it.Description
	if strings.TrimSpace(summary) == "" {
		summary = it.Content
	}
	e.SummaryHTML = san.sanitize(summary, summaryBase)
	e.Title = plainText(it.Title, maxTitle)
	if e.Title == "" {
		e.Title = plainText(summary, 100)
	}
	if e.Title == "" {
		e.Title = e.URL
	}
	if len(it.Authors) > 0 && it.Authors[0] != nil {
		e.Author = plainText(it.Authors[0].Name, maxAuthor)
	}
	e.Identity = identity(it, e.URL)
	e.PublishedAt = fetchedAt
	if it.PublishedParsed != nil {
		e.PublishedAt = *it.PublishedParsed
	} else if it.UpdatedParsed != nil {
		e.PublishedAt = *it.UpdatedParsed
	}
	if e.PublishedAt.After(fetchedAt) || e.PublishedAt.Year() < 1995 {
		e.PublishedAt = fetchedAt
	}
	e.PublishedAt = e.PublishedAt.UTC()
	return e
}

// identity is the item's GUID, else its normalised link, else a hash of its title and
// content: stable across fetches, so a feed that drops and re-adds an item does not
// make it new again.
func identity(it *gofeed.Item, normURL string) string {
	if g := strings.TrimSpace(it.GUID); g != "" {
		if len(g) > maxIdentity {
			return "sha256:" + hash(g)
		}
		return g
	}
	if normURL != "" {
		return normURL
	}
	return "sha256:" + hash(strings.TrimSpace(it.Title)+"\x00"+strings.TrimSpace(it.Description)+"\x00"+strings.TrimSpace(it.Content))
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
