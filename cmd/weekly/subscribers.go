package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/backendweekly/weekly/subscribers"
)

// cmdSubscribers runs "weekly subscribers SUBCOMMAND".
func cmdSubscribers(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "subscribers", args, map[string]command{
		"add":         {"add an active subscriber (no confirmation email is sent)", subsAdd},
		"list":        {"list subscribers, all or by status", subsList},
		"import":      {"add subscribers from a CSV file with an email column", subsImport},
		"export":      {"write subscribers as CSV, in the format import reads", subsExport},
		"unsubscribe": {"stop all mail to a subscriber, keeping the record", subsUnsubscribe},
		"remove":      {"erase a subscriber's data (the right to be forgotten)", subsRemove},
		"stats":       {"count subscribers by status", subsStats},
	})
}

// subsCmd is what every subscribers subcommand shares: the store flags, parsing and
// validation, and opening the store.
type subsCmd struct {
	c  config
	fs *flagSet
	f  *flagEnv
}

func newSubsCmd(e *env, name, usage string) *subsCmd {
	fs := newFlagSet(e, "subscribers "+name, "subscribers "+usage)
	sc := &subsCmd{fs: fs, f: &flagEnv{fs: fs, getenv: e.getenv}}
	sc.c.storeFlags(sc.f)
	return sc
}

// parse parses args and validates the settings and the number of positional arguments.
func (sc *subsCmd) parse(args []string, min, max int, what string) ([]string, error) {
	pos, err := parseFlags(sc.fs, args)
	if err != nil {
		return nil, err
	}
	if err := firstErr(sc.f.err(), wantArgs(sc.fs, pos, min, max, what), sc.c.validateStore()); err != nil {
		return nil, err
	}
	return pos, nil
}

// open opens the store; call the returned func to close it.
func (sc *subsCmd) open(ctx context.Context) (*subscribers.Store, func(), error) {
	db, err := openExisting(ctx, sc.c.DB)
	if err != nil {
		return nil, nil, err
	}
	return subscribers.NewStore(db, time.Now), func() { db.Close() }, nil
}

// invalid turns a refused input into a one-line usage error naming what was refused.
func (sc *subsCmd) invalid(what string, err error) error {
	var ie *subscribers.InvalidError
	if errors.As(err, &ie) {
		return usageError{fmt.Errorf("%s: %s: %s", sc.fs.Name(), what, ie.Reason)}
	}
	return err
}

// status reads a --status value; "" and "all" mean every status.
func (sc *subsCmd) status(v string) (subscribers.Status, error) {
	if v == "" || v == "all" {
		return "", nil
	}
	st, err := subscribers.ParseStatus(v)
	if err != nil {
		return "", usageError{fmt.Errorf("%s: --status %q: want pending, active, unsubscribed, bounced, complained or all", sc.fs.Name(), v)}
	}
	return st, nil
}

func subsAdd(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "add", "add EMAIL [--name NAME]")
	name := sc.fs.String("name", "", "the subscriber's name, used to greet them")
	pos, err := sc.parse(args, 1, 1, "one email address")
	if err != nil {
		return helpOK(err)
	}
	if _, err := subscribers.ValidateEmail(pos[0]); err != nil {
		return sc.invalid(fmt.Sprintf("%q", pos[0]), err)
	}
	if _, err := subscribers.ValidateName(*name); err != nil {
		return sc.invalid("--name", err)
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	sub, err := s.Add(ctx, pos[0], *name, subscribers.SourceCLI)
	if errors.Is(err, subscribers.ErrExists) {
		msg := fmt.Sprintf("%s: %q is already on the list", sc.fs.Name(), pos[0])
		if cur, err := s.ByEmail(ctx, pos[0]); err == nil {
			msg += fmt.Sprintf(" (%s, id %d)", cur.Status, cur.ID)
		}
		return usageError{errors.New(msg)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Added %s (id %d, active).\n", sub.Email, sub.ID)
	return nil
}

func subsList(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "list", "list [--status S] [--json]")
	statusFlag := sc.fs.String("status", "all", "only this status: pending, active, unsubscribed, bounced, complained or all")
	asJSON := sc.fs.Bool("json", false, "print a JSON array instead of a table")
	if _, err := sc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	status, err := sc.status(*statusFlag)
	if err != nil {
		return err
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	subs, err := s.List(ctx, status)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(subs)
	}
	if len(subs) == 0 {
		fmt.Fprintln(e.stdout, "No subscribers.")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tSTATUS\tSINCE (UTC)\tBY")
	for _, sub := range subs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", sub.ID, sub.Email, sub.Name, sub.Status,
			sub.StatusChangedAt.Format("2006-01-02 15:04"), sub.StatusSource)
	}
	return tw.Flush()
}

func subsImport(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "import", "import FILE.csv (or - for standard input)")
	pos, err := sc.parse(args, 1, 1, "one CSV file")
	if err != nil {
		return helpOK(err)
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	in := e.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", sc.fs.Name(), err)}
		}
		defer f.Close()
		in = f
	}
	var progress func(int)
	if isTerminal(e.stderr) {
		progress = func(done int) { fmt.Fprintf(e.stderr, "\rread %d rows", done) }
		defer fmt.Fprintln(e.stderr)
	}
	rep, err := s.Import(ctx, in, progress)
	if errors.Is(err, subscribers.ErrInvalid) {
		return sc.invalid(pos[0], err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w (the rows already imported stay; importing the file again is safe)", sc.fs.Name(), pos[0], err)
	}
	printImportReport(e.stdout, pos[0], rep)
	return nil
}

// printImportReport prints a summary line, then each warning and each row that was
// not added, in the order of the file.
func printImportReport(w io.Writer, file string, rep subscribers.ImportReport) {
	fmt.Fprintf(w, "%s: rows read %d, added %d, already on the list %d, repeated in the file %d, skipped %d, bad %d.\n",
		file, rep.Rows, rep.Added, rep.Unchanged, len(rep.Duplicates), len(rep.Skipped), len(rep.Bad))
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	type problem struct {
		subscribers.RowProblem
		kind string
	}
	var all []problem
	for _, group := range []struct {
		kind string
		rows []subscribers.RowProblem
	}{{"bad", rep.Bad}, {"duplicate", rep.Duplicates}, {"skipped", rep.Skipped}} {
		for _, p := range group.rows {
			all = append(all, problem{p, group.kind})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	for _, p := range all {
		fmt.Fprintf(w, "line %d: %s: %s\n", p.Line, p.kind, p.Reason)
	}
}

func subsExport(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "export", "export [FILE] [--status S] (standard output when no FILE)")
	statusFlag := sc.fs.String("status", "active",
		"only this status: pending, active, unsubscribed, bounced, complained or all (default active, so that an export fed elsewhere never re-subscribes anyone)")
	pos, err := sc.parse(args, 0, 1, "at most one file to write")
	if err != nil {
		return helpOK(err)
	}
	status, err := sc.status(*statusFlag)
	if err != nil {
		return err
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if len(pos) == 0 || pos[0] == "-" {
		return s.Export(ctx, e.stdout, status)
	}
	// The file holds personal data: only its owner may read it, and nothing is overwritten.
	f, err := os.OpenFile(pos[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return usageError{fmt.Errorf("%s: %s already exists; choose a new file name", sc.fs.Name(), pos[0])}
	}
	if err != nil {
		return usageError{fmt.Errorf("%s: %w", sc.fs.Name(), err)}
	}
	err = firstErr(s.Export(ctx, f, status), f.Close())
	if err != nil {
		os.Remove(pos[0])
		return err
	}
	fmt.Fprintf(e.stdout, "Wrote %s subscribers to %s.\n", *statusFlag, pos[0])
	return nil
}

// byEmail finds the subscriber an editor named, or returns a one-line usage error.
func (sc *subsCmd) byEmail(ctx context.Context, s *subscribers.Store, email string) (subscribers.Subscriber, error) {
	sub, err := s.ByEmail(ctx, email)
	if errors.Is(err, subscribers.ErrNotFound) {
		return sub, usageError{fmt.Errorf("%s: %q: no subscriber with that address", sc.fs.Name(), email)}
	}
	return sub, err
}

func subsUnsubscribe(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "unsubscribe", "unsubscribe EMAIL")
	pos, err := sc.parse(args, 1, 1, "one email address")
	if err != nil {
		return helpOK(err)
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	sub, err := sc.byEmail(ctx, s, pos[0])
	if err != nil {
		return err
	}
	changed, err := s.Unsubscribe(ctx, sub.ID, subscribers.SourceCLI, 0)
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(e.stdout, "%s is %s already; nothing changed.\n", sub.Email, sub.Status)
		return nil
	}
	fmt.Fprintf(e.stdout, "Unsubscribed %s: they will receive nothing more.\n", sub.Email)
	return nil
}

func subsRemove(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "remove", "remove EMAIL")
	pos, err := sc.parse(args, 1, 1, "one email address")
	if err != nil {
		return helpOK(err)
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	sub, err := sc.byEmail(ctx, s, pos[0])
	if err != nil {
		return err
	}
	if err := s.Remove(ctx, sub.Email); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Removed %s and erased their data; their anonymous status history still counts in the statistics.\n", sub.Email)
	return nil
}

func subsStats(ctx context.Context, e *env, args []string) error {
	sc := newSubsCmd(e, "stats", "stats [--json]")
	asJSON := sc.fs.Bool("json", false, "print a JSON object instead of a table")
	if _, err := sc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	s, done, err := sc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	stats, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	out := map[string]int{"total": 0}
	for st, n := range stats {
		out[string(st)] = n
		out["total"] += n
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, st := range subscribers.Statuses() {
		fmt.Fprintf(tw, "%s\t%d\n", st, stats[st])
	}
	fmt.Fprintf(tw, "total\t%d\n", out["total"])
	return tw.Flush()
}
