package main

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
	"github.com/backendweekly/weekly/web"
)

// liveTemplates is the template set the daemon renders pages and emails with.
// SIGHUP swaps in a freshly loaded set; what starts after the swap uses it, what is
// under way finishes with the set it began with.
type liveTemplates struct {
	dir string
	cur atomic.Pointer[templates.Set]
}

func loadLiveTemplates(dir string) (*liveTemplates, error) {
	lt := &liveTemplates{dir: dir}
	if err := lt.reload(); err != nil {
		return nil, err
	}
	return lt, nil
}

// reload loads the templates again; on error the current set stays.
func (lt *liveTemplates) reload() error {
	set, err := templates.Load(lt.dir)
	if err != nil {
		return err
	}
	lt.cur.Store(set)
	return nil
}

func (lt *liveTemplates) set() *templates.Set { return lt.cur.Load() }

// Page and Stylesheet make liveTemplates the web server's web.Pages.
func (lt *liveTemplates) Page(w io.Writer, name string, data any) error {
	return lt.set().Page(w, name, data)
}

func (lt *liveTemplates) Stylesheet() []byte { return lt.set().Stylesheet() }

// liveConfirmMailer is confirmMailer (see web.go) over the current templates.
type liveConfirmMailer struct {
	m          *mailer.Mailer
	pages      *liveTemplates
	list, home string
}

func (lc *liveConfirmMailer) SendConfirmation(ctx context.Context, c web.Confirmation) error {
	cm := &confirmMailer{m: lc.m, set: lc.pages.set(), list: lc.list, home: lc.home}
	return cm.SendConfirmation(ctx, c)
}

// newWebServer builds the same server as 'weekly web' (newWebServer in web.go) but
// on templates that SIGHUP reloads. The returned function closes the mailer.
func (d *daemon) newWebServer(ctx context.Context) (*web.Server, func(), error) {
	tokens, err := loadTokens(ctx, d.db)
	if err != nil {
		return nil, nil, err
	}
	m, err := newWebMailer(d.c)
	if err != nil {
		return nil, nil, err
	}
	srv, err := web.New(web.Config{
		DB:             d.db,
		Subscribers:    subscribers.NewStore(d.db, time.Now),
		Tokens:         tokens,
		Archive:        web.NewArchive(digest.NewIssues(d.db, time.Now, digest.Config{ListName: d.c.Name})),
		Pages:          d.pages,
		Mailer:         &liveConfirmMailer{m: m, pages: d.pages, list: d.c.Name, home: d.c.BaseURL},
		BaseURL:        d.c.BaseURL,
		Name:           d.c.Name,
		Location:       d.c.location,
		Logger:         d.log,
		TrustedProxies: d.trusted,
	})
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return srv, func() { m.Close() }, nil
}
