package mailer

import (
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
)

// Error is a failed delivery. Code keeps the SMTP reply code (0 when there was none: a
// refused or dropped connection, a timeout, a local problem).
//
// Only a 5xx reply to RCPT TO or to DATA is Permanent: the server refused this
// recipient or this message. A 4xx reply, a dropped connection, or a failure before the
// recipient was named (connect, TLS, AUTH, MAIL FROM) is temporary and says nothing
// about the recipient, so it must never count as a bounce; nor does a 421 (the server
// closing the session) say anything about the recipient it answered.
type Error struct {
	// Code is the SMTP reply code, or 0.
	Code int
	// Permanent is true when retrying this message to this recipient is pointless.
	Permanent bool
	// Recipient is true when the server replied about this recipient or message (RCPT
	// TO or DATA); false when the connection or the session failed.
	Recipient bool
	// Reply is the server's reply text, if any.
	Reply string
	// Err is the underlying error.
	Err error
}

// Error describes the failure with every email address redacted: servers echo the
// recipient in replies and error text ends up in log lines, which must never hold an
// address. Reply keeps the server's own words for the delivery ledger.
func (e *Error) Error() string {
	if e.Err == nil {
		return "mailer: delivery failed"
	}
	return RedactAddresses(e.Err.Error())
}

// RedactAddresses replaces everything shaped like an email address in s with
// "<address>". It errs on the side of hiding: a false positive only hides a little
// of a log line.
func RedactAddresses(s string) string {
	return addressRE.ReplaceAllString(s, "<address>")
}

var addressRE = regexp.MustCompile(`[^\s<>()\[\]:;,"']+@[^\s<>()\[\]:;,"']+`)

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the delivery may succeed if tried again later.
func (e *Error) Temporary() bool { return !e.Permanent }

// IsPermanent reports whether err is a permanent delivery failure for its recipient.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// ReplyCode returns the SMTP reply code carried by err, or 0.
func ReplyCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// replyError classifies what a command returned. A reply about the recipient or the
// message (RCPT TO, DATA) can be permanent; anything else, and any error that is not
// a reply (a dropped connection, a timeout), is temporary.
func replyError(cmd string, err error, aboutRecipient bool) *Error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return &Error{Err: fmt.Errorf("mailer: %s: %w", cmd, err)}
	}
	// 421 is the server closing the session (RFC 5321 4.2.3), whatever the command.
	recipient := aboutRecipient && te.Code >= 400 && te.Code < 600 && te.Code != 421
	reply := fmt.Sprintf("%d %s", te.Code, te.Msg)
	if len(reply) > 500 {
		reply = reply[:500]
	}
	return &Error{
		Code:      te.Code,
		Permanent: recipient && te.Code >= 500,
		Recipient: recipient,
		Reply:     reply,
		Err:       fmt.Errorf("mailer: %s: %w", cmd, err),
	}
}
