package templates

import (
	"fmt"
	"html/template"
	"testing"
	"time"
)

// fixtureIssue returns a realistic issue with n items: a third curated links with
// the editor's notes, the rest feed items with excerpts, in four sections.
func fixtureIssue(n int) Issue {
	iss := Issue{
		Number:        42,
		Date:          time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600)),
		Subject:       "Backend Weekly #42: Postgres 19 ships incremental sort for joins",
		Intro:         "Welcome back. This week is heavy on databases: two deep dives into query planning, a look at how a large team retired its message queue, and a few smaller pieces worth your coffee.\n\nAs always, reply to this email if you have a link we should read.",
		ArchiveURL:    "https://weekly.example.com/archive/42",
		PastIssuesURL: "https://weekly.example.com/archive",
		HomeURL:       "https://weekly.example.com",
		ListName:      "Backend Weekly",
	}
	sections := []string{"Editor's picks", "Databases", "Distributed systems", "Go and tooling"}
	for s := range sections {
		iss.Sections = append(iss.Sections, Section{Name: sections[s]})
	}
	for i := range n {
		it := Item{
			Title: fmt.Sprintf("How we cut p99 latency of our order service by %d%% with connection pooling", 10+i),
			URL:   fmt.Sprintf("https://engineering.example.org/blog/2026/03/connection-pooling-latency-part-%d", i+1),
		}
		s := 0
		if i%3 == 0 {
			it.Kind = "link"
			it.Note = "A careful write-up with real numbers: what they measured, what they expected, and why the first fix made things worse before it made them better."
		} else {
			it.Kind = "feed"
			it.FeedName = fmt.Sprintf("Example Engineering Blog %d", i%5)
			it.Excerpt = template.HTML("<p>Our order service spent most of its time waiting for a database connection. This post walks through how we found that out with <em>pprof</em> and tracing, the pool settings we tried, and the numbers before and after.</p>")
			s = 1 + (i/3)%3
		}
		iss.Sections[s].Items = append(iss.Sections[s].Items, it)
	}
	var full []Section
	for _, s := range iss.Sections {
		if len(s.Items) > 0 {
			full = append(full, s)
		}
	}
	iss.Sections = full
	return iss
}

func mustLoad(t testing.TB, dir string) *Set {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q) = %v", dir, err)
	}
	return s
}

func mustRender(t testing.TB, s *Set, iss Issue) *Rendered {
	t.Helper()
	r, err := s.RenderIssue(iss)
	if err != nil {
		t.Fatalf("RenderIssue(#%d) = %v", iss.Number, err)
	}
	return r
}

var fixturePersonal = Personal{Name: "Ada Lovelace", UnsubscribeURL: "https://weekly.example.com/unsubscribe/AbCdEf0123456789_-xyz"}
