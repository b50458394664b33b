package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/feeds"
	"github.com/backendweekly/weekly/links"
	"github.com/backendweekly/weekly/templates"
)

// cmdDigest runs "weekly digest SUBCOMMAND".
func cmdDigest(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "digest", args, map[string]command{
		"build":   {"create the draft of the next issue, or rebuild it", digestBuild},
		"show":    {"print the draft with its item numbers", digestShow},
		"edit":    {"set the draft's subject or introduction", digestEdit},
		"drop":    {"remove items from the draft by number", digestDrop},
		"cancel":  {"cancel the draft, or with --sending the send in progress", digestCancel},
		"preview": {"write the HTML or text a subscriber would get", digestPreview},
		"send":    {"send the draft to every active subscriber", cmdDigestSend},
	})
}

// digestCmd is what the digest and issues subcommands share: the store and content
// flags, their validation, and opening the issues store.
type digestCmd struct {
	c  config
	fs *flagSet
	f  *flagEnv
}

func newDigestCmd(e *env, name, usage string) *digestCmd {
	fs := newFlagSet(e, name, usage)
	dc := &digestCmd{fs: fs, f: &flagEnv{fs: fs, getenv: e.getenv}}
	dc.c.storeFlags(dc.f)
	dc.c.contentFlags(dc.f)
	return dc
}

// parse parses args and validates the settings and the number of positional arguments.
func (dc *digestCmd) parse(args []string, min, max int, what string) ([]string, error) {
	pos, err := parseFlags(dc.fs, args)
	if err != nil {
		return nil, err
	}
	if err := firstErr(dc.f.err(), wantArgs(dc.fs, pos, min, max, what), dc.c.validateStore(), dc.c.validateContent()); err != nil {
		return nil, err
	}
	return pos, nil
}

// open opens the issues store; call the returned func to close it.
func (dc *digestCmd) open(ctx context.Context) (*digest.Issues, func(), error) {
	db, err := openExisting(ctx, dc.c.DB)
	if err != nil {
		return nil, nil, err
	}
	return digest.NewIssues(db, time.Now, digest.Config{
		Links:    links.NewStore(db, time.Now),
		Feeds:    feeds.NewStore(db, time.Now),
		ListName: dc.c.Name,
		PerFeed:  dc.c.PerFeed,
		MaxItems: dc.c.MaxItems,
		MinItems: dc.c.MinItems,
	}), func() { db.Close() }, nil
}

func (dc *digestCmd) site() digest.Site {
	return digest.Site{ListName: dc.c.Name, BaseURL: dc.c.BaseURL, Location: dc.c.location}
}

// noDraft turns ErrNoDraft into a one-line hint.
func (dc *digestCmd) noDraft(err error) error {
	if errors.Is(err, digest.ErrNoDraft) {
		return usageError{fmt.Errorf("%s: there is no draft issue; run 'weekly digest build' first", dc.fs.Name())}
	}
	return err
}

func digestBuild(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "digest build", "digest build")
	if _, err := dc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.Build(ctx)
	if err != nil {
		return err
	}
	nLinks := 0
	for _, it := range iss.Items {
		if it.Kind == digest.KindLink {
			nLinks++
		}
	}
	fmt.Fprintf(e.stdout, "Draft issue #%d: %d items (%d queued links, %d from feeds).\nSubject: %s\n",
		iss.Number, len(iss.Items), nLinks, len(iss.Items)-nLinks, iss.Subject)
	if err := issues.CheckMinItems(iss); err != nil {
		fmt.Fprintf(e.stdout, "Fewer than --min-items %d: unless more arrive, the scheduled send will skip this week.\n", dc.c.MinItems)
	}
	fmt.Fprintln(e.stdout, "Review it with 'weekly digest show' and 'weekly digest preview --out issue.html'.")
	return nil
}

func digestShow(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "digest show", "digest show [--json]")
	asJSON := dc.fs.Bool("json", false, "print the draft as a JSON object")
	if _, err := dc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.Draft(ctx)
	if err != nil {
		return dc.noDraft(err)
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(iss)
	}
	printIssue(e.stdout, iss, dc.c.location)
	if err := issues.CheckMinItems(iss); err != nil {
		fmt.Fprintf(e.stdout, "\nFewer than --min-items %d: the scheduled send would skip this week.\n", dc.c.MinItems)
	}
	return nil
}

func digestEdit(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "digest edit", "digest edit [--subject TEXT] [--intro TEXT|-]")
	subject := dc.fs.String("subject", "", "the subject line; \"\" goes back to the default")
	intro := dc.fs.String("intro", "", "the introduction, plain text with blank lines between paragraphs; - reads it from stdin; \"\" removes it")
	if _, err := dc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	var p digest.EditParams
	dc.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "subject":
			p.Subject = subject
		case "intro":
			p.Intro = intro
		}
	})
	if p.Subject == nil && p.Intro == nil {
		return usageError{errors.New("digest edit: nothing to change: give --subject, --intro or both")}
	}
	if p.Intro != nil && *p.Intro == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("digest edit: read the intro from stdin: %w", err)
		}
		s := string(b)
		p.Intro = &s
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.Edit(ctx, p)
	if errors.Is(err, digest.ErrInvalid) {
		return usageError{fmt.Errorf("digest edit: %s", strings.TrimPrefix(err.Error(), digest.ErrInvalid.Error()+": "))}
	}
	if err != nil {
		return dc.noDraft(err)
	}
	fmt.Fprintf(e.stdout, "Draft issue #%d\nSubject: %s%s\n", iss.Number, iss.Subject, defaultMark(iss))
	if p.Intro != nil && iss.Intro == "" {
		fmt.Fprintln(e.stdout, "Intro: none")
	} else if p.Intro != nil {
		fmt.Fprintf(e.stdout, "Intro:\n  %s\n", strings.ReplaceAll(iss.Intro, "\n", "\n  "))
	}
	return nil
}

func digestDrop(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "digest drop", "digest drop ITEM...")
	pos, err := dc.parse(args, 1, -1, "one or more item numbers (see 'weekly digest show')")
	if err != nil {
		return helpOK(err)
	}
	var items []int
	for _, p := range pos {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return usageError{fmt.Errorf("digest drop: %q is not an item number (see 'weekly digest show')", p)}
		}
		items = append(items, n)
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.DropItems(ctx, items...)
	if errors.Is(err, digest.ErrNotFound) {
		return usageError{fmt.Errorf("digest drop: %s (see 'weekly digest show'); nothing was dropped", strings.TrimPrefix(err.Error(), digest.ErrNotFound.Error()+": "))}
	}
	if err != nil {
		return dc.noDraft(err)
	}
	fmt.Fprintf(e.stdout, "Dropped %d item(s) from draft issue #%d, which has %d left; a rebuild will not bring them back.\nSubject: %s%s\n",
		len(items), iss.Number, len(iss.Items), iss.Subject, defaultMark(iss))
	return nil
}

func digestCancel(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "digest cancel", "digest cancel [--sending]")
	sending := dc.fs.Bool("sending", false, "cancel the issue being sent: copies not yet sent are skipped")
	if _, err := dc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.Cancel(ctx, *sending)
	if errors.Is(err, digest.ErrNoDraft) {
		return usageError{errors.New("digest cancel: there is no draft to cancel (use --sending to stop an issue being sent)")}
	}
	if errors.Is(err, digest.ErrNotFound) {
		return usageError{errors.New("digest cancel --sending: no issue is being sent")}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Cancelled issue #%d; the next build takes its number.\n", iss.Number)
	return nil
}

// previewUnsubscribe is the path of the placeholder unsubscribe link in previews.
const previewUnsubscribe = "/unsubscribe/preview"

func digestPreview(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "digest preview", "digest preview [--out FILE] [--text] [--name NAME]")
	out := dc.fs.String("out", "", "write to FILE instead of stdout")
	text := dc.fs.Bool("text", false, "write the plain-text part instead of the HTML")
	name := dc.fs.String("name", "", "greet a subscriber of this name, as their copy would")
	if _, err := dc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	set, err := templates.Load(dc.c.Templates)
	if err != nil {
		return err
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.Draft(ctx)
	if err != nil {
		return dc.noDraft(err)
	}
	r, err := set.RenderIssue(iss.Template(dc.site()))
	if err != nil {
		return err
	}
	body := r.Personalize(templates.Personal{Name: *name, UnsubscribeURL: dc.c.BaseURL + previewUnsubscribe})
	part, write := "HTML", body.AppendHTML
	if *text {
		part, write = "text", body.AppendText
	}
	b := write(nil)
	if *out == "" {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("digest preview: %w", err)
	}
	fmt.Fprintf(e.stdout, "Wrote the %s of draft issue #%d (%.1f KB) to %s.\n", part, iss.Number, float64(len(b))/1024, *out)
	if !*text && len(b) >= 102*1024 {
		fmt.Fprintln(e.stdout, "Warning: over 102 KB of HTML; Gmail will clip it. Drop items or shorten notes.")
	}
	return nil
}

func defaultMark(iss digest.Issue) string {
	if iss.SubjectSet {
		return ""
	}
	return " (default; set one with 'weekly digest edit --subject')"
}

// printIssue prints an issue for an editor: its header, then its items by section
// with the numbers "weekly digest drop" takes.
func printIssue(w io.Writer, iss digest.Issue, loc *time.Location) {
	fmt.Fprintf(w, "Issue #%d (%s), %d items\n", iss.Number, iss.Status, len(iss.Items))
	fmt.Fprintf(w, "Subject: %s%s\n", iss.Subject, defaultMark(iss))
	if iss.Intro != "" {
		fmt.Fprintf(w, "Intro:\n  %s\n", strings.ReplaceAll(iss.Intro, "\n", "\n  "))
	}
	const layout = "2006-01-02 15:04 MST"
	if iss.WindowStart.UnixMilli() == 0 {
		fmt.Fprintf(w, "Feed items first seen before %s\n", iss.WindowEnd.In(loc).Format(layout))
	} else {
		fmt.Fprintf(w, "Feed items first seen from %s to %s\n", iss.WindowStart.In(loc).Format(layout), iss.WindowEnd.In(loc).Format(layout))
	}
	if !iss.SentAt.IsZero() {
		fmt.Fprintf(w, "Sent: %s\n", iss.SentAt.In(loc).Format(layout))
	} else if !iss.SendStartedAt.IsZero() {
		fmt.Fprintf(w, "Sending since: %s\n", iss.SendStartedAt.In(loc).Format(layout))
	}
	section := ""
	for i, it := range iss.Items {
		if i == 0 || it.Section != section {
			section = it.Section
			fmt.Fprintf(w, "\n%s\n", section)
		}
		from := ""
		if it.FeedName != "" {
			from = "  [" + it.FeedName + "]"
		}
		fmt.Fprintf(w, "%4d. %s%s\n      %s\n", it.Position, it.Title, from, it.URL)
		if it.Note != "" {
			fmt.Fprintf(w, "      Note: %s\n", it.Note)
		}
		if it.ExcerptHTML != "" {
			fmt.Fprintf(w, "      %s\n", html.UnescapeString(it.ExcerptHTML))
		}
	}
}
