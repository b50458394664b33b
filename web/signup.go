package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
)

// sendTimeout bounds the confirmation email, so a slow mail server cannot hold a
// sign-up request (and its connection) open for long.
const sendTimeout = 10 * time.Second

// signupForm answers GET / and GET /subscribe.
func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, templates.PageSignup, templates.SignupPage{
		Site:   s.site(),
		Action: s.url("/subscribe"),
	})
}

// signup answers POST /subscribe. It answers the same whether or not the address is
// known, so the form cannot tell anyone who subscribes; only a new or still pending
// address gets a confirmation email. Sign-ups are limited per client IP and per
// address, so the form cannot be used to flood someone's inbox.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, err)
		return
	}
	in := templates.SignupPage{
		Site:   s.site(),
		Action: s.url("/subscribe"),
		Email:  strings.TrimSpace(r.PostForm.Get("email")),
		Name:   strings.TrimSpace(r.PostForm.Get("name")),
	}
	email, err := subscribers.ValidateEmail(in.Email)
	if err != nil {
		s.signupMistake(w, r, in, "Please enter a valid email address, such as ann@example.com.")
		return
	}
	if _, err := subscribers.ValidateName(in.Name); err != nil {
		s.signupMistake(w, r, in, "Please check the name: it must fit on one line.")
		return
	}
	// Mistakes above cost nothing and send nothing, so they are not counted.
	if !s.ipLimit.allow(limitKey(s.clientIP(r))) || !s.adLimit.allow(strings.ToLower(email)) {
		s.fail(w, r, errRateLimited)
		return
	}
	var sub subscribers.Subscriber
	var send bool
	err = s.write(r.Context(), func() (err error) {
		sub, send, err = s.cfg.Subscribers.SignUp(r.Context(), email, in.Name)
		return err
	})
	if errors.Is(err, subscribers.ErrInvalid) {
		s.signupMistake(w, r, in, "Please check the name: it must fit on one line.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.PageSignupSent, templates.SignupSentPage{
		Site:        s.site(),
		MaskedEmail: maskEmail(email),
	})
	if send {
		// The whole answer is out first (render sets Content-Length), so how long the
		// mail server takes cannot tell the client whether an email went out. The
		// send outlives a client that hangs up, and Shutdown waits for it.
		http.NewResponseController(w).Flush()
		s.sendConfirmation(context.WithoutCancel(r.Context()), sub)
	}
}

// sendConfirmation mails sub a link that activates the subscription until ConfirmTTL
// has passed. A failure is logged, not shown: the answer to a sign-up must not say
// whether an email went out. The person can simply sign up again.
func (s *Server) sendConfirmation(ctx context.Context, sub subscribers.Subscriber) {
	token := s.cfg.Tokens.Confirm(sub.ID, s.now().Add(s.cfg.ConfirmTTL))
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	err := s.cfg.Mailer.SendConfirmation(ctx, Confirmation{
		SubscriberID:   sub.ID,
		To:             sub.Email,
		Name:           sub.Name,
		ConfirmURL:     s.url("/confirm/" + url.PathEscape(token)),
		UnsubscribeURL: s.url("/unsubscribe/" + url.PathEscape(s.cfg.Tokens.Unsubscribe(sub.ID, 0))),
	})
	if err != nil {
		s.log.Error("confirmation_failed", slog.Int64("subscriber_id", sub.ID), slog.Any("err", err))
		return
	}
	s.log.Info("confirmation_sent", slog.Int64("subscriber_id", sub.ID))
}

// signupMistake shows the form again, filled in, with what was wrong.
func (s *Server) signupMistake(w http.ResponseWriter, r *http.Request, in templates.SignupPage, msg string) {
	in.Error = msg
	s.render(w, r, http.StatusBadRequest, templates.PageSignup, in)
}

// confirmPage answers GET /confirm/{token}: a button, and no change, for the same
// reason as the unsubscribe page.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	id, err := s.cfg.Tokens.ParseConfirm(token, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.cfg.Subscribers.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sub.Status != subscribers.StatusPending && sub.Status != subscribers.StatusActive {
		// They left, bounced or complained since: only a new sign-up brings them back.
		s.fail(w, r, ErrNotFound)
		return
	}
	s.render(w, r, http.StatusOK, templates.PageConfirm, templates.ConfirmPage{
		Site:        s.site(),
		MaskedEmail: maskEmail(sub.Email),
		Action:      s.url("/confirm/" + url.PathEscape(token)),
	})
}

// confirm answers POST /confirm/{token}: it activates a pending subscription.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	id, err := s.cfg.Tokens.ParseConfirm(r.PathValue("token"), s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var changed bool
	err = s.write(r.Context(), func() (err error) {
		changed, err = s.cfg.Subscribers.Confirm(r.Context(), id)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if changed {
		s.log.Info("confirmed", slog.Int64("subscriber_id", id))
	}
	sub, err := s.cfg.Subscribers.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sub.Status != subscribers.StatusActive {
		// An old link of someone who has left since confirms nothing.
		s.fail(w, r, ErrNotFound)
		return
	}
	s.render(w, r, http.StatusOK, templates.PageConfirmed, templates.ConfirmedPage{
		Site:        s.site(),
		MaskedEmail: maskEmail(sub.Email),
		ArchiveURL:  s.url("/archive"),
	})
}

// clientIP returns the address the per-IP limit counts: the peer, or, when the peer
// is a trusted proxy, the nearest untrusted address in X-Forwarded-For.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return host
}

// limitKey is what the per-IP limit counts for the client at ip: the address for
// IPv4, and the /64 network for IPv6, since one customer usually holds a whole /64.
func limitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
