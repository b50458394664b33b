// Package mailer builds the email for one recipient (headers, multipart/alternative text
// and HTML, an optional DKIM signature) and delivers it: over SMTP with go-mail, one
// reused connection per concurrent sender, or, with no SMTP host, as an .eml file in an
// outbox folder.
//
// The mailer knows nothing of subscribers or SQL: callers hand it plain values in a
// Config and one Message per recipient, and get back the server's reply or an *Error
// that says whether the failure is permanent for that recipient.
package mailer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// TLS modes for Config.TLS.
const (
	TLSNone             = "none"              // plain text, never STARTTLS
	TLSStartTLS         = "starttls"          // STARTTLS required: fail if the server lacks it
	TLSStartTLSOptional = "starttls-optional" // STARTTLS when offered, plain text otherwise
	TLSImplicit         = "tls"               // TLS from the first byte (port 465)
)

// Auth mechanisms for Config.Auth.
const (
	AuthNone    = "none"
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCRAMMD5 = "cram-md5"
)

// Defaults applied by New to zero fields.
const (
	DefaultConcurrency = 10
	DefaultTimeout     = 30 * time.Second
	DefaultPort        = 587
)

// Config is everything the mailer needs, as plain values. Only From is required.
type Config struct {
	// From is the sender's bare address (required). Its domain names Message-IDs and is
	// the default HELO name.
	From string
	// FromName is the display name shown with From (optional).
	FromName string
	// ListID is the List-Id identifier, such as "weekly.example.com" (optional; default:
	// the From address with "@" replaced by a dot). FromName labels it.
	ListID string
	// UnsubscribeMailto is an optional address added to List-Unsubscribe as a mailto: URI.
	UnsubscribeMailto string

	// Host is the SMTP server. Empty: messages are written to Outbox instead.
	Host string
	// Port is the SMTP port (default 587).
	Port int
	// TLS is one of TLSNone, TLSStartTLS (default), TLSStartTLSOptional, TLSImplicit.
	TLS string
	// TLSConfig overrides the TLS settings (optional; tests use it to trust their server).
	TLSConfig *tls.Config
	// Auth is one of AuthNone (default), AuthPlain, AuthLogin, AuthCRAMMD5.
	Auth string
	// Username and Password are the SMTP credentials when Auth is not AuthNone.
	Username, Password string
	// HELO is the name sent in EHLO/HELO (default: the From domain).
	HELO string
	// Timeout bounds connecting and each SMTP exchange (default 30s).
	Timeout time.Duration
	// Concurrency is how many connections stay open for reuse (default 10). Callers
	// should send from that many goroutines.
	Concurrency int
	// Rate caps messages per second over all connections (token bucket); 0: no limit.
	Rate float64

	// Outbox is the folder for .eml files when Host is empty (required then).
	Outbox string

	// DKIMDomain, DKIMSelector and DKIMKey turn on DKIM signing when all are set.
	// LoadDKIMKey reads a key from a PEM file.
	DKIMDomain   string
	DKIMSelector string
	DKIMKey      crypto.Signer
}

// Mailer sends messages. It is safe for concurrent use: each concurrent Send uses a
// connection of its own, kept open for the next Send.
type Mailer struct {
	cfg     Config
	domain  string // of From, for Message-IDs
	limiter *rate.Limiter
	dkim    *dkimSigner

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// New checks cfg, fills in defaults and returns a Mailer. It does not connect yet.
func New(cfg Config) (*Mailer, error) {
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	m := &Mailer{cfg: cfg}
	m.domain = cfg.From[strings.LastIndexByte(cfg.From, '@')+1:]
	if cfg.Rate > 0 {
		burst := max(1, int(cfg.Rate))
		m.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), burst)
	}
	if cfg.DKIMDomain != "" || cfg.DKIMSelector != "" || cfg.DKIMKey != nil {
		d, err := newDKIMSigner(cfg.DKIMDomain, cfg.DKIMSelector, cfg.DKIMKey)
		if err != nil {
			return nil, err
		}
		m.dkim = d
	}
	return m, nil
}

func applyDefaults(cfg *Config) error {
	a, err := mail.ParseAddress(cfg.From)
	if err != nil || a.Name != "" || hasLineBreak(cfg.From) {
		return fmt.Errorf("mailer: From %q: want a bare address", cfg.From)
	}
	if cfg.UnsubscribeMailto != "" {
		if _, err := mail.ParseAddress(cfg.UnsubscribeMailto); err != nil || strings.ContainsAny(cfg.UnsubscribeMailto, "\r\n<>") {
			return fmt.Errorf("mailer: UnsubscribeMailto %q: want a bare address", cfg.UnsubscribeMailto)
		}
	}
	if cfg.ListID == "" {
		cfg.ListID = strings.ReplaceAll(cfg.From, "@", ".")
	}
	if strings.ContainsAny(cfg.ListID, "\r\n<> ") {
		return fmt.Errorf("mailer: ListID %q: want a dotted name such as weekly.example.com", cfg.ListID)
	}
	cfg.FromName = cleanHeader(cfg.FromName)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Host == "" {
		if cfg.Outbox == "" {
			return errors.New("mailer: no SMTP host and no outbox folder")
		}
		return nil
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	switch cfg.TLS {
	case TLSNone, TLSStartTLS, TLSStartTLSOptional, TLSImplicit:
	default:
		return fmt.Errorf("mailer: TLS mode %q: want none, starttls, starttls-optional or tls", cfg.TLS)
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthNone
	}
	switch cfg.Auth {
	case AuthNone, AuthPlain, AuthLogin, AuthCRAMMD5:
	default:
		return fmt.Errorf("mailer: auth %q: want none, plain, login or cram-md5", cfg.Auth)
	}
	if cfg.HELO == "" {
		cfg.HELO = cfg.From[strings.LastIndexByte(cfg.From, '@')+1:]
	}
	return nil
}

// Concurrency returns how many goroutines should call Send at once.
func (m *Mailer) Concurrency() int { return m.cfg.Concurrency }

// Outbox reports whether messages go to the outbox folder rather than to a server.
func (m *Mailer) Outbox() bool { return m.cfg.Host == "" }

// Send delivers msg and returns the server's reply (for the outbox, the file written).
// It waits for the rate limit first. A failure is an *Error; a cancelled ctx aborts an
// exchange in progress by closing its connection, which counts as temporary.
func (m *Mailer) Send(ctx context.Context, msg *Message) (reply string, err error) {
	bufs := [2]*bytes.Buffer{getBuf(), getBuf()}
	defer func() { putBuf(bufs[0]); putBuf(bufs[1]) }()
	gm, err := m.build(msg, &bufs)
	if err != nil {
		return "", err
	}
	if m.limiter != nil {
		if err := m.limiter.Wait(ctx); err != nil {
			return "", &Error{Err: fmt.Errorf("mailer: rate limit: %w", err)}
		}
	}
	if m.Outbox() {
		return m.writeOutbox(msg.Key, gm)
	}
	c, err := m.get()
	if err != nil {
		return "", err
	}
	reply, err = c.send(ctx, gm)
	m.put(c)
	return reply, err
}

// Close closes the idle connections; Send must not be called afterwards.
func (m *Mailer) Close() error {
	m.mu.Lock()
	idle := m.idle
	m.idle, m.closed = nil, true
	m.mu.Unlock()
	for _, c := range idle {
		c.quit()
	}
	return nil
}

func (m *Mailer) get() (*conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, &Error{Err: errors.New("mailer: closed")}
	}
	if n := len(m.idle); n > 0 {
		c := m.idle[n-1]
		m.idle = m.idle[:n-1]
		return c, nil
	}
	return newConn(m)
}

func (m *Mailer) put(c *conn) {
	m.mu.Lock()
	if !m.closed && len(m.idle) < m.cfg.Concurrency {
		m.idle = append(m.idle, c)
		c = nil
	}
	m.mu.Unlock()
	if c != nil {
		c.quit()
	}
}
