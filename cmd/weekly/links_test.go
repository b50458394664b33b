package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/links"
)

func pageServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><head><title>Fallback</title><meta property="og:title" content="Back-pressure in Go">
<meta property="og:description" content="Bounded queues, explained."></head><body></body></html>`)
	})
	mux.HandleFunc("/gone", http.NotFound)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// listIDs returns the queued link IDs in order, via links list --json.
func listIDs(t *testing.T, c *cli, args ...string) []int64 {
	t.Helper()
	var ls []links.Link
	if err := json.Unmarshal([]byte(c.ok(append([]string{"links", "list", "--json"}, args...)...)), &ls); err != nil {
		t.Fatal(err)
	}
	ids := []int64{}
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return ids
}

func TestLinksCommands(t *testing.T) {
	srv := pageServer(t)
	c := newCLI(t)
	c.ok("init")

	out := c.ok("links", "add", srv.URL+"/post?utm_source=twitter#intro", "--section", "Go")
	if want := "Queued link 1: Back-pressure in Go\n  " + srv.URL + "/post\n"; out != want {
		t.Errorf("links add (fetched title) printed %q, want %q", out, want)
	}
	out = c.ok("links", "add", srv.URL+"/gone")
	if !strings.Contains(out, "Queued link 2 without a title (fetch "+srv.URL+"/gone: HTTP 404 Not Found)") {
		t.Errorf("links add (failed fetch) printed %q, want it to say the title is missing and why", out)
	}
	c.ok("links", "add", "https://example.com/a", "--title", "Manual", "--note", "why it matters")

	if got, want := listIDs(t, c), []int64{1, 2, 3}; !cmp.Equal(got, want) {
		t.Errorf("queue = %v, want %v", got, want)
	}
	c.ok("links", "move", "3", "--before", "1")
	c.ok("links", "edit", "2", "--title", "Now titled")
	c.ok("links", "remove", "1")
	if got, want := listIDs(t, c), []int64{3, 2}; !cmp.Equal(got, want) {
		t.Errorf("queue after move and remove = %v, want %v", got, want)
	}
	out = c.ok("links", "list")
	for _, want := range []string{"  1. [3] Manual\n     https://example.com/a\n     why it matters\n", "  2. [2] Now titled\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("links list printed %q, want it to contain %q", out, want)
		}
	}

	// Send link 3 in issue 1: adding its URL again is refused, then allowed with --force.
	markSent(t, c, 1, 3)
	_, _, err := c.run("", "links", "add", "https://example.com/a?utm_medium=email", "--title", "Again")
	if err == nil || !strings.Contains(err.Error(), "was sent in issue 1; add --force") {
		t.Errorf("links add of a sent URL: error = %v, want one naming issue 1 and --force", err)
	}
	_, stderr, err := c.run("", "links", "add", "https://example.com/a", "--title", "Again", "--force")
	if err != nil || !strings.Contains(stderr, "already sent in issue 1") {
		t.Errorf("links add --force: err %v, stderr %q; want a warning naming issue 1", err, stderr)
	}
	if out := c.ok("links", "list", "--all"); !strings.Contains(out, "sent in issue 1: [3] Manual") {
		t.Errorf("links list --all printed %q, want the sent link with its issue", out)
	}
}

// markSent records a sent issue carrying the given links, as the sender would.
func markSent(t *testing.T, c *cli, number int, ids ...int64) {
	t.Helper()
	ctx := context.Background()
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO issues (number, status, window_start, window_end, created_at) VALUES (?, 'sent', 0, 0, 0)`, number)
	if err != nil {
		t.Fatal(err)
	}
	issueID, _ := res.LastInsertId()
	if err := links.NewStore(db, nil).MarkSent(ctx, tx, ids, issueID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestLinksUserMistakes(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("links", "add", "https://example.com/x", "--title", "X")
	markSent(t, c, 1, 1)
	c.ok("links", "add", "https://example.com/y", "--title", "Y")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"links"}, "no subcommand"},
		{[]string{"links", "bogus"}, "unknown subcommand"},
		{[]string{"links", "add"}, "expected one URL"},
		{[]string{"links", "add", "example.com/x"}, "not an absolute http(s) URL"},
		{[]string{"links", "add", "javascript:alert(1)"}, "not an absolute http(s) URL"},
		{[]string{"links", "add", "https://EXAMPLE.com/y#top", "--title", "dup"}, "already queued as link 2"},
		{[]string{"links", "edit", "2"}, "nothing to change"},
		{[]string{"links", "edit", "two", "--title", "t"}, `"two" is not a link ID`},
		{[]string{"links", "edit", "1", "--title", "t"}, "link 1 was already sent"},
		{[]string{"links", "remove", "99"}, "link 99 does not exist"},
		{[]string{"links", "move", "2"}, "--before OTHER is required"},
		{[]string{"links", "move", "2", "--before", "99"}, "link 99 does not exist"},
		{[]string{"links", "move", "98", "--before", "99"}, "link 98 does not exist"},
		{[]string{"links", "list", "--bogus"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		_, _, err := c.run("", tt.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("weekly %q: error = %v, want a one-line usage error containing %q", tt.args, err, tt.want)
		}
	}
	if _, _, err := c.run("", "links", "list", "--db", "/nonexistent/weekly.db"); err == nil {
		t.Error("links list on a missing database succeeded")
	}
}
