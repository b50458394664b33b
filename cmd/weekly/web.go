package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
	"github.com/backendweekly/weekly/web"
)

// cmdWeb runs the subscriber web server alone, until ctx ends (SIGINT or SIGTERM).
// 'weekly serve' runs the same server (newWebServer) beside the scheduler.
func cmdWeb(ctx context.Context, e *env, args []string) error {
	var c config
	fs := newFlagSet(e, "web", "web [--listen HOST:PORT] [--base-url URL]")
	f := &flagEnv{fs: fs, getenv: e.getenv}
	c.storeFlags(f)
	c.contentFlags(f)
	c.mailFlags(f)
	c.webFlags(f)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if err := firstErr(f.err(), wantArgs(fs, pos, 0, 0, "no arguments"),
		c.validateStore(), c.validateContent(), c.validateMail(), c.validateWeb()); err != nil {
		return err
	}
	log := c.newLogger(e)
	pages, err := loadLiveTemplates(c.Templates)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(webDBConns)
	srv, closeMail, err := newWebServer(ctx, &c, db, log, pages, time.Now)
	if err != nil {
		return err
	}
	defer closeMail()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", c.Listen, err)
	}
	fmt.Fprintf(e.stdout, "Serving on http://%s (public URL %s). Stop with Ctrl-C.\n", ln.Addr(), c.BaseURL)
	return srv.Run(ctx, ln)
}

// webDBConns caps the database pool of 'weekly web' and 'weekly serve': enough
// readers for two cores, while the server writes through one connection at a time
// anyway. It equals the connections store.Open keeps idle, so none is ever closed
// and reopened under load.
const webDBConns = store.IdleConns

// newWebServer builds the web server from validated content, mail, web and store
// settings, rendering with pages ('weekly serve' reloads them on SIGHUP). The
// returned function closes the mailer's connections.
func newWebServer(ctx context.Context, c *config, db *sql.DB, log *slog.Logger, pages *liveTemplates, now func() time.Time) (*web.Server, func(), error) {
	tokens, err := loadTokens(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	m, err := newWebMailer(c)
	if err != nil {
		return nil, nil, err
	}
	srv, err := web.New(web.Config{
		DB:             db,
		Subscribers:    subscribers.NewStore(db, now),
		Tokens:         tokens,
		Archive:        web.NewArchive(digest.NewIssues(db, now, digest.Config{ListName: c.Name})),
		Pages:          pages,
		Mailer:         &confirmMailer{m: m, pages: pages, list: c.Name, home: c.BaseURL},
		BaseURL:        c.BaseURL,
		Name:           c.Name,
		Location:       c.location,
		Logger:         log,
		Now:            now,
		TrustedProxies: c.trusted,
	})
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return srv, func() { m.Close() }, nil
}

// newWebMailer returns the mailer the web server sends confirmation emails with:
// the send loop's settings with two connections, as confirmations are rare and the
// send loop has its own.
func newWebMailer(c *config) (*mailer.Mailer, error) {
	wc := *c
	wc.Concurrency = 2
	return newMailer(&wc)
}

// confirmMailer sends the double opt-in email: web.Mailer over the mailer and the
// current confirmation templates.
type confirmMailer struct {
	m     *mailer.Mailer
	pages *liveTemplates
	list  string // the newsletter's name
	home  string // the public base URL
}

func (cm *confirmMailer) SendConfirmation(ctx context.Context, c web.Confirmation) error {
	body, err := cm.pages.set().RenderConfirmation(templates.Confirmation{
		ListName:   cm.list,
		HomeURL:    cm.home,
		Name:       c.Name,
		ConfirmURL: c.ConfirmURL,
	})
	if err != nil {
		return err
	}
	_, err = cm.m.Send(ctx, &mailer.Message{
		To:             c.To,
		ToName:         c.Name,
		Subject:        "Confirm your subscription to " + cm.list,
		Key:            fmt.Sprintf("confirm/sub-%06d", c.SubscriberID),
		UnsubscribeURL: c.UnsubscribeURL,
		Text:           body.WriteText,
		HTML:           body.WriteHTML,
	})
	return err
}
