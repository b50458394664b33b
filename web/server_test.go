package web

import (
	"bytes"
	"context"
	"encoding/xml"
	"html"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/templates"
	"github.com/google/go-cmp/cmp"
)

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	sub := f.add("ann@example.com", "")
	f.issue(1, "sent")
	f.issue(2, "draft")
	f.issue(3, "sending")
	unsub := "/unsubscribe/" + f.tokens.Unsubscribe(sub.ID, 0)
	confirm := "/confirm/" + f.tokens.Confirm(sub.ID, f.clock().Add(time.Hour))
	for _, tc := range []struct {
		method, path string
		want         int
		contentType  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/subscribe", 200, "text/html; charset=utf-8"},
		{"GET", unsub, 200, "text/html; charset=utf-8"},
		{"GET", confirm, 200, "text/html; charset=utf-8"},
		{"GET", "/archive", 200, "text/html; charset=utf-8"},
		{"GET", "/archive/1", 200, "text/html; charset=utf-8"},
		{"GET", "/archive/2", 404, "text/html; charset=utf-8"}, // a draft is not public
		{"GET", "/archive/3", 404, "text/html; charset=utf-8"}, // nor one still sending
		{"GET", "/archive/4", 404, "text/html; charset=utf-8"},
		{"GET", "/archive/01", 404, "text/html; charset=utf-8"},
		{"GET", "/archive/-1", 404, "text/html; charset=utf-8"},
		{"GET", "/archive/x", 404, "text/html; charset=utf-8"},
		{"GET", "/feed.atom", 200, "application/atom+xml; charset=utf-8"},
		{"GET", "/healthz", 200, "text/plain; charset=utf-8"},
		{"GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8"},
		{"GET", "/style.css", 200, "text/css; charset=utf-8"},
		// Nothing else exists.
		{"GET", "/admin", 404, ""},
		{"GET", "/subscribers", 404, ""},
		{"GET", "/archive/1/edit", 404, ""},
		{"GET", "/unsubscribe", 404, ""},
		{"DELETE", "/subscribe", 405, ""},
		{"PUT", unsub, 405, ""},
		{"POST", "/archive", 405, ""},
		{"POST", "/metrics", 405, ""},
		{"DELETE", "/", 405, ""},
	} {
		w := f.do(tc.method, tc.path, "", nil, "")
		if w.Code != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
		if tc.contentType != "" && w.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, w.Header().Get("Content-Type"), tc.contentType)
		}
		if tc.method == "HEAD" && w.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d bytes of body, want none", tc.path, w.Body.Len())
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for _, path := range []string{"/", "/unsubscribe/AAAA", "/archive", "/feed.atom", "/healthz", "/nope"} {
		w := f.do("GET", path, "", nil, "")
		got := map[string]string{}
		for k := range want {
			got[k] = w.Header().Get(k)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s headers (-want +got):\n%s", path, diff)
		}
	}
	for path, want := range map[string]string{"/unsubscribe/AAAA": "noindex", "/archive/99": "noindex", "/": "", "/archive": ""} {
		if got := f.do("GET", path, "", nil, "").Header().Get("X-Robots-Tag"); got != want {
			t.Errorf("GET %s: X-Robots-Tag %q, want %q", path, got, want)
		}
	}
	// The pages carry no inline script or style, which the CSP would block.
	for _, path := range []string{"/", "/archive", "/archive/1", "/unsubscribe/AAAA"} {
		body := f.do("GET", path, "", nil, "").Body.String()
		if regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=`).MatchString(body) {
			t.Errorf("GET %s has inline script or style:\n%s", path, body)
		}
	}
}

func TestRequestBodyLimit(t *testing.T) {
	f := newFixture(t)
	big := "email=a%40example.com&name=" + strings.Repeat("x", maxBody)
	if w := f.form("/subscribe", big); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /subscribe with %d bytes: status %d, want 413", len(big), w.Code)
	}
	sub := f.add("ann@example.com", "")
	body := &bytes.Buffer{}
	mw := multipart.NewWriter(body)
	mw.WriteField("padding", strings.Repeat("x", maxBody))
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	ct := mw.FormDataContentType()
	if w := f.do("POST", "/unsubscribe/"+f.tokens.Unsubscribe(sub.ID, 0), ct, body, ""); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /unsubscribe with a huge multipart body: status %d, want 413", w.Code)
	}
}

func TestArchive(t *testing.T) {
	f := newFixture(t)
	f.issue(1, "sent")
	f.issue(2, "draft")
	index := f.do("GET", "/archive", "", nil, "").Body.String()
	if !strings.Contains(index, `href="`+testBase+`/archive/1"`) || strings.Contains(index, "/archive/2") {
		t.Errorf("archive index should link issue 1 and not the draft:\n%s", index)
	}
	page := f.do("GET", "/archive/1", "", nil, "").Body.String()
	for _, want := range []string{"Queues, logs and locks", "Why SQLite is enough", "Read it twice.",
		`href="https://example.org/sqlite"`, "Example Blog", "<b>matter</b>"} {
		if !strings.Contains(page, want) {
			t.Errorf("archive page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "onerror", "alert(", "/unsubscribe/"} {
		if strings.Contains(page, bad) {
			t.Errorf("archive page contains %q:\n%s", bad, page)
		}
	}
}

// TestArchiveSaysWhatTheEmailSaid renders the email of an issue the way the send
// does and checks that the archive page carries the same subject, intro and items.
func TestArchiveSaysWhatTheEmailSaid(t *testing.T) {
	f := newFixture(t)
	f.issue(1, "sent")
	iss, err := digest.NewIssues(f.db, nil, digest.Config{}).ByNumber(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	r, err := set.RenderIssue(iss.Template(digest.Site{ListName: "Backend Weekly", BaseURL: testBase}))
	if err != nil {
		t.Fatal(err)
	}
	var email strings.Builder
	r.Personalize(templates.Personal{Name: "Ann", UnsubscribeURL: testBase + "/unsubscribe/x"}).WriteHTML(&email)
	page := f.do("GET", "/archive/1", "", nil, "").Body.String()
	for _, it := range iss.Items {
		for _, s := range []string{html.EscapeString(it.Title), `href="` + it.URL + `"`, html.EscapeString(it.Note)} {
			if !strings.Contains(email.String(), s) {
				t.Fatalf("the email itself lacks %q; fix the test", s)
			}
			if !strings.Contains(page, s) {
				t.Errorf("the email has %q and the archive page does not", s)
			}
		}
	}
	for _, s := range []string{iss.Subject, iss.Intro} {
		if !strings.Contains(page, html.EscapeString(s)) {
			t.Errorf("archive page lacks %q", s)
		}
	}
	if strings.Contains(page, "Ann") {
		t.Error("archive page carries the subscriber's name")
	}
}

func TestFeed(t *testing.T) {
	f := newFixture(t)
	f.issue(1, "sent")
	f.issue(2, "sent")
	f.issue(3, "draft")
	w := f.do("GET", "/feed.atom", "", nil, "")
	var feed struct {
		Title   string `xml:"title"`
		Entries []struct {
			Title string `xml:"title"`
			ID    string `xml:"id"`
			Link  struct {
				Href string `xml:"href,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &feed); err != nil {
		t.Fatalf("feed is not XML: %v\n%s", err, w.Body)
	}
	var links []string
	for _, e := range feed.Entries {
		links = append(links, e.Link.Href)
	}
	want := []string{testBase + "/archive/2", testBase + "/archive/1"}
	if diff := cmp.Diff(want, links); diff != "" || feed.Title != "Backend Weekly" {
		t.Errorf("feed %q entries (-want +got):\n%s", feed.Title, diff)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	a := f.add("a@example.com", "")
	f.add("b@example.com", "")
	f.form("/unsubscribe/"+f.tokens.Unsubscribe(a.ID, 0), "List-Unsubscribe=One-Click")
	f.issue(1, "sent")
	ms := f.clock().UnixMilli()
	for _, q := range []string{
		`INSERT INTO deliveries (issue_id, subscriber_id, status, updated_at) VALUES (1, NULL, 'sent', 0), (1, NULL, 'failed', 0)`,
		`INSERT INTO feeds (url, created_at, consecutive_failures) VALUES ('https://a.example/feed', 0, 0), ('https://b.example/feed', 0, 3)`,
	} {
		if _, err := f.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	body := f.do("GET", "/metrics", "", nil, "").Body.String()
	for _, want := range []string{
		`weekly_subscribers{status="active"} 1`,
		`weekly_subscribers{status="unsubscribed"} 1`,
		`weekly_subscribers{status="pending"} 0`,
		`weekly_deliveries{status="sent"} 1`,
		`weekly_deliveries{status="failed"} 1`,
		`weekly_deliveries{status="retry"} 0`,
		`weekly_feeds_failing 1`,
		"weekly_last_send_timestamp_seconds " + strconv.FormatInt(ms/1000, 10),
		"# TYPE weekly_subscribers gauge",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	if w := f.do("GET", "/healthz", "", nil, ""); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q, want 200 ok", w.Code, w.Body)
	}
	f.db.Close()
	if w := f.do("GET", "/healthz", "", nil, ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("healthz with the database closed: %d, want 503", w.Code)
	}
}

func TestLogsHoldNoAddressOrToken(t *testing.T) {
	f := newFixture(t)
	sub := f.add("secret.person@example.com", "")
	tok := f.tokens.Unsubscribe(sub.ID, 0)
	f.do("GET", "/unsubscribe/"+tok, "", nil, "")
	f.form("/unsubscribe/"+tok, "List-Unsubscribe=One-Click")
	f.form("/subscribe", "email=another.secret%40example.com")
	f.form(confirmPath(t, f.mail.all()[0]), "")
	logs := f.logs.String()
	if !strings.Contains(logs, "subscriber_id=") {
		t.Errorf("logs name no subscriber id:\n%s", logs)
	}
	for _, secret := range []string{"secret.person", "another.secret", "example.com", tok,
		strings.TrimPrefix(confirmPath(t, f.mail.all()[0]), "/confirm/")} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestRunShutsDownGracefully(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.srv.Run(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("healthz over the network: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context ending")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

func TestServerTimeouts(t *testing.T) {
	srv := newFixture(t).srv.httpServer(t.Context())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 || d > time.Minute {
			t.Errorf("%s = %v, want a limit of at most a minute", name, d)
		}
	}
	if srv.WriteTimeout <= sendTimeout {
		t.Errorf("WriteTimeout %v must leave room for the confirmation email (%v) after the answer", srv.WriteTimeout, sendTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want a small limit", srv.MaxHeaderBytes)
	}
}

func TestNewRequiresConfig(t *testing.T) {
	f := newFixture(t)
	good := f.srv.cfg
	for name, edit := range map[string]func(*Config){
		"no DB":          func(c *Config) { c.DB = nil },
		"no Subscribers": func(c *Config) { c.Subscribers = nil },
		"no Tokens":      func(c *Config) { c.Tokens = nil },
		"no Archive":     func(c *Config) { c.Archive = nil },
		"no Pages":       func(c *Config) { c.Pages = nil },
		"no Mailer":      func(c *Config) { c.Mailer = nil },
		"no BaseURL":     func(c *Config) { c.BaseURL = "" },
		"relative URL":   func(c *Config) { c.BaseURL = "/weekly" },
		"ftp URL":        func(c *Config) { c.BaseURL = "ftp://example.com" },
	} {
		c := good
		edit(&c)
		if _, err := New(c); err == nil {
			t.Errorf("New with %s: no error", name)
		}
	}
	if _, err := New(good); err != nil {
		t.Errorf("New with a full config: %v", err)
	}
}
