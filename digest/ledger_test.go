package digest_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/subscribers"
)

func TestLedgerStartTakesActiveSubscribersOnly(t *testing.T) {
	f := newFixture(t, 5)
	ctx := context.Background()
	// One left before the send, one was never confirmed: neither gets a delivery.
	sub, _ := f.subs.ByEmail(ctx, f.emails[1])
	if _, err := f.subs.Unsubscribe(ctx, sub.ID, subscribers.SourceCLI, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.subs.SignUp(ctx, "pending@example.org", ""); err != nil {
		t.Fatal(err)
	}
	res, err := f.db.Exec(`INSERT INTO links (url, position, created_at) VALUES ('https://a.example/x', 1, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	linkID, _ := res.LastInsertId()
	if _, err := f.db.Exec(`INSERT INTO issue_items (issue_id, position, kind, title, url, link_id) VALUES (?, 1, 'link', 'X', 'https://a.example/x', ?)`,
		f.issueID, linkID); err != nil {
		t.Fatal(err)
	}

	n, first, err := digest.Recipients(ctx, f.db, 2)
	if err != nil || n != 4 || !cmp.Equal(first, []int64{1, 3}) {
		t.Errorf("Recipients = %d, %v, %v; want 4, [1 3], nil", n, first, err)
	}
	r, err := f.sender(nil).Send(ctx, f.issueID, content)
	if err != nil || !r.Finished {
		t.Fatalf("Send = %+v, %v", r, err)
	}
	want := digest.Counts{Total: 4, Sent: 4}
	if diff := cmp.Diff(want, r.Counts); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	var linkIssue int64
	var html, text string
	f.db.QueryRow(`SELECT issue_id FROM links WHERE id = ?`, linkID).Scan(&linkIssue)
	f.db.QueryRow(`SELECT html, text FROM issues WHERE id = ?`, f.issueID).Scan(&html, &text)
	if linkIssue != f.issueID || html != content.HTML || text != content.Text {
		t.Errorf("after the send: link issue %d, html %q, text %q; want %d, %q, %q", linkIssue, html, text, f.issueID, content.HTML, content.Text)
	}
}
