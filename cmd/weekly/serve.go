package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
)

// cmdServe runs the daemon until ctx ends (SIGINT or SIGTERM): the web server, the
// feed refresh and the weekly issue, on their schedules.
func cmdServe(ctx context.Context, e *env, args []string) error {
	d, err := parseServe(ctx, e, args)
	if err != nil {
		return helpOK(err)
	}
	defer d.close()
	return d.run(ctx)
}

// parseServe reads the daemon's settings from args and the environment, checks them
// all (the schedules included) and opens what the daemon needs.
func parseServe(ctx context.Context, e *env, args []string) (*daemon, error) {
	var c config
	fs := newFlagSet(e, "serve", "serve [--listen HOST:PORT] [--send-schedule CRON] [--fetch-schedule CRON] [FLAGS]")
	f := &flagEnv{fs: fs, getenv: e.getenv}
	c.storeFlags(f)
	c.contentFlags(f)
	c.mailFlags(f)
	c.webFlags(f)
	c.scheduleFlags(f)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if err := firstErr(f.err(), wantArgs(fs, pos, 0, 0, "no arguments"), c.validateStore(), c.validateContent(),
		c.validateMail(), c.validateWeb(), c.validateSchedule()); err != nil {
		return nil, err
	}
	return newDaemon(ctx, e, &c)
}

// daemon is 'weekly serve': one process with the web server and a robfig/cron
// scheduler running two jobs, the feed refresh and the weekly issue.
type daemon struct {
	c   *config
	e   *env
	log *slog.Logger
	db  *sql.DB

	fetchSched, sendSched cron.Schedule

	// now is the clock every decision and record of the daemon reads: which slot is
	// due, the issue's window and dates, the ledger. Tests move it.
	now func() time.Time

	pages   *liveTemplates
	fetcher *feeds.Fetcher
}

// newDaemon opens the database and loads the templates; c must be validated.
func newDaemon(ctx context.Context, e *env, c *config) (*daemon, error) {
	fetchSched, _ := parseSchedule(c.FetchSchedule) // validated already
	sendSched, _ := parseSchedule(c.SendSchedule)
	pages, err := loadLiveTemplates(c.Templates)
	if err != nil {
		return nil, err
	}
	db, err := openExisting(ctx, c.DB)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(webDBConns)
	log := c.newLogger(e)
	return &daemon{
		c: c, e: e, log: log, db: db,
		fetchSched: fetchSched, sendSched: sendSched,
		now:     time.Now,
		pages:   pages,
		fetcher: feeds.NewFetcher(feeds.FetcherConfig{UserAgent: userAgent, Logger: log}),
	}, nil
}

func (d *daemon) close() error { return d.db.Close() }

// feeds and issues return the stores on the daemon's clock.
func (d *daemon) feeds() *feeds.Store { return feeds.NewStore(d.db, d.now) }

func (d *daemon) issues() *digest.Issues {
	return digest.NewIssues(d.db, d.now, digest.Config{
		Links:    links.NewStore(d.db, d.now),
		Feeds:    d.feeds(),
		ListName: d.c.Name,
		PerFeed:  d.c.PerFeed,
		MaxItems: d.c.MaxItems,
		MinItems: d.c.MinItems,
	})
}

// run serves until ctx ends, then stops the jobs (a send records what it has in
// flight, within --stop-timeout), shuts the web server down and returns nil.
func (d *daemon) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, closeMail, err := newWebServer(ctx, d.c, d.db, d.log, d.pages, d.now)
	if err != nil {
		return err
	}
	defer closeMail()
	ln, err := net.Listen("tcp", d.c.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", d.c.Listen, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	webDone := make(chan error, 1)
	go func() { webDone <- srv.Run(ctx, ln) }() // returns once ctx ends and requests finish

	cr, startup := d.startJobs(ctx)
	next := d.sendSched.Next(d.now().In(d.c.location))
	fmt.Fprintf(d.e.stdout, "Serving on http://%s (public URL %s). Next send %s. Stop with Ctrl-C.\n",
		ln.Addr(), d.c.BaseURL, next.Format("Mon 2006-01-02 15:04 MST"))
	d.log.Info("serve_started", slog.String("addr", ln.Addr().String()), slog.String("send_schedule", d.c.SendSchedule),
		slog.String("fetch_schedule", d.c.FetchSchedule), slog.Time("next_send", next))
	for {
		select {
		case <-hup:
			d.reloadTemplates()
			continue
		case err := <-webDone:
			// The web server failed on its own: stop everything and report it.
			cancel()
			d.stopJobs(cr, startup)
			return err
		case <-ctx.Done():
		}
		break
	}
	jobsErr := d.stopJobs(cr, startup)
	webErr := <-webDone
	d.log.Info("serve_stopped")
	return firstErr(jobsErr, webErr)
}

// startJobs starts the scheduler with the two jobs, each wrapped so that a panic is
// recovered and logged and a run never overlaps the one before. The weekly job also
// runs at once, through the same wrappers (a tick that comes meanwhile is skipped):
// it resumes a send a crash left and sends a slot missed while the daemon was down.
// Jobs run on ctx and stop when it ends.
func (d *daemon) startJobs(ctx context.Context) (*cron.Cron, *sync.WaitGroup) {
	cl := cronLogger{d.log}
	wrap := cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl))
	fetch := wrap.Then(cron.FuncJob(func() { d.fetchJob(ctx) }))
	weekly := wrap.Then(cron.FuncJob(func() { d.weeklyJob(ctx) }))
	cr := cron.New(cron.WithLocation(d.c.location), cron.WithParser(cronParser), cron.WithLogger(cl))
	cr.Schedule(d.fetchSched, fetch)
	cr.Schedule(d.sendSched, weekly)
	var startup sync.WaitGroup
	startup.Go(weekly.Run)
	cr.Start()
	return cr, &startup
}

// stopJobs stops the scheduler and waits for running jobs. A send sees ctx end and
// records its in-flight messages within --stop-timeout; the margin covers that
// recording and a feed fetch being cut short.
func (d *daemon) stopJobs(cr *cron.Cron, startup *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		<-cr.Stop().Done()
		startup.Wait()
		close(done)
	}()
	limit := d.c.StopTimeout + 15*time.Second
	select {
	case <-done:
		return nil
	case <-time.After(limit):
		d.log.Error("serve_jobs_still_running", slog.Duration("waited", limit))
		return fmt.Errorf("serve: jobs still running %v after the stop signal; a send left unfinished resumes at the next start", limit)
	}
}

// reloadTemplates loads the templates again (SIGHUP). A broken override is logged
// and the templates in use stay.
func (d *daemon) reloadTemplates() {
	if err := d.pages.reload(); err != nil {
		d.log.Error("templates_reload_failed", slog.Any("err", err))
		return
	}
	d.log.Info("templates_reloaded")
}
