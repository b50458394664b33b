package mailer

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// conn is one SMTP connection, reused for message after message. go-mail's Client
// opens it (dial, EHLO, STARTTLS, AUTH) and go-mail's smtp.Client speaks the
// commands; only the DATA phase is ours: go-mail's Client.Send streams the message
// through net/textproto's dot-stuffing writer one byte at a time, which measured at a
// third of our CPU per message, so dataWriter does the same work a line at a time.
// No NOOP before and no RSET after each message: any error drops the connection and
// the next message dials afresh.
type conn struct {
	m      *Mailer
	client *gomail.Client
	sc     *smtp.Client // the open session, nil when there is none

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
	if c.sc == nil || !c.connected() {
		sc, err := c.client.DialToSMTPClientWithContext(ctx)
		if err != nil {
			c.drop()
			c.sc = nil
			return "", &Error{Err: fmt.Errorf("mailer: connect to %s: %w", c.m.cfg.Host, err)}
		}
		c.sc = sc
	}
	stop := context.AfterFunc(ctx, c.drop)
	reply, err := c.transact(gm)
	stop()
	if err != nil {
		c.drop()
		c.sc = nil
		return "", err
	}
	return reply, nil
}

// transact runs MAIL, RCPT and DATA for gm.
func (c *conn) transact(gm *gomail.Msg) (string, error) {
	from, err := gm.GetSender(false)
	if err != nil {
		return "", &Error{Permanent: true, Err: fmt.Errorf("%w: %w", ErrInvalidMessage, err)}
	}
	rcpts, err := gm.GetRecipients()
	if err != nil || len(rcpts) != 1 {
		return "", &Error{Permanent: true, Err: fmt.Errorf("%w: want one recipient", ErrInvalidMessage)}
	}
	sc := c.sc
	if err := sc.UpdateDeadline(c.m.cfg.Timeout); err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: %w", err)}
	}
	if err := sc.Mail(from); err != nil {
		return "", replyError("MAIL FROM", err, false)
	}
	if err := sc.Rcpt(rcpts[0]); err != nil {
		return "", replyError("RCPT TO", err, true)
	}
	if err := c.cmd("DATA", 354); err != nil {
		return "", replyError("DATA", err, true)
	}
	w := &dataWriter{w: sc.Text.W, bol: true}
	if _, err := gm.WriteTo(w); err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: write message: %w", err)}
	}
	if err := w.close(); err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: write message: %w", err)}
	}
	// The data was the request; the textproto pipeline must see it as one.
	id := sc.Text.Next()
	sc.Text.StartRequest(id)
	sc.Text.EndRequest(id)
	sc.Text.StartResponse(id)
	code, msg, err := sc.Text.ReadResponse(250)
	sc.Text.EndResponse(id)
	if err != nil {
		return "", replyError("end of DATA", err, true)
	}
	return fmt.Sprintf("%d %s", code, msg), nil
}

// cmd sends a command and reads its reply.
func (c *conn) cmd(line string, expect int) error {
	t := c.sc.Text
	id, err := t.Cmd("%s", line)
	if err != nil {
		return err
	}
	t.StartResponse(id)
	defer t.EndResponse(id)
	_, _, err = t.ReadResponse(expect)
	return err
}

func (c *conn) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw != nil
}

// drop closes the connection without a goodbye. It may run on another goroutine
// (a cancelled context), so the session itself is forgotten by send.
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
	if c.sc != nil && c.connected() {
		_ = c.sc.Quit()
	}
	c.drop()
}
