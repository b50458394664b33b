// Package subscribers holds the people who receive the newsletter: their statuses and
// the history of every status change, address validation, CSV import and export, and
// the signed tokens in unsubscribe and confirmation links.
//
// A subscriber is never re-activated behind their back: only a confirmed sign-up turns
// someone who left, bounced or complained back into an active subscriber.
package subscribers

import (
	"errors"
	"fmt"
	"time"
)

// Status is where a subscriber stands. Only active subscribers receive issues.
type Status string

// The statuses, as stored in the subscribers.status column.
const (
	StatusPending      Status = "pending" // signed up, awaiting double opt-in
	StatusActive       Status = "active"
	StatusUnsubscribed Status = "unsubscribed"
	StatusBounced      Status = "bounced"
	StatusComplained   Status = "complained" // marked an issue as spam
)

// Statuses returns every status, in the order people move through them.
func Statuses() []Status {
	return []Status{StatusPending, StatusActive, StatusUnsubscribed, StatusBounced, StatusComplained}
}

// ParseStatus returns the status named s, or an error wrapping ErrInvalid.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", invalidf("unknown status %q (want pending, active, unsubscribed, bounced or complained)", s)
}

// Source says what made a status change.
type Source string

// The sources, as stored in subscribers.status_source and subscriber_events.source.
const (
	SourceCLI       Source = "cli"       // an editor on the command line
	SourceImport    Source = "import"    // a CSV import
	SourceSignup    Source = "signup"    // the web sign-up form
	SourceConfirm   Source = "confirm"   // the double opt-in link
	SourceOneClick  Source = "one-click" // RFC 8058 List-Unsubscribe-Post from a mail client
	SourcePage      Source = "page"      // the button on the unsubscribe page
	SourceBounce    Source = "bounce"    // permanent delivery failures
	SourceComplaint Source = "complaint" // a spam complaint
)

func (s Source) valid() bool {
	switch s {
	case SourceCLI, SourceImport, SourceSignup, SourceConfirm, SourceOneClick, SourcePage, SourceBounce, SourceComplaint:
		return true
	}
	return false
}

// Subscriber is one person on the list.
type Subscriber struct {
	ID              int64     `json:"id"`
	Email           string    `json:"email"`
	Name            string    `json:"name"`
	Status          Status    `json:"status"`
	CreatedAt       time.Time `json:"created_at"`
	StatusChangedAt time.Time `json:"status_changed_at"`
	StatusSource    Source    `json:"status_source"`
	HardBounces     int       `json:"hard_bounces"` // permanent failures counted toward the bounce threshold
	// UnsubscribedIssueID is the issue whose link carried the latest unsubscribe;
	// 0 when there was none or the unsubscribe did not come from an issue.
	UnsubscribedIssueID int64 `json:"unsubscribed_issue_id,omitempty"`
}

var (
	// ErrNotFound means no subscriber has that ID or address.
	ErrNotFound = errors.New("subscribers: not found")
	// ErrExists means the address (in any letter case) is already on the list.
	ErrExists = errors.New("subscribers: address already on the list")
	// ErrInvalid means an input was refused. Errors that wrap it are *InvalidError
	// values that say what was wrong.
	ErrInvalid = errors.New("subscribers: invalid input")
)

// InvalidError says why an input was refused. errors.Is(err, ErrInvalid) holds for it.
// Its Reason never quotes a refused address or name, so it is safe to log.
type InvalidError struct {
	Reason string // such as "address needs a domain with a dot"
}

func (e *InvalidError) Error() string { return "subscribers: " + e.Reason }

// Is makes an *InvalidError match ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}
