package web

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
)

// unsubscribePage answers GET /unsubscribe/{token}. It changes nothing, because link
// scanners and prefetchers follow GETs: it shows the address, partly masked, and one
// button that POSTs to the same URL.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	id, _, err := s.cfg.Tokens.ParseUnsubscribe(token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.cfg.Subscribers.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.PageUnsubscribe, templates.UnsubscribePage{
		Site:        s.site(),
		MaskedEmail: maskEmail(sub.Email),
		Action:      s.url("/unsubscribe/" + url.PathEscape(token)),
	})
}

// unsubscribe answers POST /unsubscribe/{token}: from a mail provider's one-click
// request (RFC 8058: body List-Unsubscribe=One-Click, urlencoded or multipart) or from
// the page's button. It unsubscribes at once and answers 200 with a short page: no
// redirect, no cookie, no login, no CSRF token, since a mail provider sends none.
// Repeating it changes nothing and still answers 200.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, issueID, err := s.cfg.Tokens.ParseUnsubscribe(r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	oneClick, err := isOneClick(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	source := subscribers.SourcePage
	if oneClick {
		source = subscribers.SourceOneClick
	}
	// A request once accepted is carried out even if the client hangs up: mail
	// providers may not wait for the answer, and the person asked to go.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	// A plain read first: in WAL mode it takes no lock, so a repeated POST (mail
	// providers retry, people click twice) never waits for the write lock.
	sub, err := s.cfg.Subscribers.Get(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sub.Status == subscribers.StatusActive || sub.Status == subscribers.StatusPending {
		if err := s.unsubscribeOnce(ctx, id, source, issueID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, templates.PageUnsubscribed, templates.UnsubscribedPage{
		Site:        s.site(),
		MaskedEmail: maskEmail(sub.Email),
		SignupURL:   s.url("/subscribe"),
	})
}

// unsubscribeOnce makes the change through the store, which checks the status again
// inside its transaction.
func (s *Server) unsubscribeOnce(ctx context.Context, id int64, source subscribers.Source, issueID int64) error {
	var changed bool
	err := s.write(ctx, func() (err error) {
		changed, err = s.cfg.Subscribers.Unsubscribe(ctx, id, source, issueID)
		return err
	})
	if err != nil {
		return err
	}
	if changed {
		s.log.Info("unsubscribed", slog.Int64("subscriber_id", id), slog.Int64("issue_id", issueID),
			slog.String("source", string(source)))
	}
	return nil
}

// isOneClick reports whether r's body is the RFC 8058 one-click body. Mail providers
// send it urlencoded or as multipart/form-data. A body that is not a form at all is
// not one-click, but the POST still unsubscribes (it came from the page's button or
// from a client that got the body wrong); only a body over the limit is an error.
func isOneClick(r *http.Request) (bool, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	if ct == "multipart/form-data" {
		err = r.ParseMultipartForm(maxBody)
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
	} else {
		err = r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	if err != nil && errors.As(err, &tooBig) {
		return false, err
	}
	return r.PostForm.Get("List-Unsubscribe") == "One-Click", nil
}

// maskEmail hides most of an address, so a forwarded link or a shoulder does not
// reveal it whole: "ann.lee@example.com" becomes "a******@e******.com".
func maskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return mask(addr)
	}
	host, tld := domain, ""
	if i := strings.LastIndexByte(domain, '.'); i > 0 {
		host, tld = domain[:i], domain[i:]
	}
	return mask(local) + "@" + mask(host) + tld
}

// mask keeps the first character of s and stars the rest, one star per character.
func mask(s string) string {
	rs := []rune(s)
	if len(rs) == 0 {
		return ""
	}
	return string(rs[0]) + strings.Repeat("*", len(rs)-1)
}
