package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzUnsubscribeToken sends arbitrary tokens through the real handler, to the
// unsubscribe and the confirmation routes. Whatever the token, the server must not
// fail (5xx), and unless the token verifies for that route it must answer 404 and
// change nothing.
func FuzzUnsubscribeToken(f *testing.F) {
	fx := newFixture(f)
	sub := fx.add("ann@example.com", "")
	other := fx.add("bob@example.com", "")
	good := fx.tokens.Unsubscribe(sub.ID, 0)
	f.Add(good)
	f.Add(fx.tokens.Unsubscribe(other.ID, 0))
	f.Add(fx.tokens.Unsubscribe(sub.ID, 1<<40))
	f.Add(fx.tokens.Confirm(sub.ID, fx.clock().Add(1e15)))
	f.Add(good[:len(good)-1])
	f.Add(good + "A")
	f.Add("")
	f.Add(strings.Repeat("A", 200))
	f.Add("%00")
	f.Add("AQF1AQAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, token string) {
		fx.t = t // the fixture's helpers must report to the iteration, not to f
		before := fx.snapshot()
		for _, m := range []string{"GET", "POST"} {
			w := fx.do(m, "/unsubscribe/"+url.PathEscape(token), "application/x-www-form-urlencoded",
				strings.NewReader("List-Unsubscribe=One-Click"), "")
			if w.Code >= 500 {
				t.Fatalf("%s token %q: status %d", m, token, w.Code)
			}
			id, _, err := fx.tokens.ParseUnsubscribe(token)
			if err != nil && w.Code == http.StatusOK {
				t.Fatalf("%s token %q: status 200 for a token that does not verify", m, token)
			}
			if err == nil && id != sub.ID && id != other.ID {
				t.Fatalf("token %q verifies for subscriber %d, which no one signed", token, id)
			}
		}
		_, confirmErr := fx.tokens.ParseConfirm(token, fx.clock())
		for _, m := range []string{"GET", "POST"} {
			w := fx.do(m, "/confirm/"+url.PathEscape(token), "application/x-www-form-urlencoded", strings.NewReader(""), "")
			if w.Code >= 500 || (confirmErr != nil && w.Code == http.StatusOK) {
				t.Fatalf("%s /confirm/%q: status %d (token error: %v)", m, token, w.Code, confirmErr)
			}
		}
		if _, _, err := fx.tokens.ParseUnsubscribe(token); err != nil && confirmErr != nil {
			if diff := cmp.Diff(before, fx.snapshot()); diff != "" {
				t.Fatalf("token %q changed the database (-before +after):\n%s", token, diff)
			}
		}
	})
}
