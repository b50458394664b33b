package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
)

// cmdStatus prints what the daemon would do next: the next send, where the current
// week stands, the draft, failing feeds and the last issue with its counts.
func cmdStatus(ctx context.Context, e *env, args []string) error {
	var c config
	fs := newFlagSet(e, "status", "status [--json]")
	f := &flagEnv{fs: fs, getenv: e.getenv}
	c.storeFlags(f)
	c.contentFlags(f)
	c.scheduleFlags(f)
	asJSON := fs.Bool("json", false, "print a JSON object instead of text")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if err := firstErr(f.err(), wantArgs(fs, pos, 0, 0, "no arguments"), c.validateStore(), c.validateContent(), c.validateSchedule()); err != nil {
		return err
	}
	db, err := openExisting(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := readStatus(ctx, db, &c, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(st)
	}
	printStatus(e.stdout, st, &c)
	return nil
}

// daemonStatus is what 'weekly status' reports.
type daemonStatus struct {
	Now          time.Time `json:"now"`
	SendSchedule string    `json:"send_schedule"`
	Timezone     string    `json:"timezone"`
	NextSend     time.Time `json:"next_send"`
	// Slot is the most recent send time and State where it stands: due (the daemon
	// sends it when it next starts or ticks), sent, skipped, missed or none.
	Slot       time.Time `json:"slot,omitzero"`
	State      string    `json:"state"`
	SlotIssue  int       `json:"slot_issue,omitempty"` // the issue that answered it
	GraceUntil time.Time `json:"grace_until,omitzero"` // when State is due: how late it may still go
	// Sending lists issues left part-sent, which the daemon resumes first.
	Sending     []int           `json:"sending"`
	Draft       *draftStatus    `json:"draft"`
	QueuedLinks int             `json:"queued_links"`
	Feeds       int             `json:"feeds"`
	Failing     []feeds.Feed    `json:"failing_feeds"`
	LastIssue   *digest.Summary `json:"last_issue"`
}

// draftStatus sums up the draft.
type draftStatus struct {
	Number    int    `json:"number"`
	Subject   string `json:"subject"`
	Items     int    `json:"items"`
	Links     int    `json:"links"`
	FeedItems int    `json:"feed_items"`
	// TooFew is true when the draft has fewer than --min-items: the send would skip.
	TooFew bool `json:"too_few"`
}

func readStatus(ctx context.Context, db *sql.DB, c *config, now time.Time) (daemonStatus, error) {
	sched, _ := parseSchedule(c.SendSchedule) // validated already
	p, err := planWeek(ctx, db, sched, c.location, c.Grace, now)
	if err != nil {
		return daemonStatus{}, err
	}
	st := daemonStatus{Now: now.In(c.location), SendSchedule: c.SendSchedule, Timezone: c.Timezone,
		NextSend: p.Next, Slot: p.Slot, State: p.State, SlotIssue: p.Issue, Sending: []int{}, Failing: []feeds.Feed{}}
	if p.State == weekDue {
		st.GraceUntil = p.Slot.Add(c.Grace)
	}
	issues := digest.NewIssues(db, nil, digest.Config{ListName: c.Name, MinItems: c.MinItems})
	ids, err := digest.SendingIssues(ctx, db)
	if err != nil {
		return st, err
	}
	for _, id := range ids {
		iss, err := issues.Get(ctx, id)
		if err != nil {
			return st, err
		}
		st.Sending = append(st.Sending, iss.Number)
	}
	if st.Draft, err = draftSummary(ctx, issues); err != nil {
		return st, err
	}
	queued, err := links.NewStore(db, nil).Queued(ctx)
	if err != nil {
		return st, err
	}
	st.QueuedLinks = len(queued)
	all, err := feeds.NewStore(db, nil).List(ctx)
	if err != nil {
		return st, err
	}
	st.Feeds = len(all)
	for _, f := range all {
		if f.ConsecutiveFailures > 0 {
			st.Failing = append(st.Failing, f)
		}
	}
	list, err := issues.List(ctx)
	if err != nil {
		return st, err
	}
	if len(list) > 0 {
		st.LastIssue = &list[0]
	}
	return st, nil
}

func draftSummary(ctx context.Context, issues *digest.Issues) (*draftStatus, error) {
	iss, err := issues.Draft(ctx)
	if errors.Is(err, digest.ErrNoDraft) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := &draftStatus{Number: iss.Number, Subject: iss.Subject, Items: len(iss.Items), TooFew: issues.CheckMinItems(iss) != nil}
	for _, it := range iss.Items {
		if it.Kind == digest.KindLink {
			d.Links++
		}
	}
	d.FeedItems = d.Items - d.Links
	return d, nil
}

func printStatus(w io.Writer, st daemonStatus, c *config) {
	const layout = "Mon 2006-01-02 15:04 MST"
	fmt.Fprintf(w, "Next send:   %s (%q in %s)\n", st.NextSend.In(c.location).Format(layout), st.SendSchedule, st.Timezone)
	slot := st.Slot.In(c.location).Format(layout)
	switch st.State {
	case weekNone:
		fmt.Fprintln(w, "Last slot:   none in the past year")
	case weekDue:
		fmt.Fprintf(w, "Last slot:   %s, not sent: the daemon sends it when it next starts or ticks, until %s (--grace %v)\n",
			slot, st.GraceUntil.In(c.location).Format(layout), c.Grace)
	case weekSent:
		fmt.Fprintf(w, "Last slot:   %s, answered by issue #%d\n", slot, st.SlotIssue)
	case weekSkipped:
		fmt.Fprintf(w, "Last slot:   %s, skipped: fewer than --min-items %d\n", slot, c.MinItems)
	case weekMissed:
		fmt.Fprintf(w, "Last slot:   %s, missed: more than --grace %v passed before the daemon ran\n", slot, c.Grace)
	}
	for _, n := range st.Sending {
		fmt.Fprintf(w, "Part-sent:   issue #%d; 'weekly serve' or 'weekly digest send' resumes it first\n", n)
	}
	switch d := st.Draft; {
	case d == nil:
		fmt.Fprintf(w, "Draft:       none yet; %d links queued (the scheduled send builds it)\n", st.QueuedLinks)
	default:
		fmt.Fprintf(w, "Draft:       issue #%d, %d items (%d links, %d from feeds): %s\n", d.Number, d.Items, d.Links, d.FeedItems, d.Subject)
		if d.TooFew {
			fmt.Fprintf(w, "             fewer than --min-items %d: unless more arrive, the send skips the week\n", c.MinItems)
		}
	}
	fmt.Fprintf(w, "Feeds:       %d followed, %d failing\n", st.Feeds, len(st.Failing))
	for _, f := range st.Failing {
		fmt.Fprintf(w, "  feed %d %s: %d failures in a row, next try %s: %s\n", f.ID, f.DisplayName(), f.ConsecutiveFailures,
			f.NextFetchAt.In(c.location).Format(layout), f.LastError)
	}
	if l := st.LastIssue; l != nil {
		when := l.SentAt
		if when.IsZero() {
			when = l.SendStartedAt
		}
		fmt.Fprintf(w, "Last issue:  #%d (%s %s): %q\n", l.Number, l.Status, when.In(c.location).Format(layout), l.Subject)
		fmt.Fprintf(w, "             %d recipients, %d sent, %d failed, %d retrying, %d pending, %d bounced, %d unsubscribed\n",
			l.Recipients, l.Sent, l.Failed, l.Retrying, l.Pending, l.Bounced, l.Unsubscribed)
	} else {
		fmt.Fprintln(w, "Last issue:  none sent yet")
	}
}
