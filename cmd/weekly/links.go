package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/backendweekly/weekly/links"
)

// Page fetches for 'links add' without --title: the title is near the top of a page.
const (
	pageTimeout  = 15 * time.Second
	pageMaxBytes = 2 << 20
)

func cmdLinks(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "links", args, map[string]command{
		"add":    {"queue a link for the next issue (fetches its title unless --title)", linksAdd},
		"list":   {"show the queue in order (--all adds links already sent)", linksList},
		"edit":   {"change a queued link's title, note or section", linksEdit},
		"remove": {"take a link out of the queue", linksRemove},
		"move":   {"put a link before another in the queue", linksMove},
	})
}

// linksCmd is the setup every links subcommand shares: store flags, then parse.
type linksCmd struct {
	c  config
	fs *flagSet
	f  *flagEnv
}

func newLinksCmd(e *env, name, usage string) *linksCmd {
	lc := &linksCmd{fs: newFlagSet(e, name, usage)}
	lc.f = &flagEnv{fs: lc.fs, getenv: e.getenv}
	lc.c.storeFlags(lc.f)
	return lc
}

// parse parses args, checks the positional count and the settings; --help is errHelp.
func (lc *linksCmd) parse(args []string, min, max int, what string) ([]string, error) {
	pos, err := parseFlags(lc.fs, args)
	if err != nil {
		return nil, err
	}
	if err := firstErr(lc.f.err(), wantArgs(lc.fs, pos, min, max, what), lc.c.validateStore()); err != nil {
		return nil, err
	}
	return pos, nil
}

func (lc *linksCmd) open(ctx context.Context) (*links.Store, func() error, error) {
	db, err := openExisting(ctx, lc.c.DB)
	if err != nil {
		return nil, nil, err
	}
	return links.NewStore(db, time.Now), db.Close, nil
}

func linksAdd(ctx context.Context, e *env, args []string) error {
	lc := newLinksCmd(e, "links add", `links add URL [--title T] [--note "why it matters"] [--section S] [--force]`)
	title := lc.fs.String("title", "", "the link's title; without it the page is fetched to find one")
	note := lc.fs.String("note", "", "the editor's note: why it matters")
	section := lc.fs.String("section", "", "the section of the issue it goes in")
	force := lc.fs.Bool("force", false, "queue it even if an earlier issue carried it")
	pos, err := lc.parse(args, 1, 1, "one URL")
	if err != nil {
		return helpOK(err)
	}
	if _, err := links.Normalize(pos[0]); err != nil {
		return usageError{fmt.Errorf("links add: %q is not an absolute http(s) URL", pos[0])}
	}
	s, closeDB, err := lc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	// Refuse before fetching anything; Add checks again inside its transaction.
	if _, err := s.Check(ctx, pos[0], *force); err != nil {
		return linksError("links add", err)
	}
	p := links.AddParams{URL: pos[0], Title: *title, Note: *note, Section: *section, Force: *force}
	var fetchErr error
	if strings.TrimSpace(p.Title) == "" {
		page, err := links.NewPageFetcher(pageTimeout, pageMaxBytes, userAgent).Fetch(ctx, pos[0])
		p.Title, fetchErr = page.Title, err
		if strings.TrimSpace(p.Note) == "" {
			p.Note = page.Description
		}
	}
	l, sentIn, err := s.Add(ctx, p)
	if err != nil {
		return linksError("links add", err)
	}
	if sentIn > 0 {
		fmt.Fprintf(e.stderr, "warning: %s was already sent in issue %d; queued again because of --force\n", l.URL, sentIn)
	}
	if l.Title == "" {
		fmt.Fprintf(e.stdout, "Queued link %d without a title (%v).\nSet one with: weekly links edit %d --title \"...\"\n", l.ID, fetchErr, l.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "Queued link %d: %s\n  %s\n", l.ID, l.Title, l.URL)
	return nil
}

func linksList(ctx context.Context, e *env, args []string) error {
	lc := newLinksCmd(e, "links list", "links list [--all] [--json]")
	all := lc.fs.Bool("all", false, "include links already sent, with their issue")
	asJSON := lc.fs.Bool("json", false, "print JSON")
	if _, err := lc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	s, closeDB, err := lc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	list := s.Queued
	if *all {
		list = s.All
	}
	ls, err := list(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, ls)
	}
	if len(ls) == 0 {
		fmt.Fprintln(e.stdout, "The queue is empty. Add a link with: weekly links add URL")
		return nil
	}
	for i, l := range ls {
		printLink(e.stdout, i+1, l)
	}
	return nil
}

// printLink prints a link as the n-th in a list.
func printLink(w io.Writer, n int, l links.Link) {
	where := fmt.Sprintf("%3d.", n)
	if !l.Queued() {
		where = fmt.Sprintf("sent in issue %d:", l.IssueNumber)
	}
	title := l.Title
	if title == "" {
		title = "(no title)"
	}
	fmt.Fprintf(w, "%s [%d] %s", where, l.ID, title)
	if l.Section != "" {
		fmt.Fprintf(w, "  (%s)", l.Section)
	}
	fmt.Fprintf(w, "\n     %s\n", l.URL)
	if l.Note != "" {
		fmt.Fprintf(w, "     %s\n", l.Note)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func linksEdit(ctx context.Context, e *env, args []string) error {
	lc := newLinksCmd(e, "links edit", "links edit ID [--title T] [--note N] [--section S]")
	title := lc.fs.String("title", "", "new title")
	note := lc.fs.String("note", "", "new note (empty to clear)")
	section := lc.fs.String("section", "", "new section (empty to clear)")
	pos, err := lc.parse(args, 1, 1, "one link ID")
	if err != nil {
		return helpOK(err)
	}
	id, err := parseID("links edit", "link", pos[0])
	if err != nil {
		return err
	}
	var p links.EditParams
	lc.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "title":
			p.Title = title
		case "note":
			p.Note = note
		case "section":
			p.Section = section
		}
	})
	if p == (links.EditParams{}) {
		return usageError{errors.New("links edit: nothing to change: give --title, --note or --section")}
	}
	s, closeDB, err := lc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	l, err := s.Edit(ctx, id, p)
	if err != nil {
		return linksError("links edit", err)
	}
	fmt.Fprintf(e.stdout, "Updated link %d: %s\n", l.ID, l.Title)
	return nil
}

func linksRemove(ctx context.Context, e *env, args []string) error {
	lc := newLinksCmd(e, "links remove", "links remove ID")
	pos, err := lc.parse(args, 1, 1, "one link ID")
	if err != nil {
		return helpOK(err)
	}
	id, err := parseID("links remove", "link", pos[0])
	if err != nil {
		return err
	}
	s, closeDB, err := lc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := s.Remove(ctx, id); err != nil {
		return linksError("links remove", err)
	}
	fmt.Fprintf(e.stdout, "Removed link %d from the queue.\n", id)
	return nil
}

func linksMove(ctx context.Context, e *env, args []string) error {
	lc := newLinksCmd(e, "links move", "links move ID --before OTHER")
	before := lc.fs.String("before", "", "the ID of the link it should come before (required)")
	pos, err := lc.parse(args, 1, 1, "one link ID")
	if err != nil {
		return helpOK(err)
	}
	if *before == "" {
		return usageError{errors.New("links move: --before OTHER is required")}
	}
	id, err := parseID("links move", "link", pos[0])
	if err != nil {
		return err
	}
	other, err := parseID("links move --before", "link", *before)
	if err != nil {
		return err
	}
	s, closeDB, err := lc.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := s.Move(ctx, id, other); err != nil {
		return linksError("links move", err)
	}
	fmt.Fprintf(e.stdout, "Moved link %d before link %d.\n", id, other)
	return nil
}

// parseID reads a positive numeric ID or returns a one-line usage error.
func parseID(cmd, what, s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id < 1 {
		return 0, usageError{fmt.Errorf("%s: %q is not a %s ID (see 'weekly %ss list')", cmd, s, what, what)}
	}
	return id, nil
}

// linksError turns the links package's sentinel errors into one-line usage errors.
func linksError(cmd string, err error) error {
	msg := func(sentinel error) string { return strings.TrimSuffix(err.Error(), ": "+sentinel.Error()) }
	switch {
	case errors.Is(err, links.ErrNotFound):
		return usageError{fmt.Errorf("%s: %s does not exist (see 'weekly links list')", cmd, msg(links.ErrNotFound))}
	case errors.Is(err, links.ErrQueued):
		return usageError{fmt.Errorf("%s: %s", cmd, msg(links.ErrQueued))}
	case errors.Is(err, links.ErrSentBefore):
		return usageError{fmt.Errorf("%s: %s; add --force to queue it again", cmd, msg(links.ErrSentBefore))}
	case errors.Is(err, links.ErrSent):
		return usageError{fmt.Errorf("%s: %s was already sent and stays with its issue", cmd, msg(links.ErrSent))}
	case errors.Is(err, links.ErrInvalidURL):
		return usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	return err
}
