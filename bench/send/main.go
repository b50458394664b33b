// Command send is the send benchmark's driver: it makes a database with N active
// subscribers and a 30-item draft in a temporary folder, sends the issue through the
// real send loop (ledger, mailer, go-mail) to an SMTP server such as Postfix's
// smtp-sink, and prints one line: messages, seconds, messages per second, the size
// of one message, and the process's peak RSS. run.sh runs it; see the README.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
	"github.com/backendweekly/weekly/templates"
)

func main() {
	n := flag.Int("n", 10000, "subscribers")
	addr := flag.String("addr", "127.0.0.1:2525", "SMTP server (loopback)")
	conc := flag.Int("concurrency", 10, "SMTP connections")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the send to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*n, *addr, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(n int, addr string, conc int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "weekly-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, filepath.Join(dir, "weekly.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	issueID, err := setup(ctx, db, n)
	if err != nil {
		return err
	}
	iss, err := digest.NewIssues(db, nil, digest.Config{}).Get(ctx, issueID)
	if err != nil {
		return err
	}
	set, err := templates.Load("")
	if err != nil {
		return err
	}
	site := digest.Site{ListName: "Backend Weekly", BaseURL: "https://weekly.example.com"}
	rendered, err := set.RenderIssue(iss.Template(site))
	if err != nil {
		return err
	}
	secret, _ := subscribers.NewSecret()
	tokens, _ := subscribers.NewTokens(secret)
	content := digest.Content{
		Subject: rendered.Subject(),
		Personalize: func(name, url string) digest.Body {
			return rendered.Personalize(templates.Personal{Name: name, UnsubscribeURL: url})
		},
	}
	unsub := func(sub, issue int64) string { return site.BaseURL + "/unsubscribe/" + tokens.Unsubscribe(sub, issue) }
	size, err := messageSize(ctx, dir, content, unsub)
	if err != nil {
		return err
	}

	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(portStr)
	m, err := mailer.New(mailer.Config{From: "weekly@example.com", FromName: "Backend Weekly",
		Host: host, Port: port, TLS: mailer.TLSNone, Concurrency: conc})
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := digest.NewSender(digest.SendConfig{DB: db, Transport: m, Bouncer: subscribers.NewStore(db, nil),
		UnsubscribeURL: unsub, Concurrency: conc})
	if err != nil {
		return err
	}
	cpu0 := cpuTime()
	start := time.Now()
	res, err := s.Send(ctx, issueID, content)
	secs := time.Since(start).Seconds()
	cpu := cpuTime() - cpu0
	if err != nil {
		return err
	}
	if !res.Finished || res.Counts.Sent != n {
		return fmt.Errorf("send unfinished: %+v", res.Counts)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("messages=%d seconds=%.2f rate=%.0f size=%d peak_rss_mb=%.1f cpu_us_per_msg=%.0f\n",
		n, secs, float64(n)/secs, size, float64(ru.Maxrss)/1024, cpu.Seconds()*1e6/float64(n))
	return nil
}

// cpuTime is the user and system CPU this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// setup adds n active subscribers and a draft with 30 items, in one transaction.
func setup(ctx context.Context, db *sql.DB, n int) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (email, name, status, created_at, status_changed_at, status_source)
		VALUES (?, ?, 'active', 0, 0, 'import')`)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	for i := 1; i <= n; i++ {
		if _, err := st.ExecContext(ctx, fmt.Sprintf("reader%07d@example.net", i), fmt.Sprintf("Reader %d", i)); err != nil {
			return 0, err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO issues (number, subject, status, window_start, window_end, created_at)
		VALUES (1, 'Backend Weekly #1: queues, caches and the tail at scale', 'draft', 0, 0, 0)`)
	if err != nil {
		return 0, err
	}
	id, _ := res.LastInsertId()
	for i := 1; i <= 30; i++ {
		kind, section := "link", "Editor's picks"
		if i > 10 {
			kind, section = "feed", "From around the web"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO issue_items (issue_id, position, kind, section, title, url, note, feed_name, excerpt_html)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, i, kind, section,
			fmt.Sprintf("Item %d: what we learned running queues on SQLite for a year", i),
			fmt.Sprintf("https://blog%d.example.org/posts/2026/11/queues-on-sqlite-%d", i, i),
			"A careful write-up of the trade-offs, with numbers from production and the mistakes made on the way.",
			"Example Engineering Blog",
			"A long excerpt of the post, sanitised, to make the message as large as a real issue is: "+
				"write-ahead logs, busy timeouts, immediate transactions, and the checkpoints that starve readers."); err != nil {
			return 0, err
		}
	}
	return id, tx.Commit()
}

// messageSize writes one message to a scratch outbox and returns its size in bytes.
func messageSize(ctx context.Context, dir string, c digest.Content, unsub func(int64, int64) string) (int64, error) {
	out := filepath.Join(dir, "outbox")
	m, err := mailer.New(mailer.Config{From: "weekly@example.com", FromName: "Backend Weekly", Outbox: out})
	if err != nil {
		return 0, err
	}
	body := c.Personalize("Reader 1", unsub(1, 1))
	if _, err := m.Send(ctx, &mailer.Message{To: "reader0000001@example.net", ToName: "Reader 1", Subject: c.Subject,
		Key: "size", UnsubscribeURL: unsub(1, 1), Text: body.WriteText, HTML: body.WriteHTML}); err != nil {
		return 0, err
	}
	fi, err := os.Stat(filepath.Join(out, "size.eml"))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
