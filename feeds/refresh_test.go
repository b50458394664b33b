package feeds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func newTestStore(t testing.TB) (*Store, *clock) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: testNow}
	return NewStore(db, c.now), c
}

func newTestFetcher(cfg FetcherConfig) *Fetcher {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	cfg.UserAgent = "TestWeekly/1 (+https://example.com)"
	return NewFetcher(cfg)
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// body serves b with the content type, and supports conditional GET on etag.
func body(b []byte, ctype, etag string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if etag != "" {
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
		}
		w.Header().Set("Content-Type", ctype)
		w.Write(b)
	}
}

func addFeed(t testing.TB, s *Store, url string) Feed {
	t.Helper()
	f, err := s.Add(context.Background(), url, "", "")
	if err != nil {
		t.Fatalf("Add(%s) = %v", url, err)
	}
	return f
}

func refresh(t testing.TB, s *Store, f *Fetcher, ids ...int64) []Result {
	t.Helper()
	rs, err := s.Refresh(context.Background(), f, ids...)
	if err != nil {
		t.Fatalf("Refresh(%v) = %v", ids, err)
	}
	return rs
}

func TestNewFeedItemsAreSeenAndLaterOnesNew(t *testing.T) {
	s, clk := newTestStore(t)
	ctx := context.Background()
	var mu sync.Mutex
	doc := fixture(t, "rss2.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(doc)
	}))
	defer srv.Close()
	f := newTestFetcher(FetcherConfig{})
	fd := addFeed(t, s, srv.URL+"/feed.xml")

	rs := refresh(t, s, f, fd.ID)
	want := Result{FeedID: fd.ID, Name: "Queue Theory & Practice", URL: fd.URL, Items: 6, New: 6, FirstFetch: true, NextFetchAt: testNow}
	if diff := cmp.Diff([]Result{want}, rs); diff != "" {
		t.Errorf("first Refresh (-want +got):\n%s", diff)
	}
	if items, _ := s.ItemsSince(ctx, time.Time{}, testNow.Add(time.Hour)); len(items) != 0 {
		t.Errorf("ItemsSince after adding = %d items, want none: a new feed's items are seen, not new", len(items))
	}

	// A new item appears; one old item drops out and comes back later.
	newItem := `<item><title>Fresh</title><link>https://blog.example.com/posts/fresh</link><guid>fresh-1</guid><pubDate>Sun, 22 Nov 2026 10:00:00 +0000</pubDate></item>`
	mu.Lock()
	orig := doc
	doc = []byte(strings.Replace(strings.Replace(string(orig), "<item>", newItem+"<item>", 1), "post-103", "post-103-gone", 1))
	mu.Unlock()
	clk.add(time.Hour)
	rs = refresh(t, s, f)
	if len(rs) != 1 || rs[0].New != 2 || rs[0].FirstFetch {
		t.Fatalf("second Refresh = %+v, want 2 new items (fresh and the changed GUID)", rs)
	}
	mu.Lock()
	doc = orig // post-103 is back: it must not be new again
	mu.Unlock()
	clk.add(time.Hour)
	if rs = refresh(t, s, f); rs[0].New != 0 {
		t.Errorf("third Refresh: %d new, want 0: an item that comes back is not new", rs[0].New)
	}

	items, err := s.ItemsSince(ctx, testNow.Add(time.Minute), testNow.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(items))
	for _, it := range items {
		got = append(got, fmt.Sprintf("%s|%s|%s", it.Title, it.FeedName, it.FirstSeenAt.Format(time.Kitchen)))
	}
	wantItems := []string{"Relative links|Queue Theory & Practice|10:00AM", "Fresh|Queue Theory & Practice|10:00AM"}
	if diff := cmp.Diff(wantItems, got); diff != "" {
		t.Errorf("ItemsSince (-want +got):\n%s", diff)
	}
	if items, _ := s.ItemsSince(ctx, testNow.Add(2*time.Hour), testNow.Add(3*time.Hour)); len(items) != 0 {
		t.Errorf("ItemsSince past the window = %d items, want 0 ([from, to) is half-open)", len(items))
	}
}

func TestConditionalGET(t *testing.T) {
	s, clk := newTestStore(t)
	var requests []http.Header
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Header.Clone())
		mu.Unlock()
		if r.Header.Get("If-None-Match") == `"v1"` && r.Header.Get("If-Modified-Since") == "Mon, 16 Nov 2026 08:00:00 GMT" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 16 Nov 2026 08:00:00 GMT")
		w.Header().Set("Content-Type", "application/atom+xml")
		w.Write(fixture(t, "atom.xml"))
	}))
	defer srv.Close()
	f := newTestFetcher(FetcherConfig{})
	fd := addFeed(t, s, srv.URL+"/atom.xml")
	if rs := refresh(t, s, f, fd.ID); rs[0].Err != nil || rs[0].Items != 2 {
		t.Fatalf("first fetch = %+v, want 2 items", rs[0])
	}
	clk.add(time.Hour)
	rs := refresh(t, s, f, fd.ID)
	if !rs[0].NotModified || rs[0].Items != 0 || rs[0].New != 0 || rs[0].Err != nil {
		t.Errorf("second fetch = %+v, want not modified with nothing parsed", rs[0])
	}
	if len(requests) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(requests))
	}
	if h := requests[0]; h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
		t.Errorf("first request sent validators: %v", h)
	}
	if ua := requests[1].Get("User-Agent"); !strings.HasPrefix(ua, "TestWeekly/1") {
		t.Errorf("User-Agent = %q, want ours", ua)
	}
	got, _ := s.Get(context.Background(), fd.ID)
	if got.ETag != `"v1"` || got.LastModified == "" || !got.LastSuccessAt.Equal(testNow.Add(time.Hour)) || got.ItemCount != 2 {
		t.Errorf("after 304, feed = %+v; want validators kept, success time updated, 2 items", got)
	}
}

func TestFetchFailures(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/429", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7200")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", testNow.Add(3*time.Hour).Format(http.TimeFormat))
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/html", body(fixture(t, "page.html"), "text/html; charset=utf-8", ""))
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "application/rss+xml") })
	mux.HandleFunc("/broken", body([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><item><title>unclosed`), "application/rss+xml", ""))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io := `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>`
		fmt.Fprint(w, io)
		item := []byte(strings.Repeat("<item><title>again</title><description>and again</description></item>\n", 100))
		for r.Context().Err() == nil {
			if _, err := w.Write(item); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path     string
		wantErr  string
		wantWait time.Duration // from now to the next fetch
	}{
		{"/404", "HTTP 404 Not Found", Backoff(1)},
		{"/500", "HTTP 500 Internal Server Error", Backoff(1)},
		{"/429", "HTTP 429 Too Many Requests", 2 * time.Hour},
		{"/503", "HTTP 503 Service Unavailable", 3 * time.Hour},
		{"/html", "not a feed (got text/html)", Backoff(1)},
		{"/empty", "empty body", Backoff(1)},
		{"/broken", "parse:", Backoff(1)},
		{"/slow", "timed out after 1s", Backoff(1)},
		{"/endless", "body larger than the limit (32 KiB)", Backoff(1)},
	}
	s, _ := newTestStore(t)
	f := newTestFetcher(FetcherConfig{Timeout: time.Second, MaxBody: 32 << 10, Workers: 4})
	var ids []int64
	for _, tt := range tests {
		ids = append(ids, addFeed(t, s, srv.URL+tt.path).ID)
	}
	rs := refresh(t, s, f, ids...) // all at once: one bad feed never stops another
	for i, tt := range tests {
		r := rs[i]
		if r.Err == nil || !strings.Contains(r.Err.Error(), tt.wantErr) {
			t.Errorf("%s: Err = %v, want one containing %q", tt.path, r.Err, tt.wantErr)
		}
		if got := r.NextFetchAt.Sub(testNow); got != tt.wantWait || r.Failures != 1 {
			t.Errorf("%s: next fetch in %v after %d failures, want %v after 1", tt.path, got, r.Failures, tt.wantWait)
		}
		fd, err := s.Get(context.Background(), ids[i])
		if err != nil || fd.LastError == "" || fd.ConsecutiveFailures != 1 || !fd.NextFetchAt.Equal(r.NextFetchAt) {
			t.Errorf("%s: stored feed = %+v, %v; want the error, 1 failure and the next fetch time", tt.path, fd, err)
		}
	}
	if !errors.Is(rs[len(rs)-1].Err, ErrTooLarge) {
		t.Errorf("endless body: Err = %v, want ErrTooLarge", rs[len(rs)-1].Err)
	}
	if !errors.Is(rs[4].Err, ErrNotAFeed) {
		t.Errorf("HTML page: Err = %v, want ErrNotAFeed", rs[4].Err)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{0, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
		8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	for n, w := range want {
		if got := Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := Backoff(1000); got != 24*time.Hour {
		t.Errorf("Backoff(1000) = %v, want 24h", got)
	}
}

// TestBackoffGrowth fails a feed again and again through Refresh: each wait doubles
// up to a day, the feed is never dropped, and one success resets it.
func TestBackoffGrowth(t *testing.T) {
	var healthy atomic.Bool
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		body(fixture(t, "rdf.xml"), "application/rdf+xml", "")(w, r)
	}))
	defer srv.Close()
	s, clk := newTestStore(t)
	f := newTestFetcher(FetcherConfig{})
	fd := addFeed(t, s, srv.URL+"/rdf")
	var waits []time.Duration
	for i := 0; i < 9; i++ {
		rs := refresh(t, s, f)
		if len(rs) != 1 {
			t.Fatalf("round %d: Refresh fetched %d feeds, want 1", i, len(rs))
		}
		waits = append(waits, rs[0].NextFetchAt.Sub(clk.now()))
		clk.add(time.Minute)
		if rs := refresh(t, s, f); len(rs) != 0 {
			t.Fatalf("round %d: Refresh fetched a feed still backing off", i)
		}
		clk.set(rs[0].NextFetchAt)
	}
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
		8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if got := hits.Load(); got != 9 {
		t.Errorf("server saw %d fetches, want 9", got)
	}
	healthy.Store(true)
	rs := refresh(t, s, f)
	got, _ := s.Get(context.Background(), fd.ID)
	if len(rs) != 1 || rs[0].Err != nil || got.ConsecutiveFailures != 0 || got.LastError != "" || got.ItemCount != 2 {
		t.Errorf("after recovery: result %+v, feed %+v; want success with failures reset", rs, got)
	}
}

func TestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/feed", body(fixture(t, "feed.json"), "application/feed+json", ""))
	mux.Handle("/moved", http.RedirectHandler("/moved-again", http.StatusMovedPermanently))
	mux.Handle("/moved-again", http.RedirectHandler("/feed", http.StatusPermanentRedirect))
	mux.Handle("/temporary", http.RedirectHandler("/feed", http.StatusFound))
	mux.Handle("/mixed", http.RedirectHandler("/temporary", http.StatusMovedPermanently))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s, _ := newTestStore(t)
	f := newTestFetcher(FetcherConfig{})
	tests := []struct{ path, wantURL string }{
		{"/moved", "/feed"},
		{"/temporary", "/temporary"},
		{"/mixed", "/mixed"},
	}
	for _, tt := range tests {
		fd := addFeed(t, s, srv.URL+tt.path)
		rs := refresh(t, s, f, fd.ID)
		got, _ := s.Get(context.Background(), fd.ID)
		if rs[0].Err != nil || got.URL != srv.URL+tt.wantURL {
			t.Errorf("fetch %s: err %v, stored URL %s, want %s", tt.path, rs[0].Err, got.URL, srv.URL+tt.wantURL)
		}
	}
}

func TestPerHostLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		body(fixture(t, "rss2.xml"), "application/rss+xml", "")(w, r)
	}))
	defer srv.Close()
	s, _ := newTestStore(t)
	f := newTestFetcher(FetcherConfig{PerHost: 2, Workers: 8})
	for i := range 10 {
		addFeed(t, s, fmt.Sprintf("%s/feed/%d", srv.URL, i))
	}
	rs := refresh(t, s, f)
	if len(rs) != 10 {
		t.Fatalf("Refresh = %d results, want 10", len(rs))
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrent requests to one host = %d, want 1..2", p)
	}
}

func TestFeedStore(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	fd, err := s.Add(ctx, "https://Example.com/feed.xml?utm_source=x", " My\nFeed ", "Go")
	if err != nil {
		t.Fatal(err)
	}
	if fd.URL != "https://example.com/feed.xml" || fd.Name != "My Feed" || fd.Section != "Go" {
		t.Errorf("Add = %+v, want normalised URL and cleaned name", fd)
	}
	if _, err := s.Add(ctx, "https://example.com/feed.xml#x", "", ""); !errors.Is(err, ErrExists) {
		t.Errorf("Add(same URL) = %v, want ErrExists", err)
	}
	if _, err := s.Add(ctx, "feed://example.com/x", "", ""); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("Add(feed://) = %v, want ErrInvalidURL", err)
	}
	if _, err := s.Refresh(ctx, newTestFetcher(FetcherConfig{}), 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Refresh(999) = %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, fd.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, fd.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

// TestHeaderCharset serves ISO-8859-1 named only in the Content-Type header, and the
// fixture that names it in its XML declaration with a contradicting header.
func TestHeaderCharset(t *testing.T) {
	latin1 := fixture(t, "latin1.xml")
	noDecl := latin1[bytes.Index(latin1, []byte("?>"))+2:]
	mux := http.NewServeMux()
	mux.HandleFunc("/header-only", body(noDecl, "application/rss+xml; charset=ISO-8859-1", ""))
	mux.HandleFunc("/declared", body(latin1, "text/xml; charset=windows-1252", ""))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s, _ := newTestStore(t)
	f := newTestFetcher(FetcherConfig{})
	for _, path := range []string{"/header-only", "/declared"} {
		fd := addFeed(t, s, srv.URL+path)
		rs := refresh(t, s, f, fd.ID)
		if rs[0].Err != nil || rs[0].Name != "Café des Systèmes" {
			t.Errorf("%s: result %+v, want the feed title decoded from ISO-8859-1", path, rs[0])
		}
	}
}
