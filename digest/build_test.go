package digest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backendweekly/weekly/links"
	"github.com/google/go-cmp/cmp"
)

func TestBuildChoosesAndOrdersItems(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	t0 := f.clock
	f.queue("https://a.example/one", "One", "Read this first.", "")
	f.queue("https://b.example/two", "Two", "", "Databases")
	f.queue("https://c.example/three", "Three", "", "")
	alpha := f.feed("https://alpha.example/feed.xml", "Alpha", "Databases")
	beta := f.feed("https://beta.example/feed.xml", "Beta", "")
	for i, title := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7"} {
		url := "https://alpha.example/" + title
		if title == "a3" {
			url = "https://b.example/two" // an editor queued it already
		}
		f.feedItem(alpha, url, title, "<p>About "+title+"</p>", t0.Add(-time.Duration(i+1)*time.Hour))
	}
	f.feedItem(beta, "https://beta.example/b1", "b1", "", t0.Add(-30*time.Minute))
	f.feedItem(beta, "https://beta.example/b2", "b2", "", t0.Add(-10*time.Hour))
	old := f.feedItem(beta, "https://beta.example/old", "old", "", t0.Add(-100*time.Hour))
	f.exec(`UPDATE feed_items SET seen_on_add = 1 WHERE id = ?`, old)
	f.clock = t0.Add(time.Minute)

	iss := f.build()
	want := []string{
		"1 Editor's picks: One", "2 Editor's picks: Three",
		"3 Databases: Two", "4 Databases: a1", "5 Databases: a2", "6 Databases: a4", "7 Databases: a5", "8 Databases: a6",
		"9 From around the web: b1", "10 From around the web: b2",
	}
	if diff := cmp.Diff(want, issueTitles(iss)); diff != "" {
		t.Errorf("Build() items mismatch (-want +got):\n%s", diff)
	}
	if iss.Number != 1 || iss.Status != StatusDraft {
		t.Errorf("Build() = #%d %s, want #1 draft", iss.Number, iss.Status)
	}
	if want := "Backend Weekly #1: One"; iss.Subject != want || iss.SubjectSet {
		t.Errorf("Build() subject = %q (set %v), want the default %q", iss.Subject, iss.SubjectSet, want)
	}
	if it := iss.Items[0]; it.Kind != KindLink || it.Note != "Read this first." || it.LinkID == 0 {
		t.Errorf("first item = %+v, want the first link with its note", it)
	}
	if it := iss.Items[3]; it.Kind != KindFeed || it.FeedName != "Alpha" || it.ExcerptHTML != "About a1" || it.FeedItemID == 0 {
		t.Errorf("fourth item = %+v, want a1 from Alpha with its excerpt", it)
	}
	if !iss.WindowStart.Equal(time.UnixMilli(0).UTC()) || !iss.WindowEnd.Equal(f.clock) {
		t.Errorf("window = [%v, %v), want [epoch, %v)", iss.WindowStart, iss.WindowEnd, f.clock)
	}

	// Items are copies: editing the link later does not change the issue.
	title := "One, edited"
	if _, err := f.links.Edit(f.ctx, iss.Items[0].LinkID, links.EditParams{Title: &title}); err != nil {
		t.Fatal(err)
	}
	got, err := f.issues.Draft(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Items[0].Title != "One" {
		t.Errorf("after editing the link, the draft's item says %q, want the copy %q", got.Items[0].Title, "One")
	}
}

func TestBuildCapsItems(t *testing.T) {
	f := newIssuesFixture(t, Config{MaxItems: 4, PerFeed: 2})
	for _, u := range []string{"https://a.example/1", "https://a.example/2", "https://a.example/3"} {
		f.queue(u, u, "", "")
	}
	feed := f.feed("https://feed.example/rss", "Feed", "")
	for i := range 5 {
		f.feedItem(feed, "https://feed.example/"+string(rune('a'+i)), string(rune('a'+i)), "", f.clock.Add(-time.Duration(i)*time.Hour))
	}
	f.clock = f.clock.Add(time.Minute)
	want := []string{"1 Editor's picks: https://a.example/1", "2 Editor's picks: https://a.example/2",
		"3 Editor's picks: https://a.example/3", "4 From around the web: a"}
	if diff := cmp.Diff(want, issueTitles(f.build())); diff != "" {
		t.Errorf("Build() with MaxItems 4 mismatch (-want +got):\n%s", diff)
	}
}

func TestNextIssueStartsWhereTheLastEnded(t *testing.T) {
	f := newIssuesFixture(t, Config{PerFeed: 1})
	feed := f.feed("https://feed.example/rss", "Feed", "")
	other := f.feed("https://other.example/rss", "Other", "")
	f.queue("https://a.example/1", "Link one", "", "")
	f.feedItem(feed, "https://feed.example/1", "one", "", f.clock)
	f.feedItem(feed, "https://feed.example/capped", "capped", "", f.clock.Add(-time.Hour))
	f.clock = f.clock.Add(time.Minute)
	first := f.build()
	f.send("sent")

	f.clock = f.clock.Add(7 * 24 * time.Hour)
	f.queue("https://a.example/2", "Link two", "", "")
	f.feedItem(other, "https://feed.example/1", "one again, from another feed", "", f.clock)
	f.feedItem(feed, "https://feed.example/2", "two", "", f.clock)
	f.clock = f.clock.Add(time.Minute)
	second := f.build()

	want := []string{"1 Editor's picks: Link two", "2 From around the web: two"}
	if diff := cmp.Diff(want, issueTitles(second)); diff != "" {
		t.Errorf("second Build() mismatch (-want +got):\n%s", diff)
	}
	if second.Number != 2 || !second.WindowStart.Equal(first.WindowEnd) {
		t.Errorf("second issue = #%d from %v, want #2 from %v", second.Number, second.WindowStart, first.WindowEnd)
	}
}

func TestRebuildKeepsEditsAndDrops(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	f.queue("https://a.example/1", "One", "", "")
	f.queue("https://a.example/2", "Two", "", "")
	feed := f.feed("https://feed.example/rss", "Feed", "")
	f.feedItem(feed, "https://feed.example/x", "x", "", f.clock)
	f.clock = f.clock.Add(time.Minute)
	first := f.build()

	subject, intro := "Hand-picked subject", "Hello.\r\n\r\nSecond paragraph."
	if _, err := f.issues.Edit(f.ctx, EditParams{Subject: &subject, Intro: &intro}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issues.DropItems(f.ctx, 2, 3); err != nil { // "Two" and the feed item
		t.Fatal(err)
	}
	f.queue("https://a.example/3", "Three", "", "")
	f.clock = f.clock.Add(time.Hour)
	again := f.build()

	if again.ID != first.ID || again.Number != 1 {
		t.Errorf("rebuild made issue %d #%d, want the same draft %d #1", again.ID, again.Number, first.ID)
	}
	if again.Subject != subject || !again.SubjectSet || again.Intro != "Hello.\n\nSecond paragraph." {
		t.Errorf("rebuild: subject %q (set %v), intro %q; want the edits kept", again.Subject, again.SubjectSet, again.Intro)
	}
	want := []string{"1 Editor's picks: One", "2 Editor's picks: Three"}
	if diff := cmp.Diff(want, issueTitles(again)); diff != "" {
		t.Errorf("rebuild brought back dropped items or lost new ones (-want +got):\n%s", diff)
	}
}

func TestDefaultSubjectFollowsItems(t *testing.T) {
	f := newIssuesFixture(t, Config{ListName: "Ops Digest"})
	f.queue("https://a.example/1", "First\r\nlink", "", "")
	f.queue("https://a.example/2", "Second link", "", "")
	iss := f.build()
	if want := "Ops Digest #1: First link"; iss.Subject != want {
		t.Errorf("Build() subject = %q, want %q", iss.Subject, want)
	}
	iss, err := f.issues.DropItems(f.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ops Digest #1: Second link"; iss.Subject != want {
		t.Errorf("after dropping the first link, subject = %q, want %q", iss.Subject, want)
	}
	custom, empty := "Custom", ""
	if _, err := f.issues.Edit(f.ctx, EditParams{Subject: &custom}); err != nil {
		t.Fatal(err)
	}
	iss, err = f.issues.Edit(f.ctx, EditParams{Subject: &empty})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ops Digest #1: Second link"; iss.Subject != want || iss.SubjectSet {
		t.Errorf("after clearing the subject, subject = %q (set %v), want the default %q", iss.Subject, iss.SubjectSet, want)
	}
	if got := DefaultSubject("L", 3, []Item{{Kind: KindLink, Title: strings.Repeat("x", 400)}}); len([]rune(got)) > maxSubject {
		t.Errorf("DefaultSubject with a long title is %d runes, want at most %d", len([]rune(got)), maxSubject)
	}
}

func TestEditRejectsBadValues(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	f.queue("https://a.example/1", "One", "", "")
	f.build()
	for _, subj := range []string{"two\nlines", "bell\a", strings.Repeat("s", maxSubject+1)} {
		if _, err := f.issues.Edit(f.ctx, EditParams{Subject: &subj}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Edit(subject %q) = %v, want ErrInvalid", subj, err)
		}
	}
	long := strings.Repeat("i", maxIntro+1)
	if _, err := f.issues.Edit(f.ctx, EditParams{Intro: &long}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Edit(intro of %d) = %v, want ErrInvalid", len(long), err)
	}
	if _, err := f.issues.DropItems(f.ctx, 1, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("DropItems(1, 99) = %v, want ErrNotFound", err)
	}
	if d, _ := f.issues.Draft(f.ctx); len(d.Items) != 1 {
		t.Errorf("a failed DropItems changed the draft: %d items, want 1", len(d.Items))
	}
}

func TestWithoutDraft(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	s := "x"
	for name, call := range map[string]func() error{
		"Draft":      func() error { _, err := f.issues.Draft(f.ctx); return err },
		"Edit":       func() error { _, err := f.issues.Edit(f.ctx, EditParams{Subject: &s}); return err },
		"DropItems":  func() error { _, err := f.issues.DropItems(f.ctx, 1); return err },
		"Cancel":     func() error { _, err := f.issues.Cancel(f.ctx, false); return err },
		"ByNumber 1": func() error { _, err := f.issues.ByNumber(f.ctx, 1); return notFoundAsNoDraft(err, ErrNotFound) },
	} {
		if err := call(); !errors.Is(err, ErrNoDraft) {
			t.Errorf("%s with no draft = %v, want ErrNoDraft", name, err)
		}
	}
}

// notFoundAsNoDraft maps target to ErrNoDraft so one table can check both sentinels.
func notFoundAsNoDraft(err, target error) error {
	if errors.Is(err, target) {
		return ErrNoDraft
	}
	return err
}

func TestCancel(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	f.queue("https://a.example/1", "One", "", "")
	first := f.build()
	got, err := f.issues.Cancel(f.ctx, false)
	if err != nil || got.ID != first.ID || got.Status != StatusCancelled {
		t.Fatalf("Cancel() = %d %s, %v; want issue %d cancelled", got.ID, got.Status, err, first.ID)
	}
	again := f.build()
	if again.Number != 1 || again.ID == first.ID {
		t.Errorf("build after cancel = issue %d #%d, want a new issue #1", again.ID, again.Number)
	}

	// Cancelling a send: copies not yet sent are skipped, links go back to the queue.
	f.exec(`UPDATE issues SET status = 'sending', send_started_at = ? WHERE id = ?`, f.clock.UnixMilli(), again.ID)
	f.exec(`UPDATE links SET issue_id = ?`, again.ID)
	for i, st := range []string{"sent", "pending", "retry"} {
		sub := f.subscriber("c" + string(rune('0'+i)) + "@example.com")
		f.exec(`INSERT INTO deliveries (issue_id, subscriber_id, status, updated_at) VALUES (?, ?, ?, 0)`, again.ID, sub, st)
	}
	if _, err := f.issues.Cancel(f.ctx, false); !errors.Is(err, ErrNoDraft) {
		t.Errorf("Cancel(sending=false) while sending = %v, want ErrNoDraft", err)
	}
	if _, err := f.issues.Cancel(f.ctx, true); err != nil {
		t.Fatalf("Cancel(sending=true) = %v", err)
	}
	sum, err := f.issues.Summarize(f.ctx, again.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != StatusCancelled || sum.Sent != 1 || sum.Skipped != 2 || sum.Pending+sum.Retrying != 0 {
		t.Errorf("after cancelling a send: %+v, want cancelled with 1 sent and 2 skipped", sum)
	}
	if q, _ := f.links.Queued(f.ctx); len(q) != 1 {
		t.Errorf("after cancelling a send, %d links are queued, want 1", len(q))
	}
}

func TestListCounts(t *testing.T) {
	f := newIssuesFixture(t, Config{})
	f.queue("https://a.example/1", "One", "", "")
	f.build()
	one := f.send("sent", "sent", "sent", "failed", "retry", "pending", "skipped")
	f.clock = f.clock.Add(time.Hour)
	f.queue("https://a.example/2", "Two", "", "")
	f.build()
	two := f.send("sent")
	f.queue("https://a.example/3", "Three", "", "")
	f.build() // a draft is not listed
	for _, ev := range []struct {
		status string
		issue  int64
	}{{"unsubscribed", one.ID}, {"unsubscribed", one.ID}, {"bounced", one.ID}, {"complained", one.ID}, {"unsubscribed", two.ID}, {"unsubscribed", 0}} {
		f.exec(`INSERT INTO subscriber_events (status, source, issue_id, at) VALUES (?, 'page', nullif(?, 0), 0)`, ev.status, ev.issue)
	}
	list, err := f.issues.List(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []Tally
	var numbers []int
	for _, s := range list {
		got, numbers = append(got, s.Tally), append(numbers, s.Number)
	}
	want := []Tally{
		{Recipients: 1, Sent: 1, Unsubscribed: 1},
		{Recipients: 7, Sent: 3, Failed: 1, Retrying: 1, Pending: 1, Skipped: 1, Bounced: 1, Unsubscribed: 2, Complained: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" || !cmp.Equal(numbers, []int{2, 1}) {
		t.Errorf("List() = issues %v, tallies mismatch (-want +got):\n%s", numbers, diff)
	}
	if list[1].Items != 1 || list[1].Subject != "Backend Weekly #1: One" || list[1].SentAt.IsZero() {
		t.Errorf("List()[1] = %+v, want issue #1 with 1 item, its subject and sent time", list[1])
	}
}

func TestCheckMinItems(t *testing.T) {
	f := newIssuesFixture(t, Config{MinItems: 2})
	tests := []struct {
		items int
		ok    bool
	}{{0, false}, {1, false}, {2, true}, {5, true}}
	for _, tt := range tests {
		err := f.issues.CheckMinItems(Issue{Items: make([]Item, tt.items)})
		if ok := err == nil; ok != tt.ok || (!ok && !errors.Is(err, ErrTooFewItems)) {
			t.Errorf("CheckMinItems(%d items) = %v, want ok %v", tt.items, err, tt.ok)
		}
	}
	if err := NewIssues(f.db, nil, Config{}).CheckMinItems(Issue{}); !errors.Is(err, ErrTooFewItems) {
		t.Errorf("CheckMinItems(empty issue, no minimum) = %v, want ErrTooFewItems", err)
	}
}
