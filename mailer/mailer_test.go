package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/mailer/smtptest"
)

func newMailer(t *testing.T, srv *smtptest.Server, edit func(*mailer.Config)) *mailer.Mailer {
	t.Helper()
	cfg := mailer.Config{
		From:     "weekly@news.example.com",
		FromName: "Backend Weekly",
		Host:     srv.Host(),
		Port:     srv.Port(),
		TLS:      mailer.TLSNone,
		Timeout:  5 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := mailer.New(cfg)
	if err != nil {
		t.Fatalf("mailer.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func writer(s string) func(io.Writer) (int64, error) {
	return func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, s)
		return int64(n), err
	}
}

func message(to string) *mailer.Message {
	return &mailer.Message{
		To:             to,
		ToName:         "Ada Lovelace",
		Subject:        "Backend Weekly #7: queues",
		Date:           time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		ID:             "i7.d42",
		Key:            "issue-0007/sub-000042",
		UnsubscribeURL: "https://weekly.example.com/unsubscribe/TOKEN",
		Text:           writer("Hello Ada,\n\nThis week: queues.\n"),
		HTML:           writer("<p>Hello Ada,</p><p>This week: queues.</p>"),
	}
}

func parse(t *testing.T, data []byte) *mail.Message {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	return m
}

func TestSendHeaders(t *testing.T) {
	srv := smtptest.NewServer(t)
	m := newMailer(t, srv, func(c *mailer.Config) { c.UnsubscribeMailto = "unsubscribe@news.example.com" })
	reply, err := m.Send(context.Background(), message("ada@example.org"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if reply == "" {
		t.Error("Send returned an empty reply, want the server's")
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	if got, want := msgs[0].To, []string{"ada@example.org"}; !cmp.Equal(got, want) {
		t.Errorf("envelope To = %v, want %v", got, want)
	}
	h := parse(t, msgs[0].Data).Header
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(h.Get("Subject"))
	got := map[string]string{
		"From":                  h.Get("From"),
		"To":                    h.Get("To"),
		"Subject":               subject,
		"Date":                  h.Get("Date"),
		"Message-Id":            h.Get("Message-Id"),
		"List-Id":               h.Get("List-Id"),
		"List-Unsubscribe":      h.Get("List-Unsubscribe"),
		"List-Unsubscribe-Post": h.Get("List-Unsubscribe-Post"),
		"User-Agent":            h.Get("User-Agent"),
	}
	want := map[string]string{
		"From":                  `"Backend Weekly" <weekly@news.example.com>`,
		"To":                    `"Ada Lovelace" <ada@example.org>`,
		"Subject":               "Backend Weekly #7: queues",
		"Date":                  "Mon, 23 Nov 2026 09:00:00 +0000",
		"Message-Id":            "<i7.d42@news.example.com>",
		"List-Id":               `"Backend Weekly" <weekly.news.example.com>`,
		"List-Unsubscribe":      "<https://weekly.example.com/unsubscribe/TOKEN>, <mailto:unsubscribe@news.example.com?subject=unsubscribe>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"User-Agent":            "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	body := string(msgs[0].Data)
	for _, part := range []string{"text/plain", "text/html", "This week: queues."} {
		if !strings.Contains(body, part) {
			t.Errorf("message lacks %q", part)
		}
	}
}

func TestMessageIDIsOnTheSenderDomain(t *testing.T) {
	srv := smtptest.NewServer(t)
	m := newMailer(t, srv, nil)
	msg := message("ada@example.org")
	msg.ID = ""
	for range 2 {
		if _, err := m.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, got := range srv.Messages() {
		id := parse(t, got.Data).Header.Get("Message-Id")
		if !strings.HasSuffix(id, "@news.example.com>") || !strings.HasPrefix(id, "<") {
			t.Errorf("Message-ID = %q, want <...@news.example.com>", id)
		}
		ids = append(ids, id)
	}
	if len(ids) == 2 && ids[0] == ids[1] {
		t.Errorf("two messages without an ID share Message-ID %s", ids[0])
	}
}

func TestLineBreaksNeverReachHeaders(t *testing.T) {
	cases := []struct {
		name, subject, toName, fromName string
	}{
		{"subject CRLF", "Hello\r\nBcc: victim@example.net", "Ada", "Weekly"},
		{"subject LF", "Hello\nX-Injected: yes", "Ada", "Weekly"},
		{"name CRLF", "Hello", "Ada\r\nBcc: victim@example.net", "Weekly"},
		{"name CR", "Hello", "Ada\rX-Injected: yes", "Weekly"},
		{"list name", "Hello", "Ada", "Weekly\r\nX-Injected: yes"},
		{"unicode", "Grüße\r\nX-Injected: ja", "Zoë\nX-Injected: ja", "Wöchentlich\r\nX-Injected: ja"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t)
			m := newMailer(t, srv, func(c *mailer.Config) { c.FromName = tc.fromName })
			msg := message("ada@example.org")
			msg.Subject, msg.ToName = tc.subject, tc.toName
			if _, err := m.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := parse(t, srv.Messages()[0].Data)
			for _, k := range []string{"Bcc", "X-Injected"} {
				if v := got.Header.Get(k); v != "" {
					t.Errorf("header %s = %q, want none", k, v)
				}
			}
			if len(srv.Messages()[0].To) != 1 {
				t.Errorf("envelope recipients = %v, want only ada", srv.Messages()[0].To)
			}
		})
	}
}

func TestInvalidMessagesArePermanent(t *testing.T) {
	srv := smtptest.NewServer(t)
	m := newMailer(t, srv, nil)
	cases := map[string]func(*mailer.Message){
		"to with CRLF":    func(m *mailer.Message) { m.To = "ada@example.org\r\nRCPT TO:<x@y.z>" },
		"to with name":    func(m *mailer.Message) { m.To = "Ada <ada@example.org>" },
		"no body":         func(m *mailer.Message) { m.HTML = nil },
		"bad id":          func(m *mailer.Message) { m.ID = "a b>" },
		"no unsubscribe":  func(m *mailer.Message) { m.UnsubscribeURL = "" },
		"relative unsub":  func(m *mailer.Message) { m.UnsubscribeURL = "/unsubscribe/x" },
		"unsub with CRLF": func(m *mailer.Message) { m.UnsubscribeURL = "https://x.example/u\r\nBcc: a@b.c" },
	}
	for name, edit := range cases {
		msg := message("ada@example.org")
		edit(msg)
		_, err := m.Send(context.Background(), msg)
		if !mailer.IsPermanent(err) || !errors.Is(err, mailer.ErrInvalidMessage) {
			t.Errorf("%s: Send = %v, want a permanent ErrInvalidMessage", name, err)
		}
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("server got %d messages, want 0", n)
	}
}

func TestPlainHTTPUnsubscribeHasNoOneClick(t *testing.T) {
	srv := smtptest.NewServer(t)
	m := newMailer(t, srv, nil)
	msg := message("ada@example.org")
	msg.UnsubscribeURL = "http://localhost:8080/unsubscribe/TOKEN"
	if _, err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	h := parse(t, srv.Messages()[0].Data).Header
	if got, want := h.Get("List-Unsubscribe"), "<http://localhost:8080/unsubscribe/TOKEN>"; got != want {
		t.Errorf("List-Unsubscribe = %q, want %q", got, want)
	}
	if got := h.Get("List-Unsubscribe-Post"); got != "" {
		t.Errorf("List-Unsubscribe-Post = %q for a plain-http link, want none (RFC 8058 needs https)", got)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	cases := []struct {
		name          string
		fault         func(*smtptest.Server)
		wantCode      int
		wantPermanent bool
		wantRecipient bool
	}{
		{"550 at RCPT", func(s *smtptest.Server) { s.Reject(550, "ada@example.org") }, 550, true, true},
		{"451 after DATA", func(s *smtptest.Server) { s.FailTemporarily(1) }, 451, false, true},
		{"450 at RCPT", func(s *smtptest.Server) { s.Reject(450, "ada@example.org") }, 450, false, true},
		{"421 at RCPT", func(s *smtptest.Server) { s.Reject(421, "ada@example.org") }, 421, false, false},
		{"dropped in DATA", func(s *smtptest.Server) { s.DropDuringData(1) }, 0, false, false},
		{"server down", func(s *smtptest.Server) { s.Stop() }, 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t)
			m := newMailer(t, srv, nil)
			tc.fault(srv)
			_, err := m.Send(context.Background(), message("ada@example.org"))
			var e *mailer.Error
			if !errors.As(err, &e) {
				t.Fatalf("Send = %v, want a *mailer.Error", err)
			}
			got := []any{e.Code, e.Permanent, e.Recipient}
			want := []any{tc.wantCode, tc.wantPermanent, tc.wantRecipient}
			if !cmp.Equal(got, want) {
				t.Errorf("Send error %q: (code, permanent, recipient) = %v, want %v", e, got, want)
			}
		})
	}
}

func TestConnectionIsReusedAndRecovers(t *testing.T) {
	srv := smtptest.NewServer(t)
	m := newMailer(t, srv, nil)
	ctx := context.Background()
	for range 3 {
		if _, err := m.Send(ctx, message("ada@example.org")); err != nil {
			t.Fatal(err)
		}
	}
	srv.DropDuringData(1)
	if _, err := m.Send(ctx, message("ada@example.org")); err == nil {
		t.Fatal("Send during a dropped connection succeeded")
	}
	srv.Stop()
	if _, err := m.Send(ctx, message("ada@example.org")); err == nil {
		t.Fatal("Send to a stopped server succeeded")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(ctx, message("ada@example.org")); err != nil {
		t.Fatalf("Send after the server came back: %v", err)
	}
	if n := srv.Count(); n != 4 {
		t.Errorf("server accepted %d messages, want 4", n)
	}
}

func TestCancelAbortsAnExchange(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.Delay(5 * time.Second)
	m := newMailer(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Send(ctx, message("ada@example.org"))
	if err == nil || mailer.IsPermanent(err) {
		t.Errorf("Send with a cancelled context = %v, want a temporary error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v after its context ended, want it cut short", d)
	}
}

func TestRateLimit(t *testing.T) {
	srv := smtptest.NewServer(t)
	m := newMailer(t, srv, func(c *mailer.Config) { c.Rate = 20 })
	start := time.Now()
	for range 30 { // the first 20 pass as a burst, the next 10 take half a second
		if _, err := m.Send(context.Background(), message("ada@example.org")); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("30 messages at 20/s took %v, want at least 400ms", d)
	}
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	m, err := mailer.New(mailer.Config{From: "weekly@news.example.com", Outbox: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 { // a re-run overwrites
		if _, err := m.Send(ctx, message("ada@example.org")); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if diff := cmp.Diff([]string{"issue-0007/sub-000042.eml"}, files); diff != "" {
		t.Errorf("outbox files (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(filepath.Join(dir, "issue-0007", "sub-000042.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(t, data).Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("outbox message List-Unsubscribe-Post = %q", got)
	}
	msg := message("ada@example.org")
	msg.Key = "../escape"
	if _, err := m.Send(ctx, msg); !mailer.IsPermanent(err) {
		t.Errorf("Send with key %q = %v, want a permanent error", msg.Key, err)
	}
}

func TestTLSAndAuth(t *testing.T) {
	cases := []struct {
		name    string
		opts    []smtptest.Option
		tls     string
		auth    string
		pass    string
		wantErr bool
	}{
		{"starttls + plain", []smtptest.Option{smtptest.WithTLS(false), smtptest.WithAuth("u", "p")}, mailer.TLSStartTLS, mailer.AuthPlain, "p", false},
		{"implicit tls + plain", []smtptest.Option{smtptest.WithTLS(true), smtptest.WithAuth("u", "p")}, mailer.TLSImplicit, mailer.AuthPlain, "p", false},
		{"starttls-optional, offered", []smtptest.Option{smtptest.WithTLS(false)}, mailer.TLSStartTLSOptional, mailer.AuthNone, "", false},
		{"starttls-optional, not offered", nil, mailer.TLSStartTLSOptional, mailer.AuthNone, "", false},
		{"starttls required, not offered", nil, mailer.TLSStartTLS, mailer.AuthNone, "", true},
		{"wrong password", []smtptest.Option{smtptest.WithTLS(false), smtptest.WithAuth("u", "p")}, mailer.TLSStartTLS, mailer.AuthPlain, "x", true},
		{"auth required, none given", []smtptest.Option{smtptest.WithAuth("u", "p")}, mailer.TLSNone, mailer.AuthNone, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, tc.opts...)
			m := newMailer(t, srv, func(c *mailer.Config) {
				c.TLS, c.Auth, c.Username, c.Password = tc.tls, tc.auth, "u", tc.pass
				c.TLSConfig = srv.ClientTLSConfig()
			})
			_, err := m.Send(context.Background(), message("ada@example.org"))
			if tc.wantErr {
				var e *mailer.Error
				if !errors.As(err, &e) || e.Permanent || e.Recipient {
					t.Errorf("Send = %v, want a temporary error that is not about the recipient", err)
				}
				return
			}
			if err != nil || srv.Count() != 1 {
				t.Errorf("Send = %v, %d messages; want delivered", err, srv.Count())
			}
		})
	}
}
