package templates

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSpamAssassinScore scores a whole message built from the default templates
// with SpamAssassin, offline and without Bayes, and requires a score of at most
// 0.0. It is skipped where spamassassin is not installed, except in CI (the
// spamassassin Debian package), where it must run.
func TestSpamAssassinScore(t *testing.T) {
	sa, err := exec.LookPath("spamassassin")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("spamassassin is not installed; CI must install the spamassassin package")
		}
		t.Skip("spamassassin not installed (apt-get install spamassassin)")
	}
	s := mustLoad(t, "")
	msg := testMessage(t, mustRender(t, s, fixtureIssue(30)), fixturePersonal)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sa, "-L", "-t", "--cf=use_bayes 0")
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spamassassin: %v", err)
	}
	score, tests := spamStatus(t, out)
	t.Logf("SpamAssassin score %.1f, rules: %s", score, tests)
	if score > 0.0 {
		t.Errorf("SpamAssassin score = %.1f (rules %s), want <= 0.0\n%s", score, tests, spamReport(out))
	}
}

var statusRe = regexp.MustCompile(`score=(-?[0-9.]+) .*?tests=(\S*)`)

// spamStatus reads the score and rule names from the X-Spam-Status header, which
// may be folded over several lines.
func spamStatus(t *testing.T, out []byte) (float64, string) {
	t.Helper()
	var status strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "X-Spam-Status:"):
			in = true
			status.WriteString(line)
		case in && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
			status.WriteString(strings.TrimSpace(line))
		default:
			in = false
		}
	}
	m := statusRe.FindStringSubmatch(status.String())
	if m == nil {
		t.Fatalf("no X-Spam-Status score in spamassassin output:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("X-Spam-Status score %q: %v", m[1], err)
	}
	return score, m[2]
}

// spamReport returns the rule table of the report SpamAssassin adds to the body.
func spamReport(out []byte) string {
	if i := bytes.Index(out, []byte("Content analysis details:")); i >= 0 {
		return string(out[i:min(len(out), i+3000)])
	}
	return ""
}

// testMessage builds the RFC 5322 message a subscriber gets: the headers the mailer
// sets and a multipart/alternative body with both parts quoted-printable.
func testMessage(t *testing.T, r *Rendered, p Personal) []byte {
	t.Helper()
	b := r.Personalize(p)
	const boundary = "bw-7f3c9a1e5d2b4c6a8e0f"
	var m bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&m, "%s: %s\r\n", k, v) }
	h("From", "Backend Weekly <weekly@weekly.example.com>")
	h("To", mime.QEncoding.Encode("utf-8", p.Name)+" <ada@example.org>")
	h("Subject", mime.QEncoding.Encode("utf-8", r.Subject()))
	h("Date", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Format(time.RFC1123Z))
	h("Message-ID", "<42.1.1772442000@weekly.example.com>")
	h("MIME-Version", "1.0")
	h("List-Id", "Backend Weekly <weekly.example.com>")
	h("List-Unsubscribe", "<"+p.UnsubscribeURL+">")
	h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	h("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	m.WriteString("\r\n")
	part := func(ctype string, write func(*quotedprintable.Writer)) {
		fmt.Fprintf(&m, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, ctype)
		qp := quotedprintable.NewWriter(&m)
		write(qp)
		if err := qp.Close(); err != nil {
			t.Fatal(err)
		}
		m.WriteString("\r\n")
	}
	part("text/plain", func(w *quotedprintable.Writer) { b.WriteText(w) })
	part("text/html", func(w *quotedprintable.Writer) { b.WriteHTML(w) })
	fmt.Fprintf(&m, "--%s--\r\n", boundary)
	return m.Bytes()
}
