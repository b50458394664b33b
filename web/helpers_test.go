package web

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
)

const testBase = "https://weekly.example.com"

// fixture is a Server over a real SQLite database in t.TempDir().
type fixture struct {
	t      testing.TB
	db     *sql.DB
	path   string // the database file
	subs   *subscribers.Store
	tokens *subscribers.Tokens
	mail   *recordingMailer
	srv    *Server
	logs   *syncBuffer
	now    time.Time
	mu     sync.Mutex // guards now
}

// recordingMailer keeps the confirmation emails the server asked to send. It stands
// in for the mailer package, which has its own tests; cmd/weekly's end-to-end test
// reads the real outbox.
type recordingMailer struct {
	mu   sync.Mutex
	sent []Confirmation
}

func (m *recordingMailer) SendConfirmation(ctx context.Context, c Confirmation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, c)
	return nil
}

func (m *recordingMailer) all() []Confirmation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Confirmation(nil), m.sent...)
}

// waitFor returns the emails once there are n, or fails the test after 5s. Over a
// real connection the answer reaches the client before the email is sent.
func (m *recordingMailer) waitFor(t testing.TB, n int) []Confirmation {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if all := m.all(); len(all) >= n {
			return all
		}
	}
	t.Fatalf("confirmation emails = %d after 5s, want %d", len(m.all()), n)
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t testing.TB, edit ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "weekly.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, db: db, path: path, mail: &recordingMailer{}, logs: &syncBuffer{},
		now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	f.subs = subscribers.NewStore(db, f.clock)
	f.tokens, err = subscribers.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		DB:          db,
		Subscribers: f.subs,
		Tokens:      f.tokens,
		Archive:     NewArchive(digest.NewIssues(db, nil, digest.Config{})),
		Pages:       set,
		Mailer:      f.mail,
		BaseURL:     testBase + "/",
		Name:        "Backend Weekly",
		Logger:      slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         f.clock,
	}
	for _, e := range edit {
		e(&cfg)
	}
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// add puts an active subscriber on the list.
func (f *fixture) add(email, name string) subscribers.Subscriber {
	f.t.Helper()
	sub, err := f.subs.Add(context.Background(), email, name, subscribers.SourceCLI)
	if err != nil {
		f.t.Fatal(err)
	}
	return sub
}

func (f *fixture) get(id int64) subscribers.Subscriber {
	f.t.Helper()
	sub, err := f.subs.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return sub
}

// issue inserts a sent issue numbered n (status sent) and returns its id.
func (f *fixture) issue(n int, status string) int64 {
	f.t.Helper()
	ms := f.clock().UnixMilli()
	var started, sentAt any
	if status == "sent" || status == "sending" {
		started = ms
	}
	if status == "sent" {
		sentAt = ms
	}
	res, err := f.db.Exec(`INSERT INTO issues (number, subject, intro, status, window_start, window_end, created_at, send_started_at, sent_at)
		VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)`, n, "Queues, logs and locks", "This week: three ways to lose data.", status, ms, ms, started, sentAt)
	if err != nil {
		f.t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	items := []struct{ kind, section, title, url, note, feed, excerpt string }{
		{"link", "Editor's picks", "Why SQLite is enough", "https://example.org/sqlite", "Read it twice.", "", ""},
		{"feed", "From the feeds", "Kafka at scale", "https://blog.example.net/kafka", "", "Example Blog",
			`<p>Partitions <b>matter</b>.</p><script>alert(1)</script><img src=x onerror=alert(2)>`},
	}
	for i, it := range items {
		if _, err := f.db.Exec(`INSERT INTO issue_items (issue_id, position, kind, section, title, url, note, feed_name, excerpt_html)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, i, it.kind, it.section, it.title, it.url, it.note, it.feed, it.excerpt); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

// do sends one request through the server's handler from client address ip.
func (f *fixture) do(method, path, contentType string, body io.Reader, ip string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(method, testBase+path, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if ip != "" {
		r.RemoteAddr = ip + ":40000"
	}
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, r)
	return w
}

func (f *fixture) form(path string, vals string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(vals), "192.0.2.1")
}

// snapshot returns every subscriber row and status event, to prove a request
// changed nothing.
func (f *fixture) snapshot() []string {
	f.t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT id || '|' || email || '|' || name || '|' || status || '|' || status_changed_at || '|' || status_source || '|' || ifnull(unsubscribed_issue_id, '') FROM subscribers ORDER BY id`,
		`SELECT id || '|' || ifnull(subscriber_id, '') || '|' || status || '|' || source || '|' || ifnull(issue_id, '') || '|' || at FROM subscriber_events ORDER BY id`,
	} {
		rows, err := f.db.Query(q)
		if err != nil {
			f.t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				f.t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			f.t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// event is one row of subscriber_events, without its id and time.
type event struct {
	Subscriber int64
	Status     string
	Source     string
	Issue      int64
}

func (f *fixture) events(id int64) []event {
	f.t.Helper()
	rows, err := f.db.Query(`SELECT subscriber_id, status, source, ifnull(issue_id, 0) FROM subscriber_events
		WHERE subscriber_id = ? ORDER BY id`, id)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.Subscriber, &e.Status, &e.Source, &e.Issue); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
