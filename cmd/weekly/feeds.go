package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backendweekly/weekly/feeds"
)

// userAgent names Backend Weekly to the sites it fetches feeds and pages from.
const userAgent = feeds.DefaultUserAgent

func cmdFeeds(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "feeds", args, map[string]command{
		"add":    {"follow a feed (its current items are recorded as seen)", feedsAdd},
		"list":   {"show feeds with their last fetch, errors and item counts", feedsList},
		"remove": {"stop following a feed", feedsRemove},
		"fetch":  {"fetch feeds now (all that are due, or the IDs given)", feedsFetch},
	})
}

// feedsCmd is the setup every feeds subcommand shares.
type feedsCmd struct {
	c  config
	fs *flagSet
	f  *flagEnv
	e  *env
}

func newFeedsCmd(e *env, name, usage string) *feedsCmd {
	fc := &feedsCmd{fs: newFlagSet(e, name, usage), e: e}
	fc.f = &flagEnv{fs: fc.fs, getenv: e.getenv}
	fc.c.storeFlags(fc.f)
	return fc
}

func (fc *feedsCmd) parse(args []string, min, max int, what string) ([]string, error) {
	pos, err := parseFlags(fc.fs, args)
	if err != nil {
		return nil, err
	}
	if err := firstErr(fc.f.err(), wantArgs(fc.fs, pos, min, max, what), fc.c.validateStore()); err != nil {
		return nil, err
	}
	return pos, nil
}

func (fc *feedsCmd) open(ctx context.Context) (*feeds.Store, func() error, error) {
	db, err := openExisting(ctx, fc.c.DB)
	if err != nil {
		return nil, nil, err
	}
	return feeds.NewStore(db, time.Now), db.Close, nil
}

func (fc *feedsCmd) fetcher() *feeds.Fetcher {
	return feeds.NewFetcher(feeds.FetcherConfig{UserAgent: userAgent, Logger: fc.c.newLogger(fc.e)})
}

func feedsAdd(ctx context.Context, e *env, args []string) error {
	fc := newFeedsCmd(e, "feeds add", "feeds add URL [--name N] [--section S]")
	name := fc.fs.String("name", "", "the feed's name in issues (default: the feed's own title)")
	section := fc.fs.String("section", "", "the section of the issue its items go in")
	pos, err := fc.parse(args, 1, 1, "one feed URL")
	if err != nil {
		return helpOK(err)
	}
	s, closeDB, err := fc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	fd, err := s.Add(ctx, pos[0], *name, *section)
	if errors.Is(err, feeds.ErrInvalidURL) {
		return usageError{fmt.Errorf("feeds add: %q is not an absolute http(s) URL", pos[0])}
	}
	if errors.Is(err, feeds.ErrExists) {
		return usageError{fmt.Errorf("feeds add: %s", strings.TrimSuffix(err.Error(), ": "+feeds.ErrExists.Error()))}
	}
	if err != nil {
		return err
	}
	rs, err := s.Refresh(ctx, fc.fetcher(), fd.ID)
	if err != nil {
		return err
	}
	r := rs[0]
	if r.Err != nil {
		fmt.Fprintf(e.stdout, "Added feed %d (%s), but the first fetch failed: %v\nIt stays on the list and is retried with back-off; see 'weekly feeds list'.\n",
			fd.ID, fd.URL, r.Err)
		return nil
	}
	fmt.Fprintf(e.stdout, "Added feed %d: %s (%s)\n%d items already in the feed recorded as seen; items published from now on go into issues.\n",
		fd.ID, r.Name, fd.URL, r.Items)
	return nil
}

func feedsList(ctx context.Context, e *env, args []string) error {
	fc := newFeedsCmd(e, "feeds list", "feeds list [--json]")
	asJSON := fc.fs.Bool("json", false, "print JSON")
	if _, err := fc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	s, closeDB, err := fc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	fs, err := s.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, fs)
	}
	if len(fs) == 0 {
		fmt.Fprintln(e.stdout, "No feeds yet. Follow one with: weekly feeds add URL")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSECTION\tITEMS\tLAST FETCH\tFAILURES\tSTATUS\tURL")
	for _, f := range fs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", f.ID, f.DisplayName(), dash(f.Section), f.ItemCount,
			when(f.LastFetchedAt), f.ConsecutiveFailures, feedStatus(f), f.URL)
	}
	return tw.Flush()
}

func feedStatus(f feeds.Feed) string {
	switch {
	case f.LastFetchedAt.IsZero():
		return "not fetched yet"
	case f.LastError == "":
		return "ok"
	}
	return fmt.Sprintf("%s (next try %s)", f.LastError, when(f.NextFetchAt))
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func feedsRemove(ctx context.Context, e *env, args []string) error {
	fc := newFeedsCmd(e, "feeds remove", "feeds remove ID")
	pos, err := fc.parse(args, 1, 1, "one feed ID")
	if err != nil {
		return helpOK(err)
	}
	id, err := parseID("feeds remove", "feed", pos[0])
	if err != nil {
		return err
	}
	s, closeDB, err := fc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := s.Remove(ctx, id); errors.Is(err, feeds.ErrNotFound) {
		return usageError{fmt.Errorf("feeds remove: feed %d does not exist (see 'weekly feeds list')", id)}
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Removed feed %d and its items; issues already built keep their copies.\n", id)
	return nil
}

func feedsFetch(ctx context.Context, e *env, args []string) error {
	fc := newFeedsCmd(e, "feeds fetch", "feeds fetch [ID...]")
	pos, err := fc.parse(args, 0, -1, "feed IDs")
	if err != nil {
		return helpOK(err)
	}
	var ids []int64
	for _, p := range pos {
		id, err := parseID("feeds fetch", "feed", p)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	s, closeDB, err := fc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	rs, err := s.Refresh(ctx, fc.fetcher(), ids...)
	if errors.Is(err, feeds.ErrNotFound) {
		return usageError{fmt.Errorf("feeds fetch: %s does not exist (see 'weekly feeds list')", strings.TrimSuffix(err.Error(), ": "+feeds.ErrNotFound.Error()))}
	}
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		fmt.Fprintln(e.stdout, "No feed is due (failing feeds are backing off). Name IDs to fetch them now.")
		return nil
	}
	failed := 0
	for _, r := range rs {
		if r.Err != nil {
			failed++
		}
		printResult(e.stdout, r)
	}
	if failed > 0 {
		return fmt.Errorf("feeds fetch: %d of %d feeds failed", failed, len(rs))
	}
	return nil
}

// printResult prints the one-line summary of one feed's fetch.
func printResult(w io.Writer, r feeds.Result) {
	fmt.Fprintf(w, "feed %d %s: ", r.FeedID, r.Name)
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "failed (%d in a row, next try %s): %v", r.Failures, when(r.NextFetchAt), r.Err)
	case r.NotModified:
		fmt.Fprint(w, "not modified")
	case r.FirstFetch:
		fmt.Fprintf(w, "first fetch, %d items recorded as seen", r.Items)
	default:
		fmt.Fprintf(w, "%d new of %d items", r.New, r.Items)
	}
	if r.MovedTo != "" {
		fmt.Fprintf(w, " (moved permanently to %s)", r.MovedTo)
	}
	fmt.Fprintln(w)
}
