package mailer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email to one recipient. The body parts are written straight into the
// outgoing message, so a caller can share one rendered issue between every recipient.
type Message struct {
	// To is the recipient's bare address (required).
	To string
	// ToName is the recipient's display name (optional). Line breaks are removed.
	ToName string
	// Subject is the subject line, encoded as needed. Line breaks are removed.
	Subject string
	// Date is the Date header (default: now).
	Date time.Time
	// ID is the local part of the Message-ID, made of letters, digits, '.', '-' and '_'
	// (optional; default: random). Its domain is always the From domain. A stable ID
	// lets a repeated delivery carry the same Message-ID.
	ID string
	// Key names the outbox file, as a relative slash-separated path without the .eml
	// extension, such as "issue-0007/sub-000123" (required for the outbox). Sending the
	// same Key again overwrites the file.
	Key string
	// UnsubscribeURL is the recipient's unsubscribe link (required). An https URL is
	// offered for one-click unsubscribe (RFC 8058); any other URL is listed without it.
	UnsubscribeURL string
	// Text and HTML write the two alternative bodies (required).
	Text, HTML func(io.Writer) (int64, error)
}

// ErrInvalidMessage is wrapped by errors about a Message that can never be sent as given.
var ErrInvalidMessage = errors.New("mailer: invalid message")

// build turns msg into a go-mail message, signed when DKIM is on. The bodies are
// rendered into bufs, which must outlive the message.
func (m *Mailer) build(msg *Message, bufs *[2]*bytes.Buffer) (*gomail.Msg, error) {
	if err := m.check(msg); err != nil {
		return nil, &Error{Permanent: true, Err: err}
	}
	gm := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := gm.FromFormat(m.cfg.FromName, m.cfg.From); err != nil {
		return nil, &Error{Permanent: true, Err: fmt.Errorf("%w: from: %w", ErrInvalidMessage, err)}
	}
	if err := gm.AddToFormat(cleanHeader(msg.ToName), msg.To); err != nil {
		return nil, &Error{Permanent: true, Err: fmt.Errorf("%w: to: %w", ErrInvalidMessage, err)}
	}
	gm.Subject(cleanHeader(msg.Subject))
	date := msg.Date
	if date.IsZero() {
		date = time.Now()
	}
	gm.SetDateWithValue(date)
	gm.SetMessageIDWithValue(m.messageID(msg.ID))
	gm.SetGenHeaderPreformatted("List-Id", listID(m.cfg.FromName, m.cfg.ListID))
	m.setUnsubscribe(gm, msg.UnsubscribeURL)
	textEnc, text, err := bodyPart(msg.Text, bufs[0])
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("mailer: text body: %w", err)}
	}
	htmlEnc, html, err := bodyPart(msg.HTML, bufs[1])
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("mailer: HTML body: %w", err)}
	}
	gm.SetBodyWriter(gomail.TypeTextPlain, text, gomail.WithPartEncoding(textEnc))
	gm.AddAlternativeWriter(gomail.TypeTextHTML, html, gomail.WithPartEncoding(htmlEnc))
	if m.dkim != nil {
		if err := m.dkim.sign(gm); err != nil {
			return nil, &Error{Err: err}
		}
	}
	return gm, nil
}

func (m *Mailer) check(msg *Message) error {
	if msg.To == "" || hasLineBreak(msg.To) {
		return fmt.Errorf("%w: recipient address missing or holds a line break", ErrInvalidMessage)
	}
	if a, err := mail.ParseAddress(msg.To); err != nil || a.Name != "" {
		return fmt.Errorf("%w: recipient address not a bare address", ErrInvalidMessage)
	}
	if msg.Text == nil || msg.HTML == nil {
		return fmt.Errorf("%w: text or HTML body missing", ErrInvalidMessage)
	}
	if strings.Trim(msg.ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "" {
		return fmt.Errorf("%w: ID %q has characters not allowed in a Message-ID", ErrInvalidMessage, msg.ID)
	}
	u, err := url.Parse(msg.UnsubscribeURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: unsubscribe URL not an absolute http(s) URL", ErrInvalidMessage)
	}
	return nil
}

// setUnsubscribe sets List-Unsubscribe, and List-Unsubscribe-Post when the link is
// https: RFC 8058 one-click requires https, so a plain-http link (a laptop setup) is
// listed without the Post header.
func (m *Mailer) setUnsubscribe(gm *gomail.Msg, link string) {
	var extra []string
	if m.cfg.UnsubscribeMailto != "" {
		extra = append(extra, "mailto:"+m.cfg.UnsubscribeMailto+"?subject=unsubscribe")
	}
	if strings.HasPrefix(link, "https://") && gm.SetListUnsubscribeOneClick(link, extra...) == nil {
		return
	}
	gm.SetListUnsubscribe(append([]string{link}, extra...)...)
}

func (m *Mailer) messageID(local string) string {
	if local == "" {
		var b [16]byte
		rand.Read(b[:])
		local = hex.EncodeToString(b[:])
	}
	return local + "@" + m.domain
}

// listID formats List-Id as RFC 2919 has it: an optional phrase, then <id>.
func listID(name, id string) string {
	if name == "" {
		return "<" + id + ">"
	}
	return phrase(name) + " <" + id + ">"
}

// phrase quotes name for a header phrase, encoding it (RFC 2047) if it is not ASCII.
func phrase(name string) string {
	for _, r := range name {
		if r >= 0x80 {
			return mime.QEncoding.Encode("UTF-8", name)
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// cleanHeader removes what must never reach a header value: CR, LF and other control
// characters become spaces, and runs of spaces collapse, so a subject or a name can
// never start a header of its own.
func cleanHeader(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return strings.TrimSpace(s)
	}
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }
