package mailer

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"

	gomail "github.com/wneessen/go-mail"
)

// conn is one SMTP connection, reused for message after message. go-mail's NOOP before
// and RSET after each message are switched off: they cost two round trips a message
// (measured: a third of the rate on one connection) and buy nothing here, since any
// error drops the connection and the next message dials afresh.
type conn struct {
	m      *Mailer
	client *gomail.Client

	mu  sync.Mutex
	raw net.Conn // the live connection, nil when there is none
}

func newConn(m *Mailer) (*conn, error) {
	c := &conn{m: m}
	cfg := m.cfg
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithHELO(cfg.HELO),
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
		gomail.WithDialContextFunc(c.dial),
		gomail.WithTLSConfig(m.tlsConfig()),
	}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSStartTLSOptional:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default: // none, or implicit TLS done by dial
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	switch cfg.Auth {
	case AuthPlain:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain))
	case AuthLogin:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthLogin))
	case AuthCRAMMD5:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthCramMD5))
	}
	if cfg.Auth != AuthNone {
		opts = append(opts, gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("mailer: smtp client: %w", err)}
	}
	c.client = client
	return c, nil
}

func (m *Mailer) tlsConfig() *tls.Config {
	if m.cfg.TLSConfig != nil {
		t := m.cfg.TLSConfig.Clone()
		if t.ServerName == "" {
			t.ServerName = m.cfg.Host
		}
		return t
	}
	return &tls.Config{ServerName: m.cfg.Host, MinVersion: tls.VersionTLS12}
}

// dial opens the TCP (or, for implicit TLS, TLS) connection and keeps hold of it, so a
// failed or cancelled exchange can be cut at once rather than wait for QUIT.
func (c *conn) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: c.m.cfg.Timeout}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	var nc net.Conn = newBatchConn(raw)
	if c.m.cfg.TLS == TLSImplicit {
		tc := tls.Client(nc, c.m.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		nc = tc
	}
	c.mu.Lock()
	c.raw = raw
	c.mu.Unlock()
	return nc, nil
}

// batchConn holds back writes until the next read. The SMTP client always reads a
// reply after it writes, so nothing waits forever, and a 50 KB message goes out in
// one or two writes instead of the dozen 4 KB ones textproto makes: fewer system
// calls here and fewer wake-ups for the server.
type batchConn struct {
	net.Conn
	buf []byte
}

const batchSize = 64 << 10

func newBatchConn(c net.Conn) *batchConn { return &batchConn{Conn: c, buf: make([]byte, 0, batchSize)} }

func (b *batchConn) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > batchSize {
		if err := b.flush(); err != nil {
			return 0, err
		}
		if len(p) > batchSize {
			return b.Conn.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *batchConn) Read(p []byte) (int, error) {
	if err := b.flush(); err != nil {
		return 0, err
	}
	return b.Conn.Read(p)
}

func (b *batchConn) Close() error {
	b.flush()
	return b.Conn.Close()
}

func (b *batchConn) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// send delivers one message on the connection, dialling first if there is none.
// Any error leaves the connection closed.
func (c *conn) send(ctx context.Context, gm *gomail.Msg) (string, error) {
	if !c.connected() {
		if err := c.client.DialWithContext(ctx); err != nil {
			c.drop()
			return "", &Error{Err: fmt.Errorf("mailer: connect to %s: %w", c.m.cfg.Host, err)}
		}
	}
	stop := context.AfterFunc(ctx, c.drop)
	err := c.client.Send(gm)
	stop()
	if err != nil {
		c.drop()
		return "", classify(err)
	}
	return gm.ServerResponse(), nil
}

func (c *conn) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw != nil
}

// drop closes the connection without a goodbye.
func (c *conn) drop() {
	c.mu.Lock()
	raw := c.raw
	c.raw = nil
	c.mu.Unlock()
	if raw != nil {
		raw.Close()
	}
}

// quit says goodbye politely (bounded by the timeout), then closes.
func (c *conn) quit() {
	if c.connected() {
		_ = c.client.Close()
	}
	c.drop()
}
