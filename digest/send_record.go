package digest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// maxRecordBatch bounds one recording transaction.
const maxRecordBatch = 256

// recorder writes outcomes to the ledger with group commit: whatever the workers
// have finished while the previous transaction ran goes into the next one. A worker
// waits for its outcome to be committed before taking another delivery, so at any
// moment at most one sent-but-unrecorded message per worker exists: that bounds the
// duplicates after a kill -9 by the concurrency.
type recorder struct {
	l       *ledger
	bouncer Bouncer
	issueID int64
	log     *slog.Logger
	in      chan pending
	stopped chan struct{}
	onErr   func(error) // stops the run: resending what could not be recorded would repeat it

	mu      sync.Mutex
	lastErr error
}

type pending struct {
	o    *outcome
	done chan struct{}
}

func newRecorder(l *ledger, b Bouncer, issueID int64, log *slog.Logger, onErr func(error)) *recorder {
	rec := &recorder{l: l, bouncer: b, issueID: issueID, log: log, onErr: onErr, in: make(chan pending), stopped: make(chan struct{})}
	go rec.loop()
	return rec
}

// add queues o and returns once it is committed (or failed to be).
func (rec *recorder) add(o *outcome) {
	p := pending{o: o, done: make(chan struct{})}
	rec.in <- p
	<-p.done
}

// close stops the recorder once everything added is written. Only call it when no
// add is running.
func (rec *recorder) close() {
	close(rec.in)
	<-rec.stopped
}

func (rec *recorder) err() error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.lastErr
}

func (rec *recorder) loop() {
	defer close(rec.stopped)
	batch := make([]pending, 0, maxRecordBatch)
	for first := range rec.in {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxRecordBatch {
			select {
			case p, ok := <-rec.in:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		rec.write(batch)
	}
}

// write commits a batch, retrying a failed commit a few times (the database may be
// busy with another process), then counts the hard bounces it holds. The bounce
// comes after the commit: a crash in between loses a count rather than doubling it.
func (rec *recorder) write(batch []pending) {
	outs := make([]*outcome, len(batch))
	for i, p := range batch {
		outs[i] = p.o
	}
	// Outcomes are written even while the run is stopping: ctx may have ended.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for try := range 5 {
		if err = rec.l.record(ctx, outs); err == nil {
			break
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
	if err != nil {
		rec.log.Error("send_record", slog.Int64("issue_id", rec.issueID), slog.Int("outcomes", len(outs)), slog.Any("error", err))
		rec.mu.Lock()
		rec.lastErr = errors.Join(rec.lastErr, err)
		rec.mu.Unlock()
		rec.onErr(err)
	}
	for _, p := range batch {
		close(p.done)
	}
	if err != nil {
		return
	}
	for _, o := range outs {
		if o.bounceThreshold == 0 {
			continue
		}
		bounced, err := rec.bouncer.HardBounce(ctx, o.subscriberID, rec.issueID, o.bounceThreshold)
		if err != nil {
			rec.log.Error("send_bounce", slog.Int64("subscriber_id", o.subscriberID), slog.Any("error", err))
			continue
		}
		if bounced {
			rec.log.Info("subscriber_bounced", slog.Int64("subscriber_id", o.subscriberID), slog.Int("code", o.code))
		}
	}
}
