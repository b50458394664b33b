package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backendweekly/weekly/subscribers"
	"github.com/google/go-cmp/cmp"
)

// confirmPath returns the path of the confirmation link in c.
func confirmPath(t *testing.T, c Confirmation) string {
	t.Helper()
	u, err := url.Parse(c.ConfirmURL)
	if err != nil || !strings.HasPrefix(c.ConfirmURL, testBase+"/confirm/") {
		t.Fatalf("confirmation URL %q: want one under %s/confirm/", c.ConfirmURL, testBase)
	}
	return u.Path
}

func TestSignupConfirmFlow(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/", "/subscribe"} {
		w := f.do("GET", path, "", nil, "")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="`+testBase+`/subscribe"`) {
			t.Errorf("GET %s: status %d, want 200 and a form posting to %s/subscribe:\n%s", path, w.Code, testBase, w.Body)
		}
	}
	w := f.form("/subscribe", "email=New.Person%40Example.com&name=New+Person")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Check your inbox") {
		t.Fatalf("POST /subscribe: status %d:\n%s", w.Code, w.Body)
	}
	sent := f.mail.all()
	if len(sent) != 1 {
		t.Fatalf("confirmation emails = %d, want 1", len(sent))
	}
	sub, err := f.subs.ByEmail(t.Context(), "new.person@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != subscribers.StatusPending || sub.Name != "New Person" {
		t.Errorf("after sign-up: %+v, want pending with the name given", sub)
	}
	if sent[0].To != sub.Email || sent[0].Name != "New Person" || sent[0].SubscriberID != sub.ID ||
		!strings.HasPrefix(sent[0].UnsubscribeURL, testBase+"/unsubscribe/") {
		t.Errorf("confirmation = %+v", sent[0])
	}

	// The link opens a page that changes nothing; its button confirms.
	path := confirmPath(t, sent[0])
	before := f.snapshot()
	w = f.do("GET", path, "", nil, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="`+testBase+path+`"`) {
		t.Fatalf("GET %s: status %d:\n%s", path, w.Code, w.Body)
	}
	if diff := cmp.Diff(before, f.snapshot()); diff != "" {
		t.Fatalf("GET confirm changed the database (-before +after):\n%s", diff)
	}
	for range 2 { // repeating it is harmless
		w = f.form(path, "")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You are subscribed") {
			t.Fatalf("POST %s: status %d:\n%s", path, w.Code, w.Body)
		}
	}
	if st := f.get(sub.ID).Status; st != subscribers.StatusActive {
		t.Errorf("after confirming: status %s, want active", st)
	}

	// Signing up again while active: the same answer, and no email.
	again := f.form("/subscribe", "email=new.person%40example.com")
	if again.Code != http.StatusOK || len(f.mail.all()) != 1 {
		t.Errorf("sign-up of an active subscriber: status %d, emails %d; want 200 and still 1", again.Code, len(f.mail.all()))
	}
}

func TestSignupAnswerDoesNotTellWhoIsSubscribed(t *testing.T) {
	f := newFixture(t)
	f.add("known@example.com", "")
	known := f.form("/subscribe", "email=known%40example.com")
	unknown := f.form("/subscribe", "email=other%40example.com")
	if known.Code != unknown.Code {
		t.Errorf("status for a subscriber %d, for a stranger %d: want the same", known.Code, unknown.Code)
	}
	// The only difference allowed is the masked address itself.
	norm := func(s string) string {
		return strings.NewReplacer("k****@e******.com", "X", "o****@e******.com", "X").Replace(s)
	}
	if diff := cmp.Diff(norm(known.Body.String()), norm(unknown.Body.String())); diff != "" {
		t.Errorf("answers differ (-subscriber +stranger):\n%s", diff)
	}
	if n := len(f.mail.all()); n != 1 {
		t.Errorf("emails = %d, want 1 (only the stranger's)", n)
	}
}

func TestSignupMistakes(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{
		"email=",
		"email=not-an-address",
		"email=Ann+%3Cann%40example.com%3E",
		"email=ann%40example.com%0d%0aBcc%3Aother%40example.com",
		"email=ann%40example.com&name=Ann%0d%0aBcc%3A+x",
	} {
		w := f.form("/subscribe", body)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `class="error"`) {
			t.Errorf("POST /subscribe %q: status %d, want 400 and the form with an error", body, w.Code)
		}
	}
	if n := len(f.mail.all()); n != 0 {
		t.Errorf("emails after mistakes = %d, want 0", n)
	}
	if s := f.snapshot(); len(s) != 0 {
		t.Errorf("mistakes stored rows: %q", s)
	}
}

func TestConfirmLinkExpires(t *testing.T) {
	f := newFixture(t)
	f.form("/subscribe", "email=ann%40example.com")
	path := confirmPath(t, f.mail.all()[0])
	f.advance(7*24*time.Hour + time.Second)
	before := f.snapshot()
	for _, m := range []string{"GET", "POST"} {
		if w := f.do(m, path, "", nil, ""); w.Code != http.StatusNotFound {
			t.Errorf("%s an expired link: status %d, want 404", m, w.Code)
		}
	}
	if diff := cmp.Diff(before, f.snapshot()); diff != "" {
		t.Errorf("an expired link changed the database (-before +after):\n%s", diff)
	}
}

func TestConfirmAfterLeavingDoesNothing(t *testing.T) {
	f := newFixture(t)
	f.form("/subscribe", "email=ann%40example.com")
	c := f.mail.all()[0]
	if w := f.form(strings.TrimPrefix(c.UnsubscribeURL, testBase), "List-Unsubscribe=One-Click"); w.Code != http.StatusOK {
		t.Fatalf("unsubscribe from the confirmation email: status %d", w.Code)
	}
	path := confirmPath(t, c)
	for _, m := range []string{"GET", "POST"} {
		if w := f.do(m, path, "", nil, ""); w.Code != http.StatusNotFound {
			t.Errorf("%s confirm after unsubscribing: status %d, want 404", m, w.Code)
		}
	}
	if st := f.get(c.SubscriberID).Status; st != subscribers.StatusUnsubscribed {
		t.Errorf("status = %s, want unsubscribed", st)
	}
}

func TestResubscribeNeedsConfirmation(t *testing.T) {
	f := newFixture(t)
	sub := f.add("ann@example.com", "")
	f.form("/unsubscribe/"+f.tokens.Unsubscribe(sub.ID, 0), "")
	f.form("/subscribe", "email=ann%40example.com")
	if st := f.get(sub.ID).Status; st != subscribers.StatusPending {
		t.Fatalf("after signing up again: status %s, want pending until confirmed", st)
	}
	f.form(confirmPath(t, f.mail.all()[0]), "")
	if st := f.get(sub.ID).Status; st != subscribers.StatusActive {
		t.Errorf("after confirming: status %s, want active", st)
	}
}

func TestSignupRateLimits(t *testing.T) {
	f := newFixture(t) // 3 at once, then 10 an hour
	post := func(ip, email string) int {
		return f.do("POST", "/subscribe", "application/x-www-form-urlencoded",
			strings.NewReader("email="+url.QueryEscape(email)), ip).Code
	}
	// Per IP: one client may not sign up many addresses.
	for i := range 3 {
		if code := post("198.51.100.1", fmt.Sprintf("a%d@example.com", i)); code != http.StatusOK {
			t.Fatalf("sign-up %d from one IP: status %d, want 200", i+1, code)
		}
	}
	if code := post("198.51.100.1", "a9@example.com"); code != http.StatusTooManyRequests {
		t.Errorf("4th sign-up from one IP: status %d, want 429", code)
	}
	if code := post("198.51.100.2", "b@example.com"); code != http.StatusOK {
		t.Errorf("sign-up from another IP: status %d, want 200", code)
	}
	// Per address: many clients may not flood one inbox.
	for i := range 2 {
		post(fmt.Sprintf("203.0.113.%d", i+1), "Victim@example.com")
	}
	if code := post("203.0.113.9", "victim@EXAMPLE.com"); code != http.StatusOK {
		t.Errorf("3rd sign-up for one address: status %d, want 200", code)
	}
	if code := post("203.0.113.10", "victim@example.com"); code != http.StatusTooManyRequests {
		t.Errorf("4th sign-up for one address, from a new IP: status %d, want 429", code)
	}
	victim := 0
	for _, c := range f.mail.all() {
		if strings.EqualFold(c.To, "victim@example.com") {
			victim++
		}
	}
	if victim != 3 {
		t.Errorf("emails to one address = %d, want 3", victim)
	}
	// The bucket refills: one more an hour / 10.
	f.advance(6 * time.Minute)
	if code := post("198.51.100.1", "a10@example.com"); code != http.StatusOK {
		t.Errorf("after 6 minutes: status %d, want 200", code)
	}
}

func TestLimitersAreBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiters(1.0/3600, 1, 3, time.Hour, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if !l.allow(k) {
			t.Errorf("allow(%q) first time = false, want true", k)
		}
	}
	if n := l.len(); n != 3 {
		t.Errorf("limiters remembered = %d, want at most 3", n)
	}
	if l.allow("e") {
		t.Error(`allow("e") again at once = true, want false`)
	}
	now = now.Add(2 * time.Hour) // idle keys expire
	l.allow("f")
	if n := l.len(); n != 1 {
		t.Errorf("after the idle ones expired: %d remembered, want 1", n)
	}
}

func TestLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":  "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":      "::ffff:192.0.2.1",
		"not an address at all": "not an address at all",
	} {
		if got := limitKey(in); got != want {
			t.Errorf("limitKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientIPBehindProxy(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.7:1234", "", "192.0.2.7"},
		{"192.0.2.7:1234", "198.51.100.1", "192.0.2.7"}, // an untrusted peer cannot claim another IP
		{"10.1.2.3:1234", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:1234", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"10.1.2.3:1234", "garbage", "10.1.2.3"},
	} {
		r, _ := http.NewRequest("POST", testBase+"/subscribe", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := f.srv.clientIP(r); got != tc.want {
			t.Errorf("clientIP(peer %s, X-Forwarded-For %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// blockingMailer holds every send until release is closed.
type blockingMailer struct {
	started chan struct{}
	release chan struct{}
}

func (m *blockingMailer) SendConfirmation(ctx context.Context, c Confirmation) error {
	close(m.started)
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSignupAnswersBeforeTheEmailGoes checks that a slow mail server cannot make a
// sign-up of a new address slower to answer than one of a known address.
func TestSignupAnswersBeforeTheEmailGoes(t *testing.T) {
	m := &blockingMailer{started: make(chan struct{}), release: make(chan struct{})}
	f := newFixture(t, func(c *Config) { c.Mailer = m })
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	defer close(m.release)
	client := &http.Client{Timeout: 5 * time.Second} // fails, rather than hangs, if the answer waits for the email
	res, err := client.Post(ts.URL+"/subscribe", "application/x-www-form-urlencoded", strings.NewReader("email=new%40example.com"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Check your inbox") {
		t.Fatalf("answer while the email is still being sent: %d %v\n%s", res.StatusCode, err, body)
	}
	select {
	case <-m.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the confirmation email was never sent")
	}
}
