// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1
// for tests. It records every message it accepts and can inject the faults a mail
// sender must survive: 4xx replies on a fraction of messages, 5xx replies for chosen
// recipients, a connection dropped in the middle of DATA, and a server that stops and
// comes back on the same port.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte // as received, headers and body, CRLF line ends
}

// Server is a recording SMTP server. Its methods are safe for concurrent use.
type Server struct {
	addr     string
	tls      *tls.Config // server side, nil for plain text
	implicit bool        // TLS from the first byte rather than STARTTLS
	user     string      // with pass: AUTH PLAIN required before MAIL
	pass     string
	clientCA *x509.CertPool

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	msgs     []Message
	rng      *rand.Rand
	tempRate float64
	reject   map[string]int
	drops    int
	delay    time.Duration
	attempts int
}

// Option configures a Server.
type Option func(tb testing.TB, s *Server)

// WithTLS makes the server speak TLS with a fresh self-signed certificate for
// 127.0.0.1: offered through STARTTLS, or from the first byte when implicit is true.
// ClientTLSConfig returns a client configuration that trusts it.
func WithTLS(implicit bool) Option {
	return func(tb testing.TB, s *Server) {
		cert, pool := selfSigned(tb)
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.implicit, s.clientCA = implicit, pool
	}
}

// WithAuth makes the server require AUTH PLAIN with user and pass before MAIL FROM.
func WithAuth(user, pass string) Option {
	return func(_ testing.TB, s *Server) { s.user, s.pass = user, pass }
}

// NewServer starts a server on 127.0.0.1 on a free port; it stops when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{
		addr:   ln.Addr().String(),
		rng:    rand.New(rand.NewPCG(1, 2)),
		reject: map[string]int{},
	}
	for _, o := range opts {
		o(tb, s)
	}
	s.serve(ln)
	tb.Cleanup(s.Stop)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Host returns the server's IP address.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port returns the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// ClientTLSConfig returns a client TLS configuration that trusts the server's
// certificate (nil without WithTLS).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientCA == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.clientCA, MinVersion: tls.VersionTLS12}
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(&backend{s: s})
	switch {
	case s.tls != nil && s.implicit:
		ln = tls.NewListener(ln, s.tls)
	case s.tls != nil:
		srv.TLSConfig = s.tls
	}
	srv.Domain = "smtptest.local"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = quietLog{}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every open connection: clients see their connection
// drop, and new connections are refused until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		ln.Close() // Serve may not have taken it up yet
		srv.Close()
	}
}

// Start listens again on the same address after Stop.
func (s *Server) Start() error {
	var (
		ln  net.Listener
		err error
	)
	for range 50 { // the port can take a moment to be free again
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Messages returns a copy of every message accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count returns how many messages were accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Attempts returns how many messages reached the end of DATA or were dropped in it,
// accepted or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// PerRecipient counts accepted messages by recipient address (lower case).
func (s *Server) PerRecipient() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, m := range s.msgs {
		for _, to := range m.To {
			n[strings.ToLower(to)]++
		}
	}
	return n
}

// FailTemporarily makes the server answer 451 to that fraction (0 to 1) of messages,
// chosen at random (with a fixed seed), after reading them.
func (s *Server) FailTemporarily(fraction float64) {
	s.mu.Lock()
	s.tempRate = fraction
	s.mu.Unlock()
}

// Reject makes the server answer RCPT TO for each address with code (such as 550),
// until the end of the test.
func (s *Server) Reject(code int, addrs ...string) {
	s.mu.Lock()
	for _, a := range addrs {
		s.reject[strings.ToLower(a)] = code
	}
	s.mu.Unlock()
}

// DropDuringData makes the next n messages lose their connection halfway through DATA,
// with no reply.
func (s *Server) DropDuringData(n int) {
	s.mu.Lock()
	s.drops += n
	s.mu.Unlock()
}

// Delay makes the server wait d before answering each DATA, so a test can act while
// messages are in flight. A message still in flight when Stop is called is lost, as
// with a crashed server, so every message counted was also acknowledged.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c, srv: c.Server()}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	srv    *smtp.Server // the incarnation this session belongs to
	authed bool
	from   string
	to     []string
}

// AuthMechanisms offers PLAIN when the server requires authentication.
func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	code := ss.s.reject[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "no such user here"}
	}
	ss.to = append(ss.to, to)
	return nil
}

var errDropped = errors.New("smtptest: connection dropped on purpose")

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	s.mu.Lock()
	s.attempts++
	drop := s.drops > 0
	if drop {
		s.drops--
	}
	temp := s.tempRate > 0 && s.rng.Float64() < s.tempRate
	delay := s.delay
	s.mu.Unlock()

	if drop {
		io.CopyN(io.Discard, r, 512)
		ss.conn.Conn().Close()
		return errDropped
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if temp {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != ss.srv {
		// Stopped while this message was in flight: like a crashed server, lose it.
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
	}
	s.msgs = append(s.msgs, Message{From: ss.from, To: append([]string(nil), ss.to...), Data: data})
	return nil
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool trusting it.
func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		tb.Fatalf("smtptest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("smtptest: certificate: %v", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
