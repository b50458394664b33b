// Package web serves Backend Weekly's public pages: one-click unsubscribe (RFC 8058),
// sign-up with double opt-in, the archive of sent issues with its Atom feed, and the
// health and metrics endpoints. Everything administrative stays in the command line.
//
// The package is named web, not http, so it never shadows net/http.
package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/backendweekly/weekly/subscribers"
)

// Subscribers is what the server needs of the subscriber store
// (*subscribers.Store satisfies it).
type Subscribers interface {
	Get(ctx context.Context, id int64) (subscribers.Subscriber, error)
	Unsubscribe(ctx context.Context, id int64, source subscribers.Source, issueID int64) (changed bool, err error)
	SignUp(ctx context.Context, email, name string) (sub subscribers.Subscriber, sendConfirmation bool, err error)
	Confirm(ctx context.Context, id int64) (changed bool, err error)
}

// Mailer sends the double opt-in email. cmd/weekly adapts the mailer package to it.
type Mailer interface {
	SendConfirmation(ctx context.Context, c Confirmation) error
}

// Confirmation is one double opt-in email to send.
type Confirmation struct {
	SubscriberID   int64  // for the outbox file name and logs
	To             string // the address that signed up
	Name           string // the name given, possibly empty
	ConfirmURL     string // the signed, expiring link that activates the subscription
	UnsubscribeURL string // a signed unsubscribe link, for the List-Unsubscribe header
}

// Config configures a Server. Fields marked required must be set; New reports the
// first one missing.
type Config struct {
	// DB is the database, pinged by /healthz and read by /metrics. Required.
	DB *sql.DB
	// Subscribers changes subscription status. Required.
	Subscribers Subscribers
	// Tokens verifies unsubscribe links and signs confirmation links. Required.
	Tokens *subscribers.Tokens
	// Archive lists sent issues for /archive and /feed.atom. Required.
	Archive Archive
	// Pages renders the HTML pages. Required.
	Pages Pages
	// Mailer sends confirmation emails. Required.
	Mailer Mailer
	// BaseURL is the public URL of the server, such as https://weekly.example.com;
	// every link the server writes starts with it. Required.
	BaseURL string
	// Name is the newsletter's name, shown on pages and in the feed. Optional.
	Name string
	// Logger receives failures and status changes (info and above) and one line per
	// request (debug). It never sees an email address or a token: subscribers are
	// named by ID, requests by route pattern. Optional: nothing is logged without it.
	Logger *slog.Logger
	// Location is the time zone dates are shown in. Optional: UTC.
	Location *time.Location
	// Now is the clock. Optional: time.Now.
	Now func() time.Time
	// ConfirmTTL is how long a confirmation link works. Optional: 7 days.
	ConfirmTTL time.Duration
	// SignupLimit is how many sign-ups one IP address, and separately one email
	// address, may make per hour, in a burst of at most SignupBurst. Optional: 10 and 3.
	SignupLimit float64
	SignupBurst int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client,
	// for the per-IP sign-up limit. Optional: none, so the peer address counts.
	TrustedProxies []netip.Prefix
	// ShutdownTimeout bounds how long Run waits for requests in flight once its
	// context ends. Optional: 10 seconds.
	ShutdownTimeout time.Duration
}

// Server is the web server. Its Handler may be used alone (as in tests) or through Run.
type Server struct {
	cfg     Config
	base    string // BaseURL without a trailing slash
	log     *slog.Logger
	now     func() time.Time
	ipLimit *limiters
	adLimit *limiters
	handler http.Handler
	// writeGate lets one request at a time write to the database (see write).
	writeGate chan struct{}
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("web: Config.DB is required")
	case cfg.Subscribers == nil:
		return nil, errors.New("web: Config.Subscribers is required")
	case cfg.Tokens == nil:
		return nil, errors.New("web: Config.Tokens is required")
	case cfg.Archive == nil:
		return nil, errors.New("web: Config.Archive is required")
	case cfg.Pages == nil:
		return nil, errors.New("web: Config.Pages is required")
	case cfg.Mailer == nil:
		return nil, errors.New("web: Config.Mailer is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web: Config.BaseURL %q: want an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.Name == "" {
		cfg.Name = "Backend Weekly"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConfirmTTL <= 0 {
		cfg.ConfirmTTL = 7 * 24 * time.Hour
	}
	if cfg.SignupLimit <= 0 {
		cfg.SignupLimit = 10
	}
	if cfg.SignupBurst <= 0 {
		cfg.SignupBurst = 3
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{
		cfg:  cfg,
		base: strings.TrimRight(cfg.BaseURL, "/"),
		log:  cfg.Logger,
		now:  cfg.Now,

		writeGate: make(chan struct{}, 1),
	}
	perHour := cfg.SignupLimit / 3600
	s.ipLimit = newLimiters(perHour, cfg.SignupBurst, maxLimiters, time.Hour, cfg.Now)
	s.adLimit = newLimiters(perHour, cfg.SignupBurst, maxLimiters, time.Hour, cfg.Now)
	s.handler = s.routes()
	return s, nil
}

// routes registers every route the server has; nothing else exists.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.signupForm)
	mux.HandleFunc("GET /subscribe", s.signupForm)
	mux.HandleFunc("POST /subscribe", s.signup)
	mux.HandleFunc("GET /confirm/{token}", s.confirmPage)
	mux.HandleFunc("POST /confirm/{token}", s.confirm)
	mux.HandleFunc("GET /unsubscribe/{token}", s.unsubscribePage)
	mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
	mux.HandleFunc("GET /archive", s.archiveIndex)
	mux.HandleFunc("GET /archive/{number}", s.archiveIssue)
	mux.HandleFunc("GET /feed.atom", s.feed)
	mux.HandleFunc("GET /style.css", s.stylesheet)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /metrics", s.metrics)
	return s.harden(mux)
}

// Handler returns the server's HTTP handler, with its security headers and limits.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on ln until ctx ends, then shuts down gracefully: it stops accepting,
// lets requests in flight finish within Config.ShutdownTimeout, and returns.
// It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // exits when Shutdown closes ln
	s.log.Info("web_listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc // http.ErrServerClosed once Serve has returned
	if err != nil {
		srv.Close()
		return fmt.Errorf("web: shutdown: %w", err)
	}
	s.log.Info("web_stopped")
	return nil
}

// httpServer returns the http.Server that Run uses. Its timeouts bound how long a
// slow or idle client can hold a connection (slowloris), and requests keep running
// after ctx ends until Shutdown has waited for them.
func (s *Server) httpServer(ctx context.Context) *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // an answer, then a confirmation email (sendTimeout)
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// url returns the public URL of path, which starts with a slash.
func (s *Server) url(path string) string { return s.base + path }

// writeTimeout bounds a write that must finish even if its client has gone.
const writeTimeout = 10 * time.Second

// write runs fn, which writes to the database, while no other request of this server
// writes. SQLite has one writer at a time, and a writer that finds the lock taken
// sleeps in growing steps (up to 100 ms) before it tries again; queueing the server's
// own writers here instead keeps the tail latency of a burst of one-click requests
// low (bench/web). Writers in other processes still meet the busy timeout.
func (s *Server) write(ctx context.Context, fn func() error) error {
	select {
	case s.writeGate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writeGate }()
	return fn()
}
