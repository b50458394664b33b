package feeds

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func parseFile(t *testing.T, name, feedURL string) (document, error) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return parse(bytes.NewReader(b), feedURL, testNow, newSanitizer())
}

func date(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file      string
		wantTitle string
		want      []entry
	}{
		{"rss2.xml", "Queue Theory & Practice", []entry{
			{Identity: "tag:blog.example.com,2026:post-101", URL: "https://blog.example.com/posts/back-pressure",
				Title:       "Back-pressure in Go: a practical guide", // escaped markup stripped
				SummaryHTML: `<p>Why bounded queues beat <strong>unbounded</strong> ones. <a href="https://blog.example.com/posts/queues">Part one</a>.</p>`,
				Author:      "Ada Lovelace", PublishedAt: date(2026, 11, 16, 8, 0)},
			{Identity: "https://blog.example.com/posts/wal", URL: "https://blog.example.com/posts/wal", // no GUID: the link
				Title: "SQLite’s WAL mode, explained", SummaryHTML: "Readers never block writers &amp; writers never block readers.",
				Author: "Grace Hopper", PublishedAt: date(2026, 11, 14, 17, 30)},
			{Identity: "post-103", URL: "https://blog.example.com/posts/relative", Title: "Relative links",
				SummaryHTML: `<p>See <a href="https://blog.example.com/posts/notes.html">the notes</a> and <img src="https://blog.example.com/img/chart.png" alt="chart"/></p>`,
				PublishedAt: testNow}, // unparseable date
			{Identity: "post-104", URL: "https://blog.example.com/posts/dupe-a", Title: "Duplicate GUID, second copy",
				SummaryHTML: "First one wins.", PublishedAt: date(2026, 11, 12, 9, 0)},
			{Identity: "https://blog.example.com/posts/future", URL: "https://blog.example.com/posts/future",
				Title: "From the future", SummaryHTML: "Clock skew.", PublishedAt: testNow}, // clamped
			{Identity: "sha256:fd2c02b288c1782f381f316fc41a4e46927e04382bb693ad0d0b215ff0646d21",
				Title:       "An item with neither title, link nor GUID: only its text identifies it.",
				SummaryHTML: "An item with neither title, link nor GUID: only its text identifies it.", PublishedAt: testNow},
		}},
		{"atom.xml", "Distributed Notes", []entry{
			{Identity: "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", URL: "https://notes.example.org/2026/raft-paxos",
				Title: "Raft & Paxos compared", SummaryHTML: `<p>Two ways to agree. <a href="https://notes.example.org/2026/raft-paxos#more">Read on</a></p>`,
				Author: "Leslie L.", PublishedAt: date(2026, 11, 18, 7, 15)},
			{Identity: "tag:notes.example.org,2026-11-10:/cache", URL: "https://notes.example.org/2026/cache-invalidation",
				Title:       "Cache invalidation, again",
				SummaryHTML: `<p>There are only two hard things. <a href="https://notes.example.org/2026/naming">Naming</a> is the other.</p>`,
				PublishedAt: date(2026, 11, 10, 7, 0)}, // updated stands in for published
		}},
		{"rdf.xml", "Old School Ops", []entry{
			{Identity: "https://rdf.example.com/cron", URL: "https://rdf.example.com/cron", Title: "Cron and daylight saving time",
				SummaryHTML: "Why your job ran twice in October.", Author: "Ken T.", PublishedAt: date(2026, 11, 1, 2, 30)},
			{Identity: "https://rdf.example.com/backups", URL: "https://rdf.example.com/backups", Title: "Backups you have restored",
				SummaryHTML: "The only kind that count.", PublishedAt: date(2026, 10, 28, 12, 0)},
		}},
		{"feed.json", "JSON Backend Digest", []entry{
			{Identity: "2026-11-17-idempotency", URL: "https://json.example.com/idempotency", Title: "Idempotency keys in practice",
				SummaryHTML: "Retries without double charges.", Author: "Margaret H.", PublishedAt: date(2026, 11, 17, 10, 0)},
			{Identity: "2026-11-15-rate-limits", URL: "https://json.example.com/rate-limits", Title: "Token buckets & leaky buckets",
				SummaryHTML: "<p>Two shapes of <em>fairness</em>.</p>", PublishedAt: date(2026, 11, 15, 9, 0)},
		}},
		{"latin1.xml", "Café des Systèmes", []entry{
			{Identity: "https://latin1.example.de/sperren", URL: "https://latin1.example.de/sperren",
				Title: "Müller über Sperren à la française", SummaryHTML: "Grüße aus Köln, 30° warm.", PublishedAt: date(2026, 11, 17, 5, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, err := parseFile(t, tt.file, "http://127.0.0.1:1/"+tt.file)
			if err != nil {
				t.Fatalf("parse(%s) = %v", tt.file, err)
			}
			if doc.Title != tt.wantTitle {
				t.Errorf("parse(%s).Title = %q, want %q", tt.file, doc.Title, tt.wantTitle)
			}
			if diff := cmp.Diff(tt.want, doc.Items); diff != "" {
				t.Errorf("parse(%s) items (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseCapsEntries(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel><title>many</title>`)
	for i := range maxEntries + 5 {
		fmt.Fprintf(&b, "<item><title>t</title><guid>%d</guid></item>", i)
	}
	b.WriteString("</channel></rss>")
	doc, err := parse(strings.NewReader(b.String()), "https://example.com/", testNow, newSanitizer())
	if err != nil || len(doc.Items) != maxEntries || doc.Items[0].Identity != "0" {
		t.Errorf("parse(%d items) = %d items, %v; want the first %d", maxEntries+5, len(doc.Items), err, maxEntries)
	}
}

func TestParseRejectsNonFeeds(t *testing.T) {
	for _, body := range []string{"", "<!DOCTYPE html><html><body>hi</body></html>", "just text", `{"not":"a feed"}`} {
		if _, err := parse(strings.NewReader(body), "https://example.com/", testNow, newSanitizer()); err == nil {
			t.Errorf("parse(%q) = nil error, want one", body)
		}
	}
}

// TestSanitizeXSS feeds hostile titles and summaries through the whole parse path.
func TestSanitizeXSS(t *testing.T) {
	doc, err := parseFile(t, "xss.xml", "https://evil.example.com/feed")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Items) != 2 {
		t.Fatalf("parse(xss.xml) = %d items, want 2", len(doc.Items))
	}
	forbidden := []string{"<script", "alert", "javascript:", "vbscript:", "data:", "onerror", "onclick", "onload",
		"onmouseover", "<style", "<svg", "<iframe", "<object", "<embed", "<form", "<input", "style=", "<math", "width=\"1\""}
	texts := []string{doc.Title}
	for _, e := range doc.Items {
		texts = append(texts, e.Title, e.SummaryHTML, e.URL)
		if strings.ContainsAny(e.Title, "<>") {
			t.Errorf("title %q still holds markup", e.Title)
		}
	}
	for _, s := range texts {
		for _, bad := range forbidden {
			if strings.Contains(strings.ToLower(s), bad) {
				t.Errorf("sanitised text %q contains %q", s, bad)
			}
		}
	}
	// What is safe survives.
	if got := doc.Items[0].SummaryHTML; !strings.Contains(got, "<p>Click</p>") || !strings.Contains(got, `<img src="https://evil.example.com/a.png"/>`) {
		t.Errorf("summary = %q, want the safe paragraph and image kept", got)
	}
	if got, want := doc.Items[1].Title, "Bold & safe"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if doc.Items[1].URL != "" {
		t.Errorf("javascript: item link kept as %q", doc.Items[1].URL)
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"  Hello\n\t world  ", 100, "Hello world"},
		{"a &amp; b &lt;c&gt; &#8217; &eacute;", 100, "a & b <c> ’ é"},
		{"<b>bold</b><script>evil()</script><style>p{}</style>text", 100, "bold text"},
		{"bell\x07 and nul\x00", 100, "bell and nul"},
		{strings.Repeat("ab ", 50), 10, "ab ab ab…"},
		{"Why x < y in Go", 100, "Why x < y in Go"},
	}
	for _, tt := range tests {
		if got := plainText(tt.in, tt.max); got != tt.want {
			t.Errorf("plainText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestSanitizeRemovesTrackingPixels(t *testing.T) {
	s := newSanitizer()
	in := `<p>Text</p><img src="https://t.example/p.gif" width="1" height="1"><img src="https://t.example/q.gif" style="display: none">` +
		`<img src="https://t.example/r.gif" width="0"><img src="photo.jpg" width="600" alt="photo">`
	want := `<p>Text</p><img src="https://example.com/posts/photo.jpg" width="600" alt="photo"/>`
	base := mustURL(t, "https://example.com/posts/1")
	if got := s.sanitize(in, base); got != want {
		t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
	}
}

// FuzzParse feeds arbitrary bytes through the parse-and-normalise path: it must never
// panic, and whatever it accepts must come out plain and sanitised.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rss2.xml", "atom.xml", "rdf.xml", "feed.json", "latin1.xml", "xss.xml", "page.html"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<rss><channel><item><title>&lt;script&gt;</title><link>//x</link></item></channel></rss>`))
	san := newSanitizer()
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := parse(bytes.NewReader(body), "https://example.com/feed", testNow, san)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range doc.Items {
			if e.Identity == "" || seen[e.Identity] {
				t.Errorf("identity %q empty or repeated", e.Identity)
			}
			seen[e.Identity] = true
			if e.PublishedAt.After(testNow) {
				t.Errorf("published %v after the fetch time", e.PublishedAt)
			}
			if strings.ContainsAny(e.Title, "\r\n\t") || strings.ContainsAny(e.Author, "\r\n") {
				t.Errorf("title %q or author %q spans lines", e.Title, e.Author)
			}
			low := strings.ToLower(e.SummaryHTML)
			for _, bad := range []string{"<script", "javascript:", " onerror=", "<style", "<iframe"} {
				if strings.Contains(low, bad) {
					t.Errorf("summary %q contains %q", e.SummaryHTML, bad)
				}
			}
			if e.URL != "" && !strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://") {
				t.Errorf("item URL %q is not http(s)", e.URL)
			}
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
