package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/store"
)

// demoMarker is the file that marks a folder as made by 'weekly demo', which a
// later demo may therefore empty and reuse.
const demoMarker = ".weekly-demo"

// demoMade lists what a demo writes in its folder: all a later demo removes.
var demoMade = []string{demoMarker, "weekly.db", "weekly.db-wal", "weekly.db-shm", "outbox", "preview.html"}

// Example subscribers and the editor's links. The links have titles, so nothing is
// fetched: the demo never leaves the machine.
var (
	demoSubscribers = [][2]string{
		{"ada@example.org", "Ada"}, {"grace@example.org", "Grace"}, {"linus@example.net", ""}, {"margaret@example.com", "Margaret"},
	}
	demoLinks = []struct{ url, title, note string }{
		{"https://www.sqlite.org/wal.html", "Write-Ahead Logging in SQLite",
			"The page behind our one-file database: why readers never block the writer, and what checkpoints cost."},
		{"https://www.rfc-editor.org/rfc/rfc8058", "RFC 8058: Signaling One-Click Functionality for List Email Headers",
			"Two headers and one POST: what the big mailbox providers now require of anyone sending a newsletter."},
		{"https://research.google/pubs/the-tail-at-scale/", "The Tail at Scale",
			"Still the best few pages on why the 99th percentile matters more than the mean once requests fan out."},
	}
)

const demoIntro = "This is the demo issue: three links an editor queued, each with a note, " +
	"then the new items of three example feeds (RSS, Atom and JSON Feed) that the demo served itself.\n\n" +
	"The unsubscribe link works while 'weekly web' runs on this machine."

// cmdDemo runs the whole pipeline offline, in a new folder, through the same
// commands an editor uses: init, subscribers, links, feeds, digest build, preview
// and send (to the outbox).
func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--dir DIR]")
	dir := fs.String("dir", "demo", "the folder to create the demo in (a folder from an earlier demo is reused)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if err := wantArgs(fs, pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	start := time.Now()
	if err := prepareDemoDir(*dir); err != nil {
		return err
	}
	feeds, err := startDemoFeeds(2)
	if err != nil {
		return err
	}
	defer feeds.close()
	d := &demoRun{dir: *dir, e: e}
	if err := d.steps(ctx, feeds); err != nil {
		return err
	}
	return d.report(ctx, time.Since(start))
}

// prepareDemoDir creates dir, or empties one an earlier demo made. Any other
// folder with something in it is left alone.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: %w", err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usageError{fmt.Errorf("demo: %s is not empty and not an earlier demo; choose a new folder with --dir", dir)}
		}
		for _, name := range demoMade {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("demo: clear the earlier demo: %w", err)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by 'weekly demo'; a later demo may empty this folder\n"), 0o644)
}

// demoRun runs weekly commands on the demo's database, with an environment of its
// own: nothing the user has set (an SMTP host above all) reaches the demo.
type demoRun struct {
	dir string
	e   *env
	out bytes.Buffer // what the commands printed, shown if one fails
}

func (d *demoRun) getenv(k string) string {
	switch k {
	case "WEEKLY_DB":
		return filepath.Join(d.dir, "weekly.db")
	case "WEEKLY_OUTBOX":
		return filepath.Join(d.dir, "outbox")
	case "WEEKLY_LOG_LEVEL":
		return "warn"
	}
	return ""
}

// weekly runs one command as 'weekly args...' would.
func (d *demoRun) weekly(ctx context.Context, args ...string) error {
	fmt.Fprintf(&d.out, "$ weekly %s\n", strings.Join(args, " "))
	if err := run(ctx, args, d.getenv, strings.NewReader(""), &d.out, &d.out); err != nil {
		d.e.stderr.Write(d.out.Bytes())
		return fmt.Errorf("demo: weekly %s: %w", args[0], err)
	}
	return nil
}

func (d *demoRun) steps(ctx context.Context, feeds *demoFeeds) error {
	if err := d.weekly(ctx, "init"); err != nil {
		return err
	}
	for _, s := range demoSubscribers {
		if err := d.weekly(ctx, "subscribers", "add", s[0], "--name", s[1]); err != nil {
			return err
		}
	}
	for _, l := range demoLinks {
		if err := d.weekly(ctx, "links", "add", l.url, "--title", l.title, "--note", l.note); err != nil {
			return err
		}
	}
	// The feeds show two items each when they are added, and those are recorded as
	// seen; then the rest are "published", and the fetch finds them new.
	for _, f := range demoFeedFiles {
		if err := d.weekly(ctx, "feeds", "add", feeds.url(f.file), "--name", f.name); err != nil {
			return err
		}
	}
	feeds.publish()
	for _, args := range [][]string{
		{"feeds", "fetch"},
		{"digest", "build"},
		{"digest", "edit", "--intro", demoIntro},
		{"digest", "preview", "--out", filepath.Join(d.dir, "preview.html")},
		{"digest", "send"},
	} {
		if err := d.weekly(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// report prints what the demo made and how to go on.
func (d *demoRun) report(ctx context.Context, took time.Duration) error {
	db, err := store.Open(ctx, d.getenv("WEEKLY_DB"))
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := digest.NewIssues(db, nil, digest.Config{}).List(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New("demo: no issue was sent")
	}
	iss := list[0]
	emls, _ := filepath.Glob(filepath.Join(d.getenv("WEEKLY_OUTBOX"), "issue-*", "*.eml"))
	w := d.e.stdout
	fmt.Fprintf(w, "Backend Weekly ran end to end in %s, offline, in %.1fs:\n\n", d.dir, took.Seconds())
	fmt.Fprintf(w, "  database  %s: %d subscribers, %d curated links, %d feeds (RSS, Atom, JSON Feed) served on 127.0.0.1\n",
		d.getenv("WEEKLY_DB"), len(demoSubscribers), len(demoLinks), len(demoFeedFiles))
	fmt.Fprintf(w, "  issue #%d  %q: %d items, sent to %d of %d subscribers\n", iss.Number, iss.Subject, iss.Items, iss.Sent, iss.Recipients)
	fmt.Fprintf(w, "  emails    %s (%d .eml files, one per subscriber: open one in a mail client)\n",
		filepath.Join(d.getenv("WEEKLY_OUTBOX"), fmt.Sprintf("issue-%04d", iss.Number)), len(emls))
	fmt.Fprintf(w, "  preview   %s (the HTML email: open it in a browser)\n\n", filepath.Join(d.dir, "preview.html"))
	printDemoNext(w, d.dir, iss.Number)
	return nil
}

func printDemoNext(w io.Writer, dir string, number int) {
	fmt.Fprintf(w, "Go on with these (weekly is the built binary, or 'go run ./cmd/weekly' in the source tree):\n\n")
	fmt.Fprintf(w, "  export WEEKLY_DB=%s WEEKLY_OUTBOX=%s\n", filepath.Join(dir, "weekly.db"), filepath.Join(dir, "outbox"))
	lines := [][2]string{
		{fmt.Sprintf("weekly issues show %d", number), "the issue as sent, with its delivery counts"},
		{"weekly web", fmt.Sprintf("the archive at http://localhost:8080/archive/%d; the emails' unsubscribe links work", number)},
		{`weekly links add URL --note "why it matters"`, "queue a link for the next issue"},
		{"weekly digest build && weekly digest show", "draft the next issue and read it"},
		{"weekly status", "what the daemon would do next"},
		{"weekly serve", "the daemon: feeds every hour, the issue on Mondays 09:00 UTC, the web server"},
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-44s # %s\n", l[0], l[1])
	}
	fmt.Fprintf(w, "\nThe example feeds were served by the demo and are gone now: 'weekly feeds remove 1 2 3', then add real ones.\n")
}
