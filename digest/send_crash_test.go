package digest_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/backendweekly/weekly/digest"
	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
)

// The crash test runs a sender in a child process (this test binary again, running
// TestSendCrashChild), kills it with SIGKILL in the middle of the send, resumes, and
// checks the server's record: nobody missed, at most one duplicate per connection.

const (
	crashDBEnv   = "DIGEST_CRASH_DB"
	crashAddrEnv = "DIGEST_CRASH_SMTP"
	crashConc    = 5
)

func TestSendResumesAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const n = 400
	f := newFixture(t, n)
	f.srv.Delay(2 * time.Millisecond)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSendCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+f.dbPath, crashAddrEnv+"="+f.srv.Addr())
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child to send 100 messages", func() bool { return f.srv.Count() >= 100 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // reap it, so its pid is gone and its lease can be taken over at once
	killedAt := f.srv.Count()
	if killedAt >= n {
		t.Fatalf("the child finished (%d messages) before it was killed; output:\n%s", killedAt, out)
	}

	res, err := f.sender(func(c *digest.SendConfig) { c.Concurrency = crashConc }).Send(context.Background(), f.issueID, content)
	if err != nil || !res.Finished {
		t.Fatalf("resumed Send = %+v, %v", res, err)
	}
	got := f.srv.PerRecipient()
	missed, dups := 0, 0
	for _, e := range f.emails {
		switch c := got[e]; {
		case c == 0:
			missed++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("killed after %d messages; %d missed, %d duplicates", killedAt, missed, dups)
	if missed != 0 {
		t.Errorf("%d subscribers missed the issue, want 0", missed)
	}
	if dups > crashConc {
		t.Errorf("%d duplicates, want at most the concurrency, %d", dups, crashConc)
	}
	if st := f.issueStatus(); st != "sent" {
		t.Errorf("issue status = %q, want sent", st)
	}
}

// TestSendCrashChild is the child of TestSendResumesAfterKill9; alone it does nothing.
func TestSendCrashChild(t *testing.T) {
	path, addr := os.Getenv(crashDBEnv), os.Getenv(crashAddrEnv)
	if path == "" {
		t.Skip("runs only as the child of TestSendResumesAfterKill9")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	m, err := mailer.New(mailer.Config{From: "weekly@news.example.com", Host: host, Port: port, TLS: mailer.TLSNone, Concurrency: crashConc})
	if err != nil {
		t.Fatal(err)
	}
	var issueID int64
	if err := db.QueryRow(`SELECT id FROM issues WHERE status = 'draft'`).Scan(&issueID); err != nil {
		t.Fatal(err)
	}
	s, err := digest.NewSender(digest.SendConfig{
		DB: db, Transport: m, Bouncer: subscribers.NewStore(db, time.Now), Concurrency: crashConc,
		UnsubscribeURL: func(sub, issue int64) string { return fmt.Sprintf("https://weekly.example.com/u/%d-%d", sub, issue) },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(ctx, issueID, content) // killed long before it returns
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
