package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backendweekly/weekly/subscribers"
)

// lockedBuffer is a bytes.Buffer safe to read while the command writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWeb runs 'weekly web' on a free loopback port until the test ends and returns
// the address it serves on.
func startWeb(t *testing.T, c *cli) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"web", "--listen", "127.0.0.1:0"}, func(k string) string { return c.env[k] },
			strings.NewReader(""), &out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("weekly web after its context ended: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("weekly web did not stop within 10s of its context ending")
		}
	})
	re := regexp.MustCompile(`Serving on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("weekly web exited: %v\nstderr: %s", err, errOut.String())
		default:
		}
	}
	t.Fatalf("weekly web did not start; stdout %q, stderr %q", out.String(), errOut.String())
	return ""
}

// textPart returns the decoded text/plain part of the message in file.
func textPart(t *testing.T, file string) (*mail.Message, string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part in %s: %v", file, err)
		}
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			continue
		}
		var r io.Reader = p // multipart.Part decodes quoted-printable itself
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return msg, string(b)
	}
}

// onServer turns a public URL from an email into the same path on the test server.
func onServer(t *testing.T, addr, public string) string {
	t.Helper()
	u, err := url.Parse(public)
	if err != nil {
		t.Fatal(err)
	}
	return addr + u.EscapedPath()
}

func postForm(t *testing.T, u, body string) int {
	t.Helper()
	res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func subscriberStatus(t *testing.T, dbPath, email string) subscribers.Status {
	t.Helper()
	db := openTestDB(t, dbPath)
	defer db.Close()
	sub, err := subscribers.NewStore(db, time.Now).ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return sub.Status
}

// TestWebSignupThroughOutbox runs 'weekly web' as a user would and follows the
// confirmation email the real mailer writes to the outbox.
func TestWebSignupThroughOutbox(t *testing.T) {
	c := newCLI(t)
	outbox := filepath.Join(t.TempDir(), "outbox")
	c.env["WEEKLY_OUTBOX"] = outbox
	c.env["WEEKLY_BASE_URL"] = "https://weekly.example.com"
	c.env["WEEKLY_FROM"] = "weekly@example.com"
	c.ok("init")
	addr := startWeb(t, c)

	if code := postForm(t, addr+"/subscribe", "email=Carol%40example.org&name=Carol"); code != http.StatusOK {
		t.Fatalf("POST /subscribe: status %d", code)
	}
	// The answer goes out before the email does, so give the email a moment.
	var files []string
	for deadline := time.Now().Add(5 * time.Second); len(files) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(outbox, "confirm", "*.eml"))
	}
	if len(files) != 1 {
		t.Fatalf("outbox confirmations = %q, want one", files)
	}
	msg, text := textPart(t, files[0])
	if to := msg.Header.Get("To"); !strings.Contains(to, "Carol@example.org") {
		t.Errorf("To = %q, want the address that signed up", to)
	}
	link := regexp.MustCompile(`https://weekly\.example\.com/confirm/[A-Za-z0-9_-]+`).FindString(text)
	if link == "" {
		t.Fatalf("no confirmation link in the text part:\n%s", text)
	}
	unsub := regexp.MustCompile(`<(https://weekly\.example\.com/unsubscribe/[A-Za-z0-9_-]+)>`).FindStringSubmatch(msg.Header.Get("List-Unsubscribe"))
	if unsub == nil || msg.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe %q, List-Unsubscribe-Post %q: want one-click headers",
			msg.Header.Get("List-Unsubscribe"), msg.Header.Get("List-Unsubscribe-Post"))
	}

	res, err := http.Get(onServer(t, addr, link))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || subscriberStatus(t, c.env["WEEKLY_DB"], "carol@example.org") != subscribers.StatusPending {
		t.Fatalf("GET the confirmation link: status %d; it must show a page and change nothing", res.StatusCode)
	}
	if code := postForm(t, onServer(t, addr, link), ""); code != http.StatusOK {
		t.Fatalf("POST the confirmation link: status %d", code)
	}
	if st := subscriberStatus(t, c.env["WEEKLY_DB"], "carol@example.org"); st != subscribers.StatusActive {
		t.Fatalf("after confirming: status %s, want active", st)
	}
	if unsub != nil {
		if code := postForm(t, onServer(t, addr, unsub[1]), "List-Unsubscribe=One-Click"); code != http.StatusOK {
			t.Fatalf("one-click POST of List-Unsubscribe: status %d", code)
		}
		if st := subscriberStatus(t, c.env["WEEKLY_DB"], "carol@example.org"); st != subscribers.StatusUnsubscribed {
			t.Errorf("after one-click: status %s, want unsubscribed", st)
		}
	}
}

func TestWebUsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"web"}, // no database yet
		{"web", "--listen", "nonsense"},
		{"web", "--base-url", "ftp://example.com"},
		{"web", "--trusted-proxies", "10.0.0.0/8,not-an-ip"},
		{"web", "extra"},
	} {
		_, _, err := c.run("", args...)
		var ue usageError
		if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") {
			t.Errorf("weekly %q: error = %v, want a one-line usage error", args, err)
		}
	}
	c.ok("init")
	if out := c.ok("web", "--help"); !strings.Contains(out, "--listen") {
		t.Errorf("weekly web --help does not list --listen:\n%s", out)
	}
}

func TestWebParseTrustedProxies(t *testing.T) {
	got, err := parseTrustedProxies(" 10.0.0.0/8, 192.0.2.1 ,::1,")
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if strings.Join(s, " ") != "10.0.0.0/8 192.0.2.1/32 ::1/128" {
		t.Errorf("parseTrustedProxies = %q", s)
	}
}
