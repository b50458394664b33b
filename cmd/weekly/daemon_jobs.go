package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/backendweekly/weekly/digest"
)

// Outcomes of the weekly job, as logged and returned to tests.
const (
	outcomeSent    = "sent"    // an issue went out (or finished going out)
	outcomeStopped = "stopped" // ctx ended during the send; it resumes at the next start
	outcomeLeased  = "leased"  // another process is sending; nothing to do
	outcomeFailed  = "failed"
)

// weeklyJob runs the weekly job once and logs one line with its outcome and
// duration. It returns the outcome.
func (d *daemon) weeklyJob(ctx context.Context) string {
	start := time.Now()
	outcome, attrs, err := d.weekly(ctx)
	if err != nil && ctx.Err() != nil {
		// Stopped before the send began (during the feed refresh or the build):
		// nothing was sent, and the next start takes the slot up again.
		outcome, err = outcomeStopped, nil
	}
	attrs = append(attrs, slog.String("outcome", outcome), slog.Duration("duration", time.Since(start)))
	level := slog.LevelInfo
	switch {
	case err != nil:
		level, attrs = slog.LevelError, append(attrs, slog.Any("err", err))
	case outcome == weekMissed || outcome == weekSkipped:
		level = slog.LevelWarn // an editor should hear of a week that did not go out
	}
	d.log.LogAttrs(context.Background(), level, "job_weekly", attrs...)
	return outcome
}

// weekly finishes a send left sending, then sends the most recent slot's issue if
// it is owed (see planWeek). It is safe to run at any time, as often as wanted.
func (d *daemon) weekly(ctx context.Context) (string, []slog.Attr, error) {
	if outcome, attrs, err := d.resume(ctx); outcome != "" {
		return outcome, attrs, err
	}
	now := d.now()
	p, err := planWeek(ctx, d.db, d.sendSched, d.c.location, d.c.Grace, now)
	if err != nil {
		return outcomeFailed, nil, err
	}
	attrs := []slog.Attr{slog.Time("slot", p.Slot)}
	switch {
	case p.State == weekSent:
		return "already_sent", append(attrs, slog.Int("issue", p.Issue)), nil
	case p.Recorded:
		return "already_" + p.State, attrs, nil
	case p.State == weekMissed:
		attrs = append(attrs, slog.Duration("late", now.Sub(p.Slot)), slog.Duration("grace", d.c.Grace),
			slog.String("hint", "the week was missed: the daemon was down past --grace; 'weekly digest send' sends the draft by hand"))
		return weekMissed, attrs, settle(ctx, d.db, p.Slot, weekMissed)
	case p.State != weekDue:
		return p.State, attrs, nil
	}
	return d.sendWeek(ctx, p.Slot, attrs)
}

// sendWeek refreshes the feeds, builds the draft (an editor's draft keeps its
// subject, intro and dropped items, and gains what arrived since), checks the
// minimum and sends the issue for slot.
func (d *daemon) sendWeek(ctx context.Context, slot time.Time, attrs []slog.Attr) (string, []slog.Attr, error) {
	if _, _, _, err := d.refresh(ctx); err != nil {
		return outcomeFailed, attrs, err
	}
	if ctx.Err() != nil {
		return outcomeStopped, attrs, nil
	}
	issues := d.issues()
	iss, err := issues.Build(ctx)
	if err != nil {
		return outcomeFailed, attrs, err
	}
	attrs = append(attrs, slog.Int("issue", iss.Number), slog.Int("items", len(iss.Items)))
	if err := issues.CheckMinItems(iss); errors.Is(err, digest.ErrTooFewItems) {
		attrs = append(attrs, slog.Int("min_items", d.c.MinItems),
			slog.String("hint", "skipping the week: fewer items than --min-items; the draft stays for next week, or 'weekly digest send' sends it now"))
		return weekSkipped, attrs, settle(ctx, d.db, slot, weekSkipped)
	}
	if err := issues.Schedule(ctx, iss.ID, slot); err != nil {
		return outcomeFailed, attrs, err
	}
	return d.sendOutcome(ctx, iss, attrs)
}

// resume finishes the issues left sending by a crash or a stop, oldest first. It
// returns "" when there was none or all are now sent, so the job goes on.
func (d *daemon) resume(ctx context.Context) (string, []slog.Attr, error) {
	ids, err := digest.SendingIssues(ctx, d.db)
	if err != nil {
		return outcomeFailed, nil, err
	}
	for _, id := range ids {
		iss, err := d.issues().Get(ctx, id)
		if err != nil {
			return outcomeFailed, nil, err
		}
		d.log.Info("send_resuming", slog.Int("issue", iss.Number))
		outcome, attrs, err := d.sendOutcome(ctx, iss, []slog.Attr{slog.Bool("resumed", true)})
		if outcome != outcomeSent || err != nil {
			return outcome, attrs, err
		}
	}
	return "", nil, nil
}

// sendOutcome sends iss and says how it went.
func (d *daemon) sendOutcome(ctx context.Context, iss digest.Issue, attrs []slog.Attr) (string, []slog.Attr, error) {
	res, err := d.send(ctx, iss)
	n := res.Counts
	attrs = append(attrs, slog.Int("issue", iss.Number), slog.Int("sent", n.Sent), slog.Int("failed", n.Failed),
		slog.Int("skipped", n.Skipped), slog.Int("left", n.Left()))
	switch {
	case errors.Is(err, digest.ErrSendLeased):
		return outcomeLeased, attrs, nil
	case err != nil:
		return outcomeFailed, attrs, err
	case !res.Finished:
		return outcomeStopped, attrs, nil
	}
	return outcomeSent, attrs, nil
}

// send renders iss once with the current templates and sends it through the
// ledger. When ctx ends, the messages in flight get --stop-timeout to finish and
// are recorded; the rest stay pending for the next start.
func (d *daemon) send(ctx context.Context, iss digest.Issue) (digest.Result, error) {
	p, err := prepareSend(ctx, d.db, d.c, d.pages.set(), iss, d.now)
	if err != nil {
		return digest.Result{}, fmt.Errorf("serve: %w", err)
	}
	defer p.close()
	return p.toAll(ctx, d.db, d.c, d.log, d.now, progressPrinter(io.Discard, d.log)) // log lines, never a terminal display
}

// fetchJob refreshes the feeds that are due and logs one line.
func (d *daemon) fetchJob(ctx context.Context) {
	start := time.Now()
	fetched, failed, fresh, err := d.refresh(ctx)
	attrs := []slog.Attr{slog.Int("feeds", fetched), slog.Int("failed", failed), slog.Int("new_items", fresh)}
	outcome := "ok"
	if failed > 0 {
		outcome = "some_failed"
	}
	if err != nil {
		attrs = append(attrs, slog.String("outcome", outcomeFailed), slog.Duration("duration", time.Since(start)), slog.Any("err", err))
		d.log.LogAttrs(context.Background(), slog.LevelError, "job_fetch", attrs...)
		return
	}
	attrs = append(attrs, slog.String("outcome", outcome), slog.Duration("duration", time.Since(start)))
	d.log.LogAttrs(context.Background(), slog.LevelInfo, "job_fetch", attrs...)
}

// refresh fetches every feed that is due; a failing feed is logged, with its
// back-off, and reported by 'weekly status' and 'weekly feeds list'. The log names
// feeds by ID and name, not URL: a private feed's URL may carry a key.
func (d *daemon) refresh(ctx context.Context) (fetched, failed, fresh int, err error) {
	rs, err := d.feeds().Refresh(ctx, d.fetcher)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, r := range rs {
		if r.Err != nil {
			failed++
			d.log.Warn("feed_failed", slog.Int64("feed_id", r.FeedID), slog.String("feed", r.Name), slog.Int("failures", r.Failures),
				slog.Time("next_fetch_at", r.NextFetchAt), slog.Any("err", r.Err))
			continue
		}
		fresh += r.New
	}
	return len(rs), failed, fresh, nil
}
