package links

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/store"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://Example.COM/Path?b=2&a=1#frag", "https://example.com/Path?b=2&a=1"},
		{"  http://example.com  ", "http://example.com/"},
		{"HTTPS://example.com:443/x", "https://example.com/x"},
		{"http://example.com:80/x", "http://example.com/x"},
		{"http://example.com:8080/x", "http://example.com:8080/x"},
		{"https://example.com./x", "https://example.com/x"},
		{"https://example.com/a?utm_source=tw&utm_MEDIUM=x&id=7&fbclid=abc", "https://example.com/a?id=7"},
		{"https://example.com/a?gclid=1&mc_eid=2&mc_cid=3&msclkid=4", "https://example.com/a"},
		{"https://example.com/a?q=a%20b&UTM_campaign=z", "https://example.com/a?q=a%20b"},
		{"https://example.com/a?", "https://example.com/a"},
		{"https://example.com/a?x=1&&y=2", "https://example.com/a?x=1&y=2"},
		{"https://[::1]:443/", "https://[::1]/"},
		{"https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "example.com/a", "/relative", "ftp://example.com/", "javascript:alert(1)",
		"mailto:a@example.com", "http://", "https://user:pass@example.com/", "http:example.com",
		"https://exa mple.com/", "https://example.com/" + strings.Repeat("a", 3000)}
	for _, in := range bad {
		if got, err := Normalize(in); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("Normalize(%q) = %q, %v, want ErrInvalidURL", in, got, err)
		}
	}
}

// testStore opens a fresh database; clock returns the store's fixed time.
func testStore(t *testing.T) (*Store, *sql.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	return NewStore(db, func() time.Time { return now }), db
}

// sendIssue makes a sent issue with the given number carrying the links.
func sendIssue(t *testing.T, s *Store, db *sql.DB, number int, ids ...int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO issues (number, status, window_start, window_end, created_at)
		VALUES (?, 'sent', 0, 0, 0)`, number)
	if err != nil {
		t.Fatal(err)
	}
	issueID, _ := res.LastInsertId()
	if err := s.MarkSent(ctx, tx, ids, issueID); err != nil {
		t.Fatalf("MarkSent(%v) = %v", ids, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestAddDeduplicates(t *testing.T) {
	s, db := testStore(t)
	ctx := context.Background()
	first, _, err := s.Add(ctx, AddParams{URL: "https://example.com/post?utm_source=x", Title: "Post"})
	if err != nil {
		t.Fatal(err)
	}
	sent, _, err := s.Add(ctx, AddParams{URL: "https://old.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	sendIssue(t, s, db, 12, sent.ID)

	tests := []struct {
		name       string
		p          AddParams
		wantErr    error
		wantSentIn int
	}{
		{"same URL", AddParams{URL: "https://example.com/post"}, ErrQueued, 0},
		{"tracking and fragment differ", AddParams{URL: "https://EXAMPLE.com/post?fbclid=1#top"}, ErrQueued, 0},
		{"force never duplicates the queue", AddParams{URL: "https://example.com/post", Force: true}, ErrQueued, 0},
		{"sent before", AddParams{URL: "https://old.example.com/?utm_medium=email"}, ErrSentBefore, 12},
		{"sent before, forced", AddParams{URL: "https://old.example.com/", Force: true}, nil, 12},
		{"new", AddParams{URL: "https://example.com/other"}, nil, 0},
		{"invalid", AddParams{URL: "example.com/x"}, ErrInvalidURL, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sentIn, err := s.Add(ctx, tt.p)
			if !errors.Is(err, tt.wantErr) || sentIn != tt.wantSentIn {
				t.Errorf("Add(%+v) = sentIn %d, err %v; want sentIn %d, err %v", tt.p, sentIn, err, tt.wantSentIn, tt.wantErr)
			}
		})
	}
	if n, err := s.SentIn(ctx, "https://old.example.com"); n != 12 || err != nil {
		t.Errorf("SentIn(old) = %d, %v, want 12, nil", n, err)
	}
	if _, err := s.SentIn(ctx, first.URL); !errors.Is(err, ErrNotFound) {
		t.Errorf("SentIn(queued) = %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, sent.ID); !errors.Is(err, ErrSent) {
		t.Errorf("Remove(sent) = %v, want ErrSent", err)
	}
}

func TestQueueOrderEditRemove(t *testing.T) {
	s, db := testStore(t)
	ctx := context.Background()
	var ids []int64
	for i := 1; i <= 4; i++ {
		l, _, err := s.Add(ctx, AddParams{URL: fmt.Sprintf("https://example.com/%d", i), Title: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	titles := func() []string {
		ls, err := s.Queued(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.Title)
		}
		return out
	}
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"start", func() error { return nil }, []string{"1", "2", "3", "4"}},
		{"move 4 before 1", func() error { return s.Move(ctx, ids[3], ids[0]) }, []string{"4", "1", "2", "3"}},
		{"move 1 before 3", func() error { return s.Move(ctx, ids[0], ids[2]) }, []string{"4", "2", "1", "3"}},
		{"remove 2", func() error { return s.Remove(ctx, ids[1]) }, []string{"4", "1", "3"}},
		{"send 4", func() error { sendIssue(t, s, db, 1, ids[3]); return nil }, []string{"1", "3"}},
		{"edit 3", func() error {
			title, note := "  Three\n", "why"
			_, err := s.Edit(ctx, ids[2], EditParams{Title: &title, Note: &note})
			return err
		}, []string{"1", "Three"}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, titles()); diff != "" {
			t.Errorf("after %s: queue (-want +got):\n%s", st.name, diff)
		}
	}
	l, err := s.Get(ctx, ids[2])
	if err != nil || l.Note != "why" || l.Section != "" {
		t.Errorf("Get(%d) = %+v, %v; want note kept and section untouched", ids[2], l, err)
	}
	if err := s.Move(ctx, ids[0], ids[3]); !errors.Is(err, ErrSent) {
		t.Errorf("Move before a sent link = %v, want ErrSent", err)
	}
	if err := s.Move(ctx, 999, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Move(999) = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(999) = %v, want ErrNotFound", err)
	}
	inIssue, err := s.InIssue(ctx, 1)
	if err != nil || len(inIssue) != 1 || inIssue[0].IssueNumber != 1 {
		t.Errorf("InIssue(1) = %+v, %v; want the one sent link with its issue number", inIssue, err)
	}
}

func TestMarkSentRejectsSentLinks(t *testing.T) {
	s, db := testStore(t)
	ctx := context.Background()
	l, _, _ := s.Add(ctx, AddParams{URL: "https://example.com/"})
	sendIssue(t, s, db, 1, l.ID)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := s.MarkSent(ctx, tx, []int64{l.ID}, 1); !errors.Is(err, ErrSent) {
		t.Errorf("MarkSent(already sent) = %v, want ErrSent", err)
	}
}

func TestPageFetcher(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/og", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html><head><title>Plain title</title>
<meta property="og:title" content="Open &amp; Graph   title">
<meta property="og:description" content="What it is about.">
</head><body><title>not this</title></body></html>`)
	})
	mux.HandleFunc("/title", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.UserAgent(), "TestAgent") {
			http.Error(w, "no UA", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		w.Write([]byte("<html><head><title>\n  Caf\xe9 &lt;notes&gt;\n</title><meta name=description content=desc></head>"))
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		fmt.Fprint(w, "%PDF-1.4")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := NewPageFetcher(300*time.Millisecond, 1<<20, "TestAgent/1")
	ctx := context.Background()

	tests := []struct {
		path    string
		want    Page
		wantErr bool
	}{
		{"/og", Page{Title: "Open & Graph title", Description: "What it is about."}, false},
		{"/title", Page{Title: "Café <notes>", Description: "desc"}, false},
		{"/missing", Page{}, true},
		{"/slow", Page{}, true},
		{"/pdf", Page{}, true},
	}
	for _, tt := range tests {
		got, err := f.Fetch(ctx, srv.URL+tt.path)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Fetch(%s) = %+v, %v; want %+v, error %v", tt.path, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := f.Fetch(ctx, "file:///etc/passwd"); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("Fetch(file:) = %v, want ErrInvalidURL", err)
	}
}
