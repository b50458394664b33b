package web

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backendweekly/weekly/subscribers"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser (.ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium with a fresh profile, or skips the test when there
// is none here; in CI a missing browser is a failure, not a skip.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but there is no browser at %s: %v", chromiumPath, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// browserFixture serves a fixture on a real loopback port whose URL is its BaseURL.
func browserFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	f := newFixture(t, func(c *Config) { c.BaseURL = base })
	ts.Config.Handler = f.srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return f, base
}

func TestBrowserUnsubscribe(t *testing.T) {
	ctx := browser(t)
	f, base := browserFixture(t)
	sub := f.add("ann.lee@example.com", "Ann")
	issue := f.issue(4, "sent")
	link := base + "/unsubscribe/" + f.tokens.Unsubscribe(sub.ID, issue)

	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(`form button[type=submit]`)); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	// The stylesheet loads under the CSP (style-src 'self').
	sheets, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.styleSheets.length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, "a******@e******.com") {
		t.Errorf("unsubscribe page text lacks the masked address:\n%s", page)
	}
	if sheets != 1 {
		t.Errorf("stylesheets loaded = %d, want 1", sheets)
	}
	if st := f.get(sub.ID).Status; st != subscribers.StatusActive {
		t.Fatalf("opening the link changed the status to %s", st)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`form button[type=submit]`),
		chromedp.WaitVisible(`//h1[contains(., "unsubscribed")]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	done, err := chromedp.Run(ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(done, "Subscribe again") {
		t.Errorf("done page offers no way back:\n%s", done)
	}
	got := f.get(sub.ID)
	if got.Status != subscribers.StatusUnsubscribed || got.StatusSource != subscribers.SourcePage || got.UnsubscribedIssueID != issue {
		t.Errorf("after the click: %s from %s, issue %d; want unsubscribed from page, issue %d",
			got.Status, got.StatusSource, got.UnsubscribedIssueID, issue)
	}
}

func TestBrowserSignup(t *testing.T) {
	ctx := browser(t)
	f, base := browserFixture(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "bea@example.com"),
		chromedp.SendKeys(`#name`, "Bea"),
		chromedp.Click(`form button[type=submit]`),
		chromedp.WaitVisible(`//h1[contains(., "Check your inbox")]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	mails := f.mail.waitFor(t, 1)
	if len(mails) != 1 || mails[0].To != "bea@example.com" || mails[0].Name != "Bea" {
		t.Fatalf("confirmation emails = %+v, want one to bea@example.com", mails)
	}
	sub, err := f.subs.ByEmail(t.Context(), "bea@example.com")
	if err != nil || sub.Status != subscribers.StatusPending {
		t.Fatalf("after the form: %+v, %v; want pending", sub, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(mails[0].ConfirmURL),
		chromedp.WaitVisible(`form button[type=submit]`),
		chromedp.Click(`form button[type=submit]`),
		chromedp.WaitVisible(`//h1[contains(., "You are subscribed")]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.get(sub.ID).Status; st != subscribers.StatusActive {
		t.Errorf("after confirming in the browser: status %s, want active", st)
	}
}
