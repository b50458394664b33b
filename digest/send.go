package digest

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/backendweekly/weekly/mailer"
)

// Body is one subscriber's copy of an issue; templates.Body is one.
type Body interface {
	WriteHTML(w io.Writer) (int64, error)
	WriteText(w io.Writer) (int64, error)
}

// Personalizer returns a subscriber's copy of an issue rendered once, given what
// differs per subscriber. It must be safe for concurrent use.
type Personalizer func(name, unsubscribeURL string) Body

// Transport delivers one message; *mailer.Mailer is one. Errors should be
// *mailer.Error, which says whether a failure is permanent for the recipient.
type Transport interface {
	Send(ctx context.Context, m *mailer.Message) (reply string, err error)
}

// Bouncer counts hard bounces; *subscribers.Store is one.
type Bouncer interface {
	HardBounce(ctx context.Context, subscriberID, issueID int64, threshold int) (bounced bool, err error)
}

// SendConfig configures a Sender. Fields marked required must be set; zero values
// of the others take the default given.
type SendConfig struct {
	DB        *sql.DB   // required
	Transport Transport // required
	Bouncer   Bouncer   // required
	// UnsubscribeURL returns a subscriber's one-click unsubscribe link for an issue
	// (required).
	UnsubscribeURL func(subscriberID, issueID int64) string

	Concurrency   int              // messages in flight at once; default 10
	Logger        *slog.Logger     // default: discard
	Now           func() time.Time // default: time.Now
	StopTimeout   time.Duration    // after ctx ends, how long in-flight messages may take; default 30s
	Lease         time.Duration    // how long the send lease lasts unless renewed; default 1m
	Progress      func(Progress)   // optional: called every ProgressEvery and at the end
	ProgressEvery time.Duration    // default 1s

	// RetryBase and RetryMax bound the back-off after a 4xx reply for a recipient:
	// RetryBase doubled per attempt, with jitter, at most RetryMax. Defaults 1m, 1h.
	RetryBase, RetryMax time.Duration
	// MaxAttempts is how many 4xx replies a recipient gets before the delivery is
	// failed (not counted as a bounce). Default 10.
	MaxAttempts int
	// PauseBase and PauseMax bound the pause of all sending while the server is
	// unreachable. Defaults 1s, 1m.
	PauseBase, PauseMax time.Duration
	// NoUserBounces is the hard-bounce threshold after a 550, 551 or 553 reply
	// ("no such user"); OtherBounces after any other 5xx. Defaults 1 and 3.
	NoUserBounces, OtherBounces int
	// MaxRefusals is how many permanent failures in a row, with no delivery between
	// them, stop the send with ErrRefused (default 10). A server that refuses
	// everyone (relaying denied, a blocked sender) must not bounce the whole list.
	MaxRefusals int
	// BatchSize is how many deliveries are read from the ledger at a time; default
	// 4×Concurrency. Small batches keep the subscriber status read with them fresh.
	BatchSize int
}

// Progress is a snapshot of a send in progress.
type Progress struct {
	IssueID int64
	Counts
	Elapsed time.Duration
	Rate    float64       // messages sent per second in this run
	ETA     time.Duration // estimated time left, 0 when unknown
	Final   bool          // the last report of this Send
}

// Result is how a Send ended.
type Result struct {
	IssueID int64
	// Finished is true when the issue is sent: no delivery is pending or retrying.
	// It is false when ctx ended first; calling Send again resumes.
	Finished bool
	Counts   Counts
}

// Content is what a send needs from the rendered issue.
type Content struct {
	Personalize Personalizer // required
	// Subject is the subject line (default: the issue's subject, else "Issue #N").
	Subject string
	// HTML and Text, if set, are frozen into the issue when sending starts, for the
	// archive: the issue as its subscribers got it.
	HTML, Text string
}

// Sender sends issues through the deliveries ledger.
type Sender struct {
	cfg SendConfig
	log *slog.Logger
}

// NewSender checks cfg and returns a Sender.
func NewSender(cfg SendConfig) (*Sender, error) {
	if cfg.DB == nil || cfg.Transport == nil || cfg.Bouncer == nil || cfg.UnsubscribeURL == nil {
		return nil, errors.New("digest: NewSender needs DB, Transport, Bouncer and UnsubscribeURL")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&cfg.Concurrency, 10)
	defInt(&cfg.MaxAttempts, 10)
	defInt(&cfg.NoUserBounces, 1)
	defInt(&cfg.OtherBounces, 3)
	defInt(&cfg.BatchSize, 4*cfg.Concurrency)
	defInt(&cfg.MaxRefusals, 10)
	def(&cfg.StopTimeout, 30*time.Second)
	def(&cfg.Lease, time.Minute)
	def(&cfg.ProgressEvery, time.Second)
	def(&cfg.RetryBase, time.Minute)
	def(&cfg.RetryMax, time.Hour)
	def(&cfg.PauseBase, time.Second)
	def(&cfg.PauseMax, time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, log: log}, nil
}

// Send delivers issueID to its subscribers. A draft is started first: it becomes
// sending and gets one delivery per active subscriber. An issue already sending is
// resumed, so Send is also how a crashed or stopped send is finished; a sent issue
// returns at once.
//
// When ctx ends, Send takes no new delivery, lets the ones in flight finish for up to
// StopTimeout, records them and returns with Finished false and a nil error.
func (s *Sender) Send(ctx context.Context, issueID int64, c Content) (Result, error) {
	if c.Personalize == nil {
		return Result{}, errors.New("digest: Send needs Content.Personalize")
	}
	l := &ledger{db: s.cfg.DB, now: s.cfg.Now, owner: newOwner(), lease: s.cfg.Lease}
	info, created, err := l.acquire(ctx, issueID, c.HTML, c.Text)
	if err != nil {
		return Result{IssueID: issueID}, err
	}
	if info.status == "sent" {
		counts, err := DeliveryCounts(ctx, s.cfg.DB, issueID)
		return Result{IssueID: issueID, Finished: true, Counts: counts}, err
	}
	s.log.Info("send_start", slog.Int64("issue_id", issueID), slog.Int("number", info.number), slog.Int64("new_deliveries", created))
	if c.Subject != "" {
		info.subject = c.Subject
	}
	if err := l.prepare(ctx); err != nil {
		l.release(context.WithoutCancel(ctx), issueID)
		return Result{IssueID: issueID}, err
	}
	defer l.close()
	r := &run{s: s, l: l, info: info, content: c, gate: newGate(s.cfg.PauseBase, s.cfg.PauseMax)}
	finished, err := r.do(ctx)

	// Record and report even when ctx has ended.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if !finished {
		if rerr := l.release(bg, issueID); rerr != nil && err == nil {
			err = rerr
		}
	}
	counts, cerr := DeliveryCounts(bg, s.cfg.DB, issueID)
	if err == nil {
		err = cerr
	}
	r.report(counts, true)
	s.log.Info("send_end", slog.Int64("issue_id", issueID), slog.Bool("finished", finished),
		slog.Int("sent", counts.Sent), slog.Int("failed", counts.Failed), slog.Int("left", counts.Left()))
	return Result{IssueID: issueID, Finished: finished, Counts: counts}, err
}

// run is one call of Send.
type run struct {
	s       *Sender
	l       *ledger
	info    issueInfo
	content Content
	gate    *gate
	started time.Time

	stop context.CancelCauseFunc // ends the run early, with a cause

	mu       sync.Mutex
	sentHere int // messages sent by this run, for the rate
	refusals int // permanent failures since the last delivery
}

// do works the ledger until every delivery is done or ctx ends.
func (r *run) do(ctx context.Context) (bool, error) {
	r.started = time.Now()
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	r.stop = cancelRun
	// In-flight messages get StopTimeout more after ctx ends; then they are cut.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	done := make(chan struct{})
	var bg sync.WaitGroup
	defer bg.Wait()
	defer close(done)
	bg.Go(func() { r.stopLater(runCtx, cancelSend, done) })
	bg.Go(func() { r.keepLease(runCtx, cancelRun, done) })
	if r.s.cfg.Progress != nil {
		bg.Go(func() { r.progress(done) })
	}

	rec := newRecorder(r.l, r.s.cfg.Bouncer, r.info.id, r.s.log, func(err error) { cancelRun(err) })
	jobs := make(chan delivery)
	var workers sync.WaitGroup
	for range r.s.cfg.Concurrency {
		workers.Go(func() { r.work(runCtx, sendCtx, jobs, rec) })
	}
	finished, err := r.dispatch(runCtx, jobs)
	close(jobs)
	workers.Wait()
	rec.close()
	if cause := context.Cause(runCtx); (errors.Is(cause, ErrLeaseLost) || errors.Is(cause, ErrRefused)) && err == nil {
		err = cause
	}
	if err == nil {
		err = rec.err()
	}
	return finished, err
}

// dispatch hands due deliveries to the workers, one pass over the ledger at a time,
// until none is open. A pass ends only when every delivery it handed out has been
// recorded, so no delivery is ever handed out twice.
func (r *run) dispatch(ctx context.Context, jobs chan<- delivery) (bool, error) {
	for {
		if err := r.l.skipGone(ctx, r.info.id); err != nil {
			return false, ctxErr(ctx, err)
		}
		if err := r.pass(ctx, jobs); err != nil {
			return false, ctxErr(ctx, err)
		}
		if ctx.Err() != nil {
			return false, nil
		}
		open, next, err := r.l.remaining(ctx, r.info.id)
		if err != nil {
			return false, ctxErr(ctx, err)
		}
		if open == 0 {
			finished, err := r.l.finish(ctx, r.info.id)
			return finished, ctxErr(ctx, err)
		}
		// Sleep until the next retry is due, but wake often enough to notice ctx.
		wait := min(max(next.Sub(r.s.cfg.Now()), 10*time.Millisecond), time.Second)
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(wait):
		}
	}
}

func (r *run) pass(ctx context.Context, jobs chan<- delivery) error {
	var after int64
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for ctx.Err() == nil {
		batch, err := r.l.due(ctx, r.info.id, after, r.s.cfg.BatchSize)
		if err != nil || len(batch) == 0 {
			return err
		}
		for _, d := range batch {
			d.done = inFlight.Done
			inFlight.Add(1)
			select {
			case jobs <- d:
			case <-ctx.Done():
				inFlight.Done()
				return nil
			}
			after = d.id
		}
	}
	return nil
}

// ctxErr hides an error caused by ctx ending: that is a stop, not a failure.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// stopLater cuts in-flight messages StopTimeout after ctx ends.
func (r *run) stopLater(ctx context.Context, cancelSend context.CancelFunc, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(r.s.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancelSend()
	}
}

// keepLease renews the lease a few times per lease period, and stops the run if it
// is lost.
func (r *run) keepLease(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) {
	t := time.NewTicker(r.s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			err := r.l.renew(ctx, r.info.id)
			if errors.Is(err, ErrLeaseLost) {
				r.s.log.Error("send_lease_lost", slog.Int64("issue_id", r.info.id))
				cancel(ErrLeaseLost)
				return
			}
			if err != nil {
				r.s.log.Warn("send_lease_renew", slog.Int64("issue_id", r.info.id), slog.Any("error", err))
			}
		}
	}
}

func (r *run) progress(done <-chan struct{}) {
	t := time.NewTicker(r.s.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			counts, err := DeliveryCounts(context.Background(), r.s.cfg.DB, r.info.id)
			if err == nil {
				r.report(counts, false)
			}
		}
	}
}

func (r *run) report(c Counts, final bool) {
	if r.s.cfg.Progress == nil {
		return
	}
	p := Progress{IssueID: r.info.id, Counts: c, Elapsed: time.Since(r.started), Final: final}
	r.mu.Lock()
	sent := r.sentHere
	r.mu.Unlock()
	if secs := p.Elapsed.Seconds(); secs > 0 && sent > 0 {
		p.Rate = float64(sent) / secs
		p.ETA = time.Duration(float64(c.Left()) / p.Rate * float64(time.Second))
	}
	r.s.cfg.Progress(p)
}
