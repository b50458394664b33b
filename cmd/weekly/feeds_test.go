package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/backendweekly/weekly/feeds"
)

func feedServer(t *testing.T) *httptest.Server {
	t.Helper()
	rss, err := os.ReadFile("../../feeds/testdata/rss2.xml")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/rss", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"1"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(rss)
	})
	mux.HandleFunc("/missing", http.NotFound)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestFeedsCommands(t *testing.T) {
	srv := feedServer(t)
	c := newCLI(t)
	c.ok("init")

	out := c.ok("feeds", "add", srv.URL+"/rss", "--section", "Databases")
	if want := "Added feed 1: Queue Theory & Practice (" + srv.URL + "/rss)\n6 items already in the feed recorded as seen"; !strings.HasPrefix(out, want) {
		t.Errorf("feeds add printed %q, want it to start %q", out, want)
	}
	out = c.ok("feeds", "add", srv.URL+"/missing", "--name", "Gone")
	if !strings.Contains(out, "Added feed 2 ("+srv.URL+"/missing), but the first fetch failed: HTTP 404 Not Found") {
		t.Errorf("feeds add (failing) printed %q, want the feed added and the error shown", out)
	}

	var list []feeds.Feed
	if err := json.Unmarshal([]byte(c.ok("feeds", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ItemCount != 6 || list[0].Section != "Databases" || list[1].ConsecutiveFailures != 1 || list[1].LastError != "HTTP 404 Not Found" {
		t.Errorf("feeds list --json = %+v; want feed 1 with 6 items, feed 2 with 1 failure and its error", list)
	}
	out = c.ok("feeds", "list")
	for _, want := range []string{"ID  NAME", "Queue Theory & Practice", "ok", "HTTP 404 Not Found (next try", "Gone"} {
		if !strings.Contains(out, want) {
			t.Errorf("feeds list printed %q, want it to contain %q", out, want)
		}
	}

	// Due feeds only: feed 2 is backing off.
	if out := c.ok("feeds", "fetch"); out != "feed 1 Queue Theory & Practice: not modified\n" {
		t.Errorf("feeds fetch printed %q, want only feed 1, not modified", out)
	}
	out, _, err := c.run("", "feeds", "fetch", "1", "2")
	if err == nil || err.Error() != "feeds fetch: 1 of 2 feeds failed" {
		t.Errorf("feeds fetch 1 2: error = %v, want 1 of 2 failed", err)
	}
	if !strings.Contains(out, "feed 2 Gone: failed (2 in a row, next try") {
		t.Errorf("feeds fetch 1 2 printed %q, want a one-line failure for feed 2", out)
	}
	if out := c.ok("feeds", "remove", "2"); !strings.HasPrefix(out, "Removed feed 2") {
		t.Errorf("feeds remove printed %q", out)
	}
}

func TestFeedsUserMistakes(t *testing.T) {
	srv := feedServer(t)
	c := newCLI(t)
	c.ok("init")
	c.ok("feeds", "add", srv.URL+"/rss")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"feeds"}, "no subcommand"},
		{[]string{"feeds", "add"}, "expected one feed URL"},
		{[]string{"feeds", "add", "feed://example.com/rss"}, "not an absolute http(s) URL"},
		{[]string{"feeds", "add", srv.URL + "/rss?utm_source=x"}, "already followed as feed 1"},
		{[]string{"feeds", "fetch", "one"}, `"one" is not a feed ID`},
		{[]string{"feeds", "fetch", "99"}, "feed 99 does not exist"},
		{[]string{"feeds", "remove"}, "expected one feed ID"},
		{[]string{"feeds", "remove", "99"}, "feed 99 does not exist"},
		{[]string{"feeds", "list", "extra"}, "expected no arguments"},
	}
	for _, tt := range tests {
		_, _, err := c.run("", tt.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("weekly %q: error = %v, want a one-line usage error containing %q", tt.args, err, tt.want)
		}
	}
}
