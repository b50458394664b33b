package subscribers

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backendweekly/weekly/store"
)

// TestConcurrentWritersNeverLocked stands in for the CLI and the daemon: two *sql.DB
// on one file, several goroutines each, doing read-then-write transactions that
// interleave. With the DSN in store.Params none may fail with "database is locked",
// and no update may be lost.
func TestConcurrentWritersNeverLocked(t *testing.T) {
	ctx := context.Background()
	_, path := openTestDB(t)
	var dbs [2]*sql.DB
	for i := range dbs {
		db, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	if _, err := dbs[0].Exec(`INSERT INTO settings (key, value) VALUES ('counter', '0')`); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 6, 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		record = func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	)
	for w := range workers {
		mine, other := NewStore(dbs[w%2], nil), NewStore(dbs[(w+1)%2], nil)
		wg.Go(func() {
			for r := range rounds {
				if err := increment(ctx, dbs[w%2]); err != nil {
					record(err)
				}
				sub, err := mine.Add(ctx, fmt.Sprintf("w%d-r%d@example.com", w, r), "", SourceCLI)
				if err != nil {
					record(err)
					continue
				}
				if _, err := other.Unsubscribe(ctx, sub.ID, SourcePage, 0); err != nil {
					record(err)
				}
			}
		})
	}
	wg.Wait()
	locked := 0
	for _, err := range errs {
		if strings.Contains(err.Error(), "database is locked") {
			locked++
		}
	}
	if len(errs) > 0 {
		t.Fatalf("%d of %d transactions failed, %d with \"database is locked\"; first: %v", len(errs), workers*rounds*3, locked, errs[0])
	}

	var counter int
	dbs[1].QueryRow(`SELECT value FROM settings WHERE key = 'counter'`).Scan(&counter)
	if counter != workers*rounds {
		t.Errorf("counter = %d, want %d: an interleaved read-then-write lost an update", counter, workers*rounds)
	}
	stats, err := NewStore(dbs[1], nil).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats[StatusUnsubscribed] != workers*rounds || stats[StatusActive] != 0 {
		t.Errorf("Stats() = %v, want %d unsubscribed and none active", stats, workers*rounds)
	}
	var events int
	dbs[0].QueryRow(`SELECT count(*) FROM subscriber_events`).Scan(&events)
	if events != 2*workers*rounds {
		t.Errorf("%d events recorded, want %d", events, 2*workers*rounds)
	}
}

// increment reads a counter, yields so that other transactions get a chance to
// interleave, and writes it back plus one.
func increment(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'counter'`).Scan(&v); err != nil {
		return err
	}
	time.Sleep(100 * time.Microsecond)
	if _, err := tx.ExecContext(ctx, `UPDATE settings SET value = ? WHERE key = 'counter'`, v+1); err != nil {
		return err
	}
	return tx.Commit()
}
