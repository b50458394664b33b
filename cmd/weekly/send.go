package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
)

// cmdDigestSend sends the draft issue (or resumes an issue left sending) to every
// active subscriber through the deliveries ledger; --to sends one test copy instead,
// and --dry-run only says who would get it.
func cmdDigestSend(ctx context.Context, e *env, args []string) error {
	var c config
	fs := newFlagSet(e, "digest send", "digest send [--to ADDRESS] [--dry-run] [FLAGS]")
	f := &flagEnv{fs: fs, getenv: e.getenv}
	c.storeFlags(f)
	c.contentFlags(f)
	c.mailFlags(f)
	f.duration(&c.StopTimeout, "stop-timeout", "WEEKLY_STOP_TIMEOUT", 30*time.Second, "on SIGTERM, how long in-flight sends may take to finish")
	to := fs.String("to", "", "send one test copy of the draft to this address; the ledger is not touched")
	dry := fs.Bool("dry-run", false, "show who would get the issue and send nothing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if err := firstErr(f.err(), wantArgs(fs, pos, 0, 0, "no arguments"), c.validateStore(), c.validateContent(), c.validateMail(), validateSendFlags(*to, *dry, c.StopTimeout)); err != nil {
		return err
	}
	db, err := openExisting(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	iss, err := issueToSend(ctx, db, &c, *to != "")
	if err != nil {
		return err
	}
	if *dry {
		return dryRun(ctx, e, db, &c, iss)
	}
	return sendIssue(ctx, e, db, &c, iss, *to)
}

func validateSendFlags(to string, dry bool, stop time.Duration) error {
	if to != "" && dry {
		return usageError{errors.New("digest send: --to and --dry-run do not go together")}
	}
	if to != "" {
		if a, err := mail.ParseAddress(to); err != nil || a.Name != "" || strings.ContainsAny(to, "\r\n") {
			return usageError{fmt.Errorf("digest send: --to %q: want a bare address such as you@example.com", to)}
		}
	}
	if stop <= 0 {
		return usageError{fmt.Errorf("--stop-timeout %v: must be positive", stop)}
	}
	return nil
}

// issueToSend returns the issue a send works on: one left sending by a stopped or
// crashed send comes first (unless only a test copy is wanted), then the draft.
func issueToSend(ctx context.Context, db *sql.DB, c *config, testCopy bool) (digest.Issue, error) {
	issues := digest.NewIssues(db, nil, digest.Config{ListName: c.Name})
	if !testCopy {
		ids, err := digest.SendingIssues(ctx, db)
		if err != nil {
			return digest.Issue{}, err
		}
		if len(ids) > 0 {
			return issues.Get(ctx, ids[0])
		}
	}
	iss, err := issues.Draft(ctx)
	if errors.Is(err, digest.ErrNoDraft) {
		return iss, errors.New("digest send: there is no draft issue to send; run 'weekly digest build' first")
	}
	return iss, err
}

func dryRun(ctx context.Context, e *env, db *sql.DB, c *config, iss digest.Issue) error {
	where := "to the outbox folder " + c.Outbox
	if c.SMTPHost != "" {
		where = fmt.Sprintf("through %s:%d", c.SMTPHost, c.SMTPPort)
	}
	if iss.Status == digest.StatusSending {
		counts, err := digest.DeliveryCounts(ctx, db, iss.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Issue #%d is part-sent: %d of %d delivered; resuming would send %d more %s.\n",
			iss.Number, counts.Sent, counts.Total, counts.Left(), where)
		return nil
	}
	n, first, err := digest.Recipients(ctx, db, 10)
	if err != nil {
		return err
	}
	ids := make([]string, len(first))
	for i, id := range first {
		ids[i] = fmt.Sprint(id)
	}
	items := fmt.Sprintf("%d items", len(iss.Items))
	if len(iss.Items) == 1 {
		items = "1 item"
	}
	fmt.Fprintf(e.stdout, "Issue #%d (%q, %s) would go to %d active subscribers %s.\n", iss.Number, iss.Subject, items, n, where)
	if n > 0 {
		fmt.Fprintf(e.stdout, "First subscriber ids: %s\n", strings.Join(ids, ", "))
	}
	return nil
}

// sendIssue renders iss once and sends it: to one test address, or to everyone.
func sendIssue(ctx context.Context, e *env, db *sql.DB, c *config, iss digest.Issue, to string) error {
	set, err := templates.Load(c.Templates)
	if err != nil {
		return err
	}
	p, err := prepareSend(ctx, db, c, set, iss, time.Now)
	if err != nil {
		return fmt.Errorf("digest send: %w", err)
	}
	defer p.close()
	if to != "" {
		return sendTestCopy(ctx, e, p, to)
	}
	return sendToAll(ctx, e, db, c, p)
}

// issueSend is what sending one issue needs, built the same way by 'weekly digest
// send' and by the daemon: the issue rendered once, the mailer, and the signer of
// its unsubscribe links.
type issueSend struct {
	iss            digest.Issue
	rendered       *templates.Rendered
	mailer         *mailer.Mailer
	unsubscribeURL func(subscriberID, issueID int64) string
}

// prepareSend renders iss with set and opens the mailer; close releases it.
func prepareSend(ctx context.Context, db *sql.DB, c *config, set *templates.Set, iss digest.Issue, now func() time.Time) (*issueSend, error) {
	site := digest.Site{ListName: c.Name, BaseURL: c.BaseURL, Location: c.location, Now: now}
	rendered, err := set.RenderIssue(iss.Template(site))
	if err != nil {
		return nil, fmt.Errorf("render issue #%d: %w", iss.Number, err)
	}
	tokens, err := loadTokens(ctx, db)
	if err != nil {
		return nil, err
	}
	m, err := newMailer(c)
	if err != nil {
		return nil, err
	}
	return &issueSend{
		iss:      iss,
		rendered: rendered,
		mailer:   m,
		unsubscribeURL: func(subscriberID, issueID int64) string {
			return c.BaseURL + "/unsubscribe/" + tokens.Unsubscribe(subscriberID, issueID)
		},
	}, nil
}

func (p *issueSend) close() { p.mailer.Close() }

func (p *issueSend) personalize(name, unsubscribeURL string) digest.Body {
	return p.rendered.Personalize(templates.Personal{Name: name, UnsubscribeURL: unsubscribeURL})
}

// toAll sends the issue through the ledger to every active subscriber, or resumes
// it. When ctx ends, the messages in flight get c.StopTimeout to finish and are
// recorded; the rest stay pending.
func (p *issueSend) toAll(ctx context.Context, db *sql.DB, c *config, log *slog.Logger, now func() time.Time, progress func(digest.Progress)) (digest.Result, error) {
	s, err := digest.NewSender(digest.SendConfig{
		DB: db, Transport: p.mailer, Bouncer: subscribers.NewStore(db, now), UnsubscribeURL: p.unsubscribeURL,
		Concurrency: c.Concurrency, Logger: log, Now: now, StopTimeout: c.StopTimeout, Progress: progress,
		NoUserBounces: c.BouncesNoUser, OtherBounces: c.BouncesOther,
	})
	if err != nil {
		return digest.Result{}, err
	}
	return s.Send(ctx, p.iss.ID, digest.Content{Subject: p.rendered.Subject(), Personalize: p.personalize})
}

// newMailer builds the mailer from the mail settings.
func newMailer(c *config) (*mailer.Mailer, error) {
	mc := mailer.Config{
		From: c.From, FromName: c.Name, UnsubscribeMailto: c.UnsubMailto,
		Host: c.SMTPHost, Port: c.SMTPPort, TLS: c.SMTPTLS, Auth: c.SMTPAuth,
		Username: c.SMTPUser, Password: c.SMTPPassword, HELO: c.HELO, Timeout: c.SMTPTimeout,
		Concurrency: c.Concurrency, Rate: c.Rate, Outbox: c.Outbox,
	}
	if c.DKIMKeyFile != "" {
		key, err := mailer.LoadDKIMKey(c.DKIMKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--dkim-key %s: %w", c.DKIMKeyFile, err)
		}
		mc.DKIMDomain, mc.DKIMSelector, mc.DKIMKey = c.DKIMDomain, c.DKIMSelector, key
	}
	return mailer.New(mc)
}

// sendTestCopy sends the issue to one address, outside the ledger. Its unsubscribe
// link names no subscriber, so following it changes nothing.
func sendTestCopy(ctx context.Context, e *env, p *issueSend, to string) error {
	unsub := p.unsubscribeURL(0, p.iss.ID)
	body := p.personalize("", unsub)
	reply, err := p.mailer.Send(ctx, &mailer.Message{
		To: to, Subject: p.rendered.Subject(), Date: time.Now(),
		Key:            fmt.Sprintf("issue-%04d/test", p.iss.Number),
		UnsubscribeURL: unsub, Text: body.WriteText, HTML: body.WriteHTML,
	})
	if err != nil {
		return fmt.Errorf("digest send: test copy of issue #%d: %w", p.iss.Number, err)
	}
	fmt.Fprintf(e.stdout, "Sent a test copy of issue #%d to %s (%s). The ledger is unchanged.\n", p.iss.Number, to, reply)
	return nil
}

func sendToAll(ctx context.Context, e *env, db *sql.DB, c *config, p *issueSend) error {
	log := c.newLogger(e)
	res, err := p.toAll(ctx, db, c, log, time.Now, progressPrinter(e.stderr, log))
	if err != nil {
		return fmt.Errorf("digest send: issue #%d: %w", p.iss.Number, err)
	}
	n := res.Counts
	if !res.Finished {
		fmt.Fprintf(e.stdout, "Stopped: issue #%d has %d sent, %d failed, %d left. Run 'weekly digest send' again to resume.\n",
			p.iss.Number, n.Sent, n.Failed, n.Left())
		return nil
	}
	fmt.Fprintf(e.stdout, "Issue #%d sent: %d delivered, %d failed, %d skipped (left before their copy went).\n",
		p.iss.Number, n.Sent, n.Failed, n.Skipped)
	return nil
}

// progressPrinter shows a status line that rewrites itself on a terminal, and a log
// line every 10 seconds otherwise.
func progressPrinter(w io.Writer, log *slog.Logger) func(digest.Progress) {
	if isTerminal(w) {
		return func(p digest.Progress) {
			fmt.Fprintf(w, "\r\033[Ksent %d/%d  failed %d  retrying %d  %.0f msg/s  %s left",
				p.Sent, p.Total, p.Failed, p.Retry, p.Rate, p.ETA.Round(time.Second))
			if p.Final {
				fmt.Fprintln(w)
			}
		}
	}
	var last time.Time
	return func(p digest.Progress) {
		if time.Since(last) < 10*time.Second && !p.Final {
			return
		}
		last = time.Now()
		log.Info("send_progress", slog.Int64("issue_id", p.IssueID), slog.Int("sent", p.Sent), slog.Int("total", p.Total),
			slog.Int("failed", p.Failed), slog.Int("retrying", p.Retry), slog.Float64("rate", p.Rate), slog.Duration("eta", p.ETA))
	}
}
