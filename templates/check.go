package templates

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// The sample data Load runs every template on. It has an item of each kind, an
// intro and a name, so that every branch a template is likely to take runs once.
var (
	sampleSite  = Site{ListName: "Backend Weekly", HomeURL: "https://weekly.example.com"}
	sampleIssue = Issue{
		Number:  7,
		Date:    time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Subject: "Backend Weekly #7: Sample",
		Intro:   "A sample introduction.\n\nIn two paragraphs.",
		Sections: []Section{
			{Name: "Editor's picks", Items: []Item{{Kind: "link", Title: "A link", URL: "https://example.com/a", Note: "Why it matters."}}},
			{Name: "Databases", Items: []Item{{Kind: "feed", Title: "A feed item", URL: "https://example.org/b", FeedName: "Example Blog", Excerpt: "<p>An <em>excerpt</em>.</p>"}}},
		},
		ArchiveURL:    "https://weekly.example.com/archive/7",
		PastIssuesURL: "https://weekly.example.com/archive",
		HomeURL:       "https://weekly.example.com",
		ListName:      "Backend Weekly",
	}
	pageSamples = map[string]any{
		PageArchive: ArchivePage{Site: sampleSite, FeedURL: "https://weekly.example.com/feed.atom", SignupURL: "https://weekly.example.com/subscribe",
			Issues: []ArchiveEntry{{Number: 7, Date: sampleIssue.Date, Subject: sampleIssue.Subject, URL: sampleIssue.ArchiveURL}}},
		PageArchiveIssue: ArchiveIssuePage{Site: sampleSite, Issue: sampleIssue, SignupURL: "https://weekly.example.com/subscribe"},
		PageUnsubscribe:  UnsubscribePage{Site: sampleSite, MaskedEmail: "a***@example.com", Action: "https://weekly.example.com/unsubscribe/t"},
		PageUnsubscribed: UnsubscribedPage{Site: sampleSite, MaskedEmail: "a***@example.com", SignupURL: "https://weekly.example.com/subscribe"},
		PageSignup: SignupPage{Site: sampleSite, Action: "https://weekly.example.com/subscribe", Email: "ada@example.com", Name: "Ada",
			Error: "That address does not look right.", Hidden: []Field{{Name: "csrf", Value: "x"}}},
		PageSignupSent: SignupSentPage{Site: sampleSite, MaskedEmail: "a***@example.com"},
		PageConfirm:    ConfirmPage{Site: sampleSite, MaskedEmail: "a***@example.com", Action: "https://weekly.example.com/confirm/t"},
		PageConfirmed:  ConfirmedPage{Site: sampleSite, MaskedEmail: "a***@example.com", ArchiveURL: "https://weekly.example.com/issues"},
		PageError:      ErrorPage{Site: sampleSite, Title: "Something went wrong", Message: "Please try again in a minute."},
		PageNotFound:   ErrorPage{Site: sampleSite, Title: "This link is not valid", Message: "It may have been mistyped."},
	}
)

// check runs every template once on the sample data, so that errors only execution
// finds (a misspelt field, a wrong argument) show up when the templates are loaded.
func (s *Set) check() error {
	r, err := s.RenderIssue(sampleIssue)
	if err != nil {
		return err
	}
	b := r.Personalize(Personal{Name: "Ada", UnsubscribeURL: "https://weekly.example.com/u/t"})
	if _, err := b.WriteHTML(io.Discard); err != nil {
		return err
	}
	conf := Confirmation{ListName: "Backend Weekly", HomeURL: sampleSite.HomeURL, Name: "Ada", ConfirmURL: "https://weekly.example.com/confirm/sampletoken"}
	cb, err := s.RenderConfirmation(conf)
	if err != nil {
		return err
	}
	if !bytes.Contains(cb.AppendHTML(nil), []byte(conf.ConfirmURL)) {
		return fmt.Errorf("templates: %s never prints {{.ConfirmURL}}", s.confirmHTML.Name())
	}
	if !bytes.Contains(cb.AppendText(nil), []byte(conf.ConfirmURL)) {
		return fmt.Errorf("templates: %s never prints {{.ConfirmURL}}", s.confirmText.Name())
	}
	for name, data := range pageSamples {
		if err := s.Page(io.Discard, name, data); err != nil {
			return err
		}
	}
	return nil
}
