// Command seed prepares a database for the web benchmark: it adds active subscribers
// in one transaction, a sent issue whose links the tokens name, optionally a draft
// issue for a concurrent send, and writes one unsubscribe token per line for wrk.
//
// Run it on a database made by 'weekly init'; bench/web/run.sh does.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
)

func main() {
	db := flag.String("db", "weekly.db", "database made by weekly init")
	n := flag.Int("subscribers", 10000, "active subscribers to add")
	tokensOut := flag.String("tokens", "tokens.txt", "file to write the unsubscribe tokens to")
	ntokens := flag.Int("n-tokens", 10000, "tokens to write (the first subscribers)")
	draft := flag.Bool("draft", false, "also make a draft issue, for a concurrent 'weekly digest send'")
	flag.Parse()
	if err := seed(context.Background(), *db, *n, *ntokens, *tokensOut, *draft); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func seed(ctx context.Context, path string, n, ntokens int, out string, draft bool) error {
	db, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UnixMilli()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO issues (number, subject, status, window_start, window_end, created_at, send_started_at, sent_at)
		VALUES (1, 'Benchmark issue', 'sent', 0, ?, ?, ?, ?)`, now, now, now, now)
	if err != nil {
		return err
	}
	issueID, _ := res.LastInsertId()
	if draft {
		res, err := tx.ExecContext(ctx, `INSERT INTO issues (number, subject, status, window_start, window_end, created_at)
			VALUES (2, 'Benchmark send', 'draft', 0, ?, ?)`, now, now)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		for i := range 10 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO issue_items (issue_id, position, kind, section, title, url, note)
				VALUES (?, ?, 'link', 'Picks', ?, ?, 'A note.')`, id, i, fmt.Sprintf("Link %d", i), fmt.Sprintf("https://example.org/%d", i)); err != nil {
				return err
			}
		}
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (email, name, status, created_at, status_changed_at, status_source)
		VALUES (?, '', 'active', ?, ?, 'import')`)
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := ins.ExecContext(ctx, fmt.Sprintf("bench%06d@example.com", i), now, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	secret, err := store.Setting(ctx, db, "token_secret")
	if err != nil {
		return fmt.Errorf("no signing secret (run weekly init first): %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return err
	}
	tokens, err := subscribers.NewTokens(key)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT id FROM subscribers ORDER BY id LIMIT ?`, ntokens)
	if err != nil {
		return err
	}
	defer rows.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		fmt.Fprintln(w, tokens.Unsubscribe(id, issueID))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
