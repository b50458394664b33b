package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
)

// Pages renders the web pages: the page names and data types are those of the
// templates package. *templates.Set satisfies it.
type Pages interface {
	Page(w io.Writer, name string, data any) error
	// Stylesheet is the CSS served at /style.css, the pages' only style (the CSP
	// allows no inline style or script).
	Stylesheet() []byte
}

// site returns what every page needs to know about the newsletter.
func (s *Server) site() templates.Site {
	return templates.Site{ListName: s.cfg.Name, HomeURL: s.base}
}

// render writes the named page with status code. Pages renders into a buffer, so a
// template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var buf bytes.Buffer
	if err := s.cfg.Pages.Page(&buf, name, data); err != nil {
		s.log.Error("page_render_failed", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Pattern, "{token}") || code >= 400 {
		// Pages reached by a personal link, and errors, have no place in a search index.
		w.Header().Set("X-Robots-Tag", "noindex")
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		buf.WriteTo(w)
	}
}

// errRateLimited is a sign-up over the per-IP or per-address limit.
var errRateLimited = errors.New("web: too many sign-ups")

// fail answers r with the page and status that err deserves; it is the one place
// errors become statuses. Bad, expired and forged tokens, removed subscribers and
// unknown issues all look the same from outside: 404.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, subscribers.ErrBadToken), errors.Is(err, subscribers.ErrNotFound):
		s.render(w, r, http.StatusNotFound, templates.PageNotFound, templates.ErrorPage{
			Site:    s.site(),
			Title:   "This link is not valid",
			Message: "The page does not exist, or the link is incomplete or has expired.",
		})
	case errors.Is(err, errRateLimited):
		w.Header().Set("Retry-After", "3600")
		s.render(w, r, http.StatusTooManyRequests, templates.PageError, templates.ErrorPage{
			Site:    s.site(),
			Title:   "Too many sign-ups",
			Message: "There have been too many sign-ups from here or for this address. Please try again in an hour.",
		})
	case errors.As(err, &tooBig):
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away while the request waited; no one reads the answer.
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		s.log.Error("request_failed", slog.String("route", r.Pattern), slog.Any("err", err))
		s.render(w, r, http.StatusInternalServerError, templates.PageError, templates.ErrorPage{
			Site:    s.site(),
			Title:   "Something went wrong",
			Message: "Our server could not complete that. Please try again in a few minutes.",
		})
	}
}
