package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/backendweekly/weekly/mailer"
)

// work sends the deliveries it is handed until jobs closes. Once ctx ends it only
// puts deliveries back (they stay pending); a message already in flight finishes on
// sendCtx and is recorded before work takes the next job.
func (r *run) work(ctx, sendCtx context.Context, jobs <-chan delivery, rec *recorder) {
	for d := range jobs {
		if ctx.Err() != nil || r.gate.wait(ctx) != nil {
			d.done()
			continue
		}
		o := r.attempt(sendCtx, d)
		if o == nil { // the server is unreachable: the delivery stays as it was
			d.done()
			continue
		}
		rec.add(o) // returns once the outcome is committed
		d.done()
	}
}

// attempt sends one delivery and decides what to record; nil means nothing (an
// outage, which says nothing about the recipient).
func (r *run) attempt(ctx context.Context, d delivery) *outcome {
	unsub := r.s.cfg.UnsubscribeURL(d.subscriberID, r.info.id)
	body := r.content.Personalize(d.name, unsub)
	msg := &mailer.Message{
		To:             d.email,
		ToName:         d.name,
		Subject:        r.subject(),
		Date:           r.s.cfg.Now(),
		ID:             fmt.Sprintf("issue%d.d%d", r.info.number, d.id),
		Key:            fmt.Sprintf("issue-%04d/sub-%06d", r.info.number, d.subscriberID),
		UnsubscribeURL: unsub,
		Text:           body.WriteText,
		HTML:           body.WriteHTML,
	}
	reply, err := r.s.cfg.Transport.Send(ctx, msg)
	now := r.s.cfg.Now()
	o := &outcome{deliveryID: d.id, subscriberID: d.subscriberID, attempts: d.attempts + 1, at: now}
	if err == nil {
		r.gate.ok()
		r.mu.Lock()
		r.sentHere++
		r.refusals = 0
		r.mu.Unlock()
		o.status, o.reply, o.code = DeliverySent, reply, replyCode(reply)
		return o
	}
	var me *mailer.Error
	if !errors.As(err, &me) || (!me.Recipient && !me.Permanent) {
		pause := r.gate.fail()
		r.s.log.Warn("send_unreachable", slog.Int64("delivery_id", d.id), slog.Int("code", mailer.ReplyCode(err)),
			slog.Duration("pause", pause), slog.String("error", safeError(err)))
		return nil
	}
	r.gate.ok() // the server answered
	if me.Permanent && r.refused() {
		r.s.log.Error("send_refused", slog.Int64("issue_id", r.info.id), slog.Int("code", me.Code),
			slog.Int("in_a_row", r.s.cfg.MaxRefusals), slog.String("reply", mailer.RedactAddresses(me.Reply)))
		r.stop(fmt.Errorf("%w: %d in a row, the last: %s", ErrRefused, r.s.cfg.MaxRefusals, safeError(err)))
		return nil // this one stays pending
	}
	o.code, o.reply = me.Code, me.Reply
	switch {
	case me.Permanent:
		o.status = DeliveryFailed
		o.bounceThreshold = r.s.cfg.OtherBounces
		if me.Code == 550 || me.Code == 551 || me.Code == 553 {
			o.bounceThreshold = r.s.cfg.NoUserBounces
		}
		r.s.log.Info("send_failed", slog.Int64("delivery_id", d.id), slog.Int64("subscriber_id", d.subscriberID), slog.Int("code", me.Code))
	case o.attempts >= r.s.cfg.MaxAttempts:
		o.status = DeliveryFailed // gave up; not a bounce
		r.s.log.Info("send_gave_up", slog.Int64("delivery_id", d.id), slog.Int64("subscriber_id", d.subscriberID), slog.Int("code", me.Code))
	default:
		o.status = DeliveryRetry
		o.next = now.Add(backoff(r.s.cfg.RetryBase, r.s.cfg.RetryMax, o.attempts))
	}
	return o
}

// refused counts a permanent failure and reports whether it is one too many.
func (r *run) refused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusals++
	return r.refusals >= r.s.cfg.MaxRefusals
}

func (r *run) subject() string {
	if r.info.subject != "" {
		return r.info.subject
	}
	return "Issue #" + strconv.Itoa(r.info.number)
}

// safeError describes err for a log line or an error that reaches one. Servers
// echo the recipient in replies ("550 5.1.1 <ann@example.com>: Recipient address
// rejected") and go-mail names it in errors, so addresses are redacted.
func safeError(err error) string {
	s := err.Error()
	var me *mailer.Error
	if errors.As(err, &me) && me.Reply != "" {
		s = me.Reply
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return mailer.RedactAddresses(s)
}

// replyCode reads the code at the start of a server reply such as "250 2.0.0 Ok".
func replyCode(reply string) int {
	if len(reply) >= 3 {
		if n, err := strconv.Atoi(reply[:3]); err == nil {
			return n
		}
	}
	return 0
}

// backoff returns base doubled per attempt after the first, at most limit, with up to
// a quarter of jitter either way so retries of many recipients spread out.
func backoff(base, limit time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

// gate pauses every worker while the server is unreachable: each failure in a row
// doubles the pause, any answer from the server lifts it.
type gate struct {
	base, limit time.Duration

	mu       sync.Mutex
	failures int
	until    time.Time
}

func newGate(base, limit time.Duration) *gate { return &gate{base: base, limit: limit} }

// fail closes the gate after a failure. Failures while it is already closed (the
// other workers' messages that were in flight) do not lengthen the pause.
func (g *gate) fail() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := time.Until(g.until); d > 0 {
		return d
	}
	g.failures++
	d := backoff(g.base, g.limit, g.failures)
	g.until = time.Now().Add(d)
	return d
}

func (g *gate) ok() {
	g.mu.Lock()
	g.failures, g.until = 0, time.Time{}
	g.mu.Unlock()
}

// wait blocks until the gate is open or ctx ends.
func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		d := time.Until(g.until)
		g.mu.Unlock()
		if d <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}
