package digest

import (
	"fmt"
	"html"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/backendweekly/weekly/templates"
	"github.com/google/go-cmp/cmp"
)

func TestTemplate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	iss := Issue{Number: 3, Subject: "S", Intro: "I", SendStartedAt: started, Items: []Item{
		{Position: 1, Kind: KindLink, Section: "A", Title: "a1", URL: "https://a.example/1", Note: "n"},
		{Position: 2, Kind: KindLink, Section: "B", Title: "b1", URL: "https://b.example/1"},
		{Position: 4, Kind: KindFeed, Section: "A", Title: "a2", URL: "https://a.example/2", FeedName: "F", ExcerptHTML: "x &amp; y"},
	}}
	site := Site{ListName: "L", BaseURL: "https://w.example", Location: berlin}
	got := iss.Template(site)
	want := templates.Issue{
		Number: 3, Date: started.In(berlin), Subject: "S", Intro: "I",
		ArchiveURL: "https://w.example/archive/3", PastIssuesURL: "https://w.example/archive", HomeURL: "https://w.example", ListName: "L",
		Sections: []templates.Section{
			{Name: "A", Items: []templates.Item{
				{Kind: "link", Title: "a1", URL: "https://a.example/1", Note: "n"},
				{Kind: "feed", Title: "a2", URL: "https://a.example/2", FeedName: "F", Excerpt: "x &amp; y"},
			}},
			{Name: "B", Items: []templates.Item{{Kind: "link", Title: "b1", URL: "https://b.example/1"}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Template() mismatch (-want +got):\n%s", diff)
	}
	if got.Date.Day() != 2 || got.Date.Location() != berlin {
		t.Errorf("Template().Date = %v, want 2 March in Europe/Berlin", got.Date)
	}
	draft := Issue{Number: 4}
	fixed := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	if d := draft.Template(Site{Now: func() time.Time { return fixed }}).Date; !d.Equal(fixed) || d.Location() != time.UTC {
		t.Errorf("a draft's Template().Date = %v, want now (%v) in UTC", d, fixed)
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>Hello <em>world</em></p><p>again</p>", "Hello world again"},
		{"<p>Use <code>BEGIN IMMEDIATE</code>.</p>", "Use BEGIN IMMEDIATE."},
		{"<p>size it from <em>arrival</em>, not <a href=x>guesses</a>!</p>", "size it from arrival, not guesses!"},
		{"one<br>two<li>three</li>", "one two three"},
		{"<svg><text>drawn</text></svg>kept<noscript>hidden</noscript>", "kept"},
		{`<script>alert(1)</script><style>p{}</style>Text<img src="https://tracker.example/p.gif">`, "Text"},
		{"Fish &amp; chips &lt;3 \"quoted\"", "Fish &amp; chips &lt;3 &#34;quoted&#34;"},
		{"line\r\nbreaks\x00and\x1bcontrols", "line breaks and controls"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := excerpt(tt.in); got != tt.want {
			t.Errorf("excerpt(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := excerpt("<p>" + strings.Repeat("word ", 200) + "</p>")
	if n := utf8.RuneCountInString(long); n > maxExcerpt || !strings.HasSuffix(long, "…") {
		t.Errorf("excerpt of 1000 characters = %d runes ending %q, want at most %d ending with an ellipsis", n, long[len(long)-5:], maxExcerpt)
	}
}

// TestHostileFeedContentEndToEnd builds an issue from a feed item and a link full
// of payloads and renders it with the default templates: both parts must come out
// escaped or stripped.
func TestHostileFeedContentEndToEnd(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	f.queue("https://a.example/x", "Link <script>alert('title')</script>", "Note\r\nBcc: victim@example.com <img src=x onerror=alert(2)>", "")
	feed := f.feed("https://feed.example/rss", "Feed <svg onload=alert(3)>", "")
	f.feedItem(feed, "https://feed.example/post", "Post\r\nSubject: injected <b>bold</b>",
		`<p onclick="alert(4)">Summary</p><script>alert(5)</script><img src="https://tracker.example/pixel.gif" width="1"><a href="javascript:alert(6)">link</a><iframe src="https://evil.example"></iframe>`,
		f.clock)
	f.clock = f.clock.Add(time.Minute)
	iss := f.build()

	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	r, err := set.RenderIssue(iss.Template(Site{ListName: "Backend Weekly", BaseURL: "https://weekly.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	b := r.Personalize(templates.Personal{Name: "Ada", UnsubscribeURL: "https://weekly.example.com/unsubscribe/t"})
	h, x := string(b.AppendHTML(nil)), string(b.AppendText(nil))
	for _, bad := range []string{"<script", "<img", "<svg", "<iframe", "onclick", "javascript:", "tracker.example", "evil.example", "<b>bold"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML part contains %q", bad)
		}
	}
	for _, bad := range []string{"alert(5)", "tracker.example", "javascript:", "\r"} {
		if strings.Contains(x, bad) {
			t.Errorf("text part contains %q", bad)
		}
	}
	for _, line := range strings.Split(x, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "Bcc:") || strings.HasPrefix(l, "Subject: injected") {
			t.Errorf("text part: a line break in the content started the line %q", line)
		}
	}
	if !strings.Contains(h, "Summary link") || !strings.Contains(x, "Summary link") {
		t.Errorf("the excerpt's text was lost:\nHTML: %s\ntext: %s", h, x)
	}
	if strings.ContainsAny(r.Subject(), "\r\n") {
		t.Errorf("subject %q has a line break", r.Subject())
	}
}

// BenchmarkBuildRenderPersonalize is the issue's whole life before SMTP: build a
// 30-item issue from the database, render it once, then personalise it and write
// both parts for 100,000 subscribers. One op is all of that; msgs/s counts messages.
func BenchmarkBuildRenderPersonalize(b *testing.B) {
	f := newIssuesFixture(b, Config{MaxItems: 30, PerFeed: 5})
	for i := range 10 {
		f.queue(fmt.Sprintf("https://links.example/%d", i), fmt.Sprintf("A queued link about connection pooling, part %d", i),
			"A careful write-up with real numbers and a fix that first made things worse.", "")
	}
	for fd := range 6 {
		id := f.feed(fmt.Sprintf("https://feed%d.example/rss", fd), fmt.Sprintf("Engineering blog %d", fd), "")
		for i := range 8 {
			f.feedItem(id, fmt.Sprintf("https://feed%d.example/post/%d", fd, i), fmt.Sprintf("Post %d from feed %d", i, fd),
				"<p>Our order service spent most of its time waiting for a database connection. This post walks through how we found out, with <em>pprof</em>.</p>",
				f.clock.Add(-time.Duration(i)*time.Hour))
		}
	}
	f.clock = f.clock.Add(time.Minute)
	set, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	site := Site{ListName: "Backend Weekly", BaseURL: "https://weekly.example.com"}
	const subscribers = 100_000
	ps := make([]templates.Personal, subscribers)
	for i := range ps {
		ps[i] = templates.Personal{Name: fmt.Sprintf("Subscriber %d", i), UnsubscribeURL: fmt.Sprintf("https://weekly.example.com/unsubscribe/%d.Zm9vYmFyYmF6cXV4", i)}
	}
	msgs := 0
	for b.Loop() {
		iss, err := f.issues.Build(f.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(iss.Items) != 30 {
			b.Fatalf("built %d items, want 30", len(iss.Items))
		}
		r, err := set.RenderIssue(iss.Template(site))
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			body := r.Personalize(p)
			body.WriteHTML(io.Discard)
			body.WriteText(io.Discard)
		}
		msgs += subscribers
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

// FuzzExcerpt checks that an excerpt, whatever the feed sent, is escaped text:
// no markup, no line breaks, and no longer than maxExcerpt.
func FuzzExcerpt(f *testing.F) {
	for _, s := range []string{"<p>a</p>", "<script>x</script>", "&lt;b&gt;", "a\r\nb", strings.Repeat("é ", 400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := excerpt(s)
		if strings.ContainsAny(got, "<>\"\r\n") {
			t.Fatalf("excerpt(%q) = %q, want escaped text on one line", s, got)
		}
		if n := utf8.RuneCountInString(html.UnescapeString(got)); n > maxExcerpt {
			t.Fatalf("excerpt(%q) is %d runes, want at most %d", s, n, maxExcerpt)
		}
	})
}
