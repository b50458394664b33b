package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backendweekly/weekly/subscribers"
)

// BenchmarkOneClick measures the one-click handler in process, over real SQLite:
// "first" unsubscribes (a write each), "repeat" answers people already gone (a read).
// bench/web/run.sh measures the same over loopback HTTP with wrk.
func BenchmarkOneClick(b *testing.B) {
	f := newFixture(b)
	const n = 2000
	tokens := make([]string, n)
	issue := f.issue(1, "sent")
	for i := range n {
		sub, err := f.subs.Add(b.Context(), fmt.Sprintf("b%d@example.com", i), "", subscribers.SourceCLI)
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = "/unsubscribe/" + f.tokens.Unsubscribe(sub.ID, issue)
	}
	h := f.srv.Handler()
	post := func(b *testing.B, path string) {
		r := httptest.NewRequest("POST", testBase+path, strings.NewReader("List-Unsubscribe=One-Click"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.Run("first", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if i == n {
				b.Fatal("more iterations than subscribers; raise n")
			}
			post(b, tokens[i])
			i++
		}
	})
	b.Run("repeat", func(b *testing.B) {
		for _, tok := range tokens { // whatever "first" left active
			post(b, tok)
		}
		i := 0
		for b.Loop() {
			post(b, tokens[i%n])
			i++
		}
	})
}
