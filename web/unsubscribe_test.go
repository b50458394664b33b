package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
	"github.com/google/go-cmp/cmp"
)

func multipartOneClick(t *testing.T) (body *bytes.Buffer, contentType string) {
	t.Helper()
	body = &bytes.Buffer{}
	mw := multipart.NewWriter(body)
	if err := mw.WriteField("List-Unsubscribe", "One-Click"); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return body, mw.FormDataContentType()
}

func TestOneClickUnsubscribe(t *testing.T) {
	for _, enc := range []string{"urlencoded", "multipart"} {
		t.Run(enc, func(t *testing.T) {
			f := newFixture(t)
			sub := f.add("ann.lee@example.com", "Ann")
			other := f.add("bob@example.com", "")
			issue := f.issue(7, "sent")
			path := "/unsubscribe/" + f.tokens.Unsubscribe(sub.ID, issue)
			post := func() *http.Response {
				if enc == "urlencoded" {
					return f.do("POST", path, "application/x-www-form-urlencoded",
						strings.NewReader("List-Unsubscribe=One-Click"), "").Result()
				}
				body, ct := multipartOneClick(t)
				return f.do("POST", path, ct, body, "").Result()
			}
			for i := range 2 { // the second time changes nothing and still answers 200
				res := post()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("POST #%d: status = %d, want 200", i+1, res.StatusCode)
				}
				for _, h := range []string{"Location", "Set-Cookie"} {
					if v := res.Header.Get(h); v != "" {
						t.Errorf("POST #%d: %s = %q, want none", i+1, h, v)
					}
				}
			}
			got := f.get(sub.ID)
			if got.Status != subscribers.StatusUnsubscribed || got.StatusSource != subscribers.SourceOneClick ||
				got.UnsubscribedIssueID != issue || !got.StatusChangedAt.Equal(f.clock()) {
				t.Errorf("after one-click: status %s, source %s, issue %d, at %v; want unsubscribed, one-click, %d, %v",
					got.Status, got.StatusSource, got.UnsubscribedIssueID, got.StatusChangedAt, issue, f.clock())
			}
			want := []event{
				{sub.ID, "active", "cli", 0},
				{sub.ID, "unsubscribed", "one-click", issue},
			}
			if diff := cmp.Diff(want, f.events(sub.ID)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if st := f.get(other.ID).Status; st != subscribers.StatusActive {
				t.Errorf("another subscriber's status = %s, want active", st)
			}
		})
	}
}

func TestUnsubscribePageThenButton(t *testing.T) {
	f := newFixture(t)
	sub := f.add("ann.lee@example.com", "Ann")
	issue := f.issue(3, "sent")
	token := f.tokens.Unsubscribe(sub.ID, issue)
	before := f.snapshot()

	// GET (and HEAD, as link scanners send) show the page and change nothing.
	for _, m := range []string{"GET", "HEAD", "GET"} {
		w := f.do(m, "/unsubscribe/"+token, "", nil, "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status = %d, want 200", m, w.Code)
		}
	}
	if diff := cmp.Diff(before, f.snapshot()); diff != "" {
		t.Fatalf("GET changed the database (-before +after):\n%s", diff)
	}
	body := f.do("GET", "/unsubscribe/"+token, "", nil, "").Body.String()
	for _, want := range []string{
		"a******@e******.com",
		`<form method="post" action="` + testBase + "/unsubscribe/" + token + `">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "ann.lee@example.com") {
		t.Error("GET page shows the whole address")
	}

	// The button posts an empty form: source "page".
	w := f.do("POST", "/unsubscribe/"+token, "application/x-www-form-urlencoded", strings.NewReader(""), "")
	if w.Code != http.StatusOK {
		t.Fatalf("POST from the page: status = %d, want 200", w.Code)
	}
	if !strings.Contains(w.Body.String(), testBase+"/subscribe") {
		t.Errorf("done page offers no way to subscribe again:\n%s", w.Body)
	}
	got := f.get(sub.ID)
	if got.Status != subscribers.StatusUnsubscribed || got.StatusSource != subscribers.SourcePage || got.UnsubscribedIssueID != issue {
		t.Errorf("after the button: %s from %s, issue %d; want unsubscribed from page, issue %d",
			got.Status, got.StatusSource, got.UnsubscribedIssueID, issue)
	}
}

func TestOneClickSurvivesClientHangingUp(t *testing.T) {
	f := newFixture(t)
	sub := f.add("ann@example.com", "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the mail provider did not wait for the answer
	r := httptest.NewRequestWithContext(ctx, "POST", testBase+"/unsubscribe/"+f.tokens.Unsubscribe(sub.ID, 0),
		strings.NewReader("List-Unsubscribe=One-Click"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	f.srv.Handler().ServeHTTP(httptest.NewRecorder(), r)
	if st := f.get(sub.ID).Status; st != subscribers.StatusUnsubscribed {
		t.Errorf("after a one-click request whose client hung up: status %s, want unsubscribed", st)
	}
}

func TestOneClickWithoutIssue(t *testing.T) {
	f := newFixture(t)
	sub := f.add("ann@example.com", "")
	w := f.form("/unsubscribe/"+f.tokens.Unsubscribe(sub.ID, 0), "List-Unsubscribe=One-Click")
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	want := []event{{sub.ID, "active", "cli", 0}, {sub.ID, "unsubscribed", "one-click", 0}}
	if diff := cmp.Diff(want, f.events(sub.ID)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// tamper decodes token, lets edit change its bytes, and encodes it again.
func tamper(t *testing.T, token string, edit func([]byte) []byte) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(edit(raw))
}

// badTokens returns every shape of unsubscribe token that must be refused, for
// subscriber a (b is another subscriber, issue a real issue).
func badTokens(t *testing.T, f *fixture, a, b, issue int64) map[string]string {
	good := f.tokens.Unsubscribe(a, issue)
	foreign, err := subscribers.NewTokens([]byte("another secret, not this server's"))
	if err != nil {
		t.Fatal(err)
	}
	const macSize = 16
	return map[string]string{
		"too long":        good + strings.Repeat("A", subscribers.MaxTokenLen),
		"just too long":   strings.Repeat("A", subscribers.MaxTokenLen+1),
		"truncated":       good[:len(good)-4],
		"one char":        "A",
		"not base64":      "!!not*base64!!",
		"wrong signature": foreign.Unsubscribe(a, issue),
		"flipped mac bit": tamper(t, good, func(r []byte) []byte { r[len(r)-1] ^= 1; return r }),
		"another subscriber's id": tamper(t, f.tokens.Unsubscribe(b, issue), func(r []byte) []byte {
			r[2] = byte(a) // subscriber IDs below 128 are one byte
			return r
		}),
		"another subscriber's mac": tamper(t, good, func(r []byte) []byte {
			other, _ := base64.RawURLEncoding.DecodeString(f.tokens.Unsubscribe(b, issue))
			copy(r[len(r)-macSize:], other[len(other)-macSize:])
			return r
		}),
		"tampered issue":   tamper(t, good, func(r []byte) []byte { r[3]++; return r }),
		"confirm token":    f.tokens.Confirm(a, f.clock().Add(time.Hour)),
		"padding added":    good + "==",
		"standard base64":  strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/",
		"unknown version":  tamper(t, good, func(r []byte) []byte { r[0] = 9; return r }),
		"id only, no mac":  tamper(t, good, func(r []byte) []byte { return r[:4] }),
		"encoded slash":    "a%2Fb",
		"whitespace":       " " + good,
		"good with suffix": good + "A",
	}
}

func TestBadTokensChangeNothing(t *testing.T) {
	f := newFixture(t)
	a := f.add("ann@example.com", "")
	b := f.add("bob@example.com", "")
	issue := f.issue(1, "sent")
	before := f.snapshot()
	for name, tok := range badTokens(t, f, a.ID, b.ID, issue) {
		for _, route := range []string{"/unsubscribe/", "/confirm/"} {
			if route == "/confirm/" && name == "confirm token" {
				tok = f.tokens.Unsubscribe(a.ID, issue) // the other way round
			}
			for _, m := range []string{"GET", "POST"} {
				var w = f.do(m, route+url.PathEscape(tok), "application/x-www-form-urlencoded",
					strings.NewReader("List-Unsubscribe=One-Click"), "")
				if w.Code != http.StatusNotFound {
					t.Errorf("%s %s%s (%s): status = %d, want 404", m, route, tok, name, w.Code)
				}
			}
		}
	}
	// An empty token matches no route at all.
	for _, m := range []string{"GET", "POST"} {
		if w := f.form("/unsubscribe/", ""); w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /unsubscribe/ (empty token): status = %d, want 404 or 405", m, w.Code)
		}
	}
	if diff := cmp.Diff(before, f.snapshot()); diff != "" {
		t.Errorf("bad tokens changed the database (-before +after):\n%s", diff)
	}
	if body := f.do("GET", "/unsubscribe/AAAA", "", nil, "").Body.String(); !strings.Contains(body, "This link is not valid") {
		t.Errorf("bad token page:\n%s", body)
	}
}

func TestRemovedSubscriberChangesNothing(t *testing.T) {
	f := newFixture(t)
	a := f.add("ann@example.com", "")
	f.add("bob@example.com", "")
	token := f.tokens.Unsubscribe(a.ID, 0)
	if err := f.subs.Remove(t.Context(), "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	before := f.snapshot()
	for _, m := range []string{"GET", "POST"} {
		w := f.do(m, "/unsubscribe/"+token, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"), "")
		if w.Code != http.StatusNotFound {
			t.Errorf("%s for a removed subscriber: status = %d, want 404", m, w.Code)
		}
	}
	if diff := cmp.Diff(before, f.snapshot()); diff != "" {
		t.Errorf("a removed subscriber's token changed the database (-before +after):\n%s", diff)
	}
}

func TestOldSecretStillUnsubscribes(t *testing.T) {
	old := []byte("the secret before the rotation!!")
	f := newFixture(t, func(c *Config) {
		tk, err := subscribers.NewTokens([]byte("0123456789abcdef0123456789abcdef"), old)
		if err != nil {
			t.Fatal(err)
		}
		c.Tokens = tk
	})
	sub := f.add("ann@example.com", "")
	prev, _ := subscribers.NewTokens(old)
	if w := f.form("/unsubscribe/"+prev.Unsubscribe(sub.ID, 0), "List-Unsubscribe=One-Click"); w.Code != http.StatusOK {
		t.Fatalf("token signed with the previous secret: status = %d, want 200", w.Code)
	}
	if st := f.get(sub.ID).Status; st != subscribers.StatusUnsubscribed {
		t.Errorf("status = %s, want unsubscribed", st)
	}
}

func TestUnsubscribeLeavesBouncedAlone(t *testing.T) {
	f := newFixture(t)
	sub := f.add("ann@example.com", "")
	if _, err := f.subs.HardBounce(t.Context(), sub.ID, 0, 1); err != nil {
		t.Fatal(err)
	}
	before := f.snapshot()
	if w := f.form("/unsubscribe/"+f.tokens.Unsubscribe(sub.ID, 0), "List-Unsubscribe=One-Click"); w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	if diff := cmp.Diff(before, f.snapshot()); diff != "" {
		t.Errorf("unsubscribing a bounced subscriber changed the database (-before +after):\n%s", diff)
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"ann.lee@example.com": "a******@e******.com",
		"a@b.io":              "a@b.io",
		"jo@mail.example.org": "j*@m***********.org",
		"zoë@exämple.de":      "z**@e******.de",
		"nodomain":            "n*******",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOneClickWhileAnotherProcessWrites sends many one-click requests at once while a
// second connection pool on the same file (as the send loop in another process) keeps
// writing. Every request must succeed: no "database is locked".
func TestOneClickWhileAnotherProcessWrites(t *testing.T) {
	f := newFixture(t)
	issue := f.issue(1, "sent")
	var paths []string
	var ids []int64
	for i := range 200 {
		sub := f.add(fmt.Sprintf("p%d@example.com", i), "")
		ids = append(ids, sub.ID)
		paths = append(paths, "/unsubscribe/"+f.tokens.Unsubscribe(sub.ID, issue))
	}
	other, err := store.Open(t.Context(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stop := make(chan struct{})
	writerErr := make(chan error, 1)
	go func() { // exits when stop is closed
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerErr <- nil
				return
			default:
			}
			tx, err := other.Begin()
			if err == nil {
				_, err = tx.Exec(`INSERT INTO feeds (url, created_at) VALUES (?, 0)`, fmt.Sprintf("https://f%d.example/", i))
				if err == nil {
					err = tx.Commit()
				} else {
					tx.Rollback()
				}
			}
			if err != nil {
				writerErr <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	codes := make([]int, len(paths))
	for i, p := range paths {
		wg.Go(func() {
			codes[i] = f.do("POST", p, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"), "").Code
		})
	}
	wg.Wait()
	close(stop)
	if err := <-writerErr; err != nil {
		t.Errorf("the other writer failed: %v", err)
	}
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, c)
		}
	}
	for _, id := range ids {
		if st := f.get(id).Status; st != subscribers.StatusUnsubscribed {
			t.Errorf("subscriber %d: %s, want unsubscribed", id, st)
		}
	}
	if strings.Contains(f.logs.String(), "locked") {
		t.Errorf("logs mention a lock:\n%s", f.logs.String())
	}
}
