package templates

import (
	"html/template"
	"time"
)

// Issue is the data every issue template gets: the HTML and text emails (inside
// Email) and the archive page (inside ArchiveIssuePage). The README lists these
// fields for people who write their own templates.
type Issue struct {
	// Number is the issue's number: 1, 2, 3, ...
	Number int
	// Date is when the issue was sent (for a draft, when it was built), already in
	// the newsletter's time zone. Format it in a template with
	// {{.Date.Format "2 January 2006"}}.
	Date time.Time
	// Subject is the email's subject line; never contains a line break.
	Subject string
	// Intro is the editor's introduction in plain text, possibly empty. A blank
	// line separates paragraphs: {{range paragraphs .Intro}}...{{end}}.
	Intro string
	// Sections holds the items in the order the issue shows them.
	Sections []Section
	// ArchiveURL is the address of this issue in the web archive.
	ArchiveURL string
	// PastIssuesURL is the address of the archive's index of all issues.
	PastIssuesURL string
	// HomeURL is the web server's public address (the archive index and sign-up
	// form), with no trailing slash.
	HomeURL string
	// ListName is the newsletter's name, such as "Backend Weekly".
	ListName string
}

// Section is a named group of items, such as the editor's picks or one feed's
// category.
type Section struct {
	// Name is the heading shown above the items.
	Name string
	// Items are shown in this order.
	Items []Item
}

// Item is one link in an issue.
type Item struct {
	// Kind is "link" for a link an editor queued, "feed" for an item from a feed.
	Kind string
	// Title is the linked text, plain text.
	Title string
	// URL is the item's address, http or https.
	URL string
	// Note is the editor's comment on a queued link, plain text; empty for feed
	// items.
	Note string
	// FeedName names the feed a feed item came from; empty for links.
	FeedName string
	// Excerpt is a short excerpt of a feed item. It is HTML that was sanitised
	// before it got here, so templates may insert it as it is; the text template
	// turns it into plain text with {{plain .Excerpt}}.
	Excerpt template.HTML
}

// Email is the data the email templates (email/issue.html.tmpl and
// email/issue.txt.tmpl) get: the issue, and the two values that differ from one
// subscriber to the next.
//
// Name and UnsubscribeURL are filled in after the template has run, so they may
// be printed (in HTML text or in an attribute value such as href) and tested with
// {{if .Name}}, but must not be passed to functions or compared.
type Email struct {
	Issue
	// Name is the subscriber's name, possibly empty.
	Name string
	// UnsubscribeURL is the subscriber's own one-click unsubscribe page.
	UnsubscribeURL string
}

// Confirmation is the data the double opt-in email templates
// (email/confirm.html.tmpl and email/confirm.txt.tmpl) get.
type Confirmation struct {
	// ListName is the newsletter's name.
	ListName string
	// HomeURL is the web server's public address, with no trailing slash.
	HomeURL string
	// Name is the name the person gave when signing up, possibly empty.
	Name string
	// ConfirmURL is the page where they confirm the subscription.
	ConfirmURL string
}

// Site is what every web page needs to know about the newsletter. The default
// layout links the stylesheet at HomeURL + "/style.css"; the web server serves
// Set.Stylesheet there.
type Site struct {
	// ListName is the newsletter's name.
	ListName string
	// HomeURL is the web server's public address, with no trailing slash.
	HomeURL string
}

// ArchivePage is the data of the archive index page (PageArchive).
type ArchivePage struct {
	Site
	// Issues are the sent issues, newest first.
	Issues []ArchiveEntry
	// FeedURL is the archive's Atom feed.
	FeedURL string
	// SignupURL is the sign-up form.
	SignupURL string
}

// ArchiveEntry is one issue in the archive index.
type ArchiveEntry struct {
	Number  int
	Date    time.Time // in the newsletter's time zone
	Subject string
	URL     string
}

// ArchiveIssuePage is the data of one issue in the archive (PageArchiveIssue).
type ArchiveIssuePage struct {
	Site
	Issue Issue
	// SignupURL is the sign-up form.
	SignupURL string
	// PastIssuesURL is the archive index; if empty, Issue.PastIssuesURL is used.
	PastIssuesURL string
}

// UnsubscribePage is the data of the page an unsubscribe link opens
// (PageUnsubscribe). It changes nothing; its one button POSTs to Action.
type UnsubscribePage struct {
	Site
	// MaskedEmail is the subscriber's address, partly hidden, such as a***@example.com.
	MaskedEmail string
	// Action is the URL the button posts to.
	Action string
}

// UnsubscribedPage is the data of the page shown after unsubscribing
// (PageUnsubscribed).
type UnsubscribedPage struct {
	Site
	MaskedEmail string
	// SignupURL is the sign-up form, for someone who left by mistake.
	SignupURL string
}

// SignupPage is the data of the sign-up form (PageSignup).
type SignupPage struct {
	Site
	// Action is the URL the form posts to.
	Action string
	// Email and Name refill the form after a mistake.
	Email, Name string
	// Error explains what was wrong with the last attempt, if anything.
	Error string
	// Hidden fields go into the form as they are, for example an anti-forgery token.
	Hidden []Field
}

// Field is a hidden form field.
type Field struct{ Name, Value string }

// SignupSentPage is the data of the "check your inbox" page (PageSignupSent).
type SignupSentPage struct {
	Site
	MaskedEmail string
}

// ConfirmPage is the data of the page a confirmation link opens (PageConfirm).
// It changes nothing; its one button POSTs to Action.
type ConfirmPage struct {
	Site
	MaskedEmail string
	Action      string
}

// ConfirmedPage is the data of the page shown once a subscription is confirmed
// (PageConfirmed).
type ConfirmedPage struct {
	Site
	MaskedEmail string
	// ArchiveURL is the archive index.
	ArchiveURL string
}

// ErrorPage is the data of the error and not-found pages (PageError,
// PageNotFound), also used for links that are invalid or expired.
type ErrorPage struct {
	Site
	// Title is a short heading, such as "This link is not valid".
	Title string
	// Message says what happened and what to do, in a sentence or two.
	Message string
}
