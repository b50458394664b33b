package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

func openTemp(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "weekly.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func migrationCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateFreshAndAgain(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	want := migrationCount(t, db)
	if want == 0 {
		t.Fatal("fresh database recorded no migrations")
	}
	for _, table := range []string{"subscribers", "feeds", "feed_items", "links", "issues", "issue_items", "deliveries"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate on a migrated database: %v", err)
	}
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db2.Close()
	if got := migrationCount(t, db2); got != want {
		t.Errorf("migrations after reopen = %d, want %d", got, want)
	}
}

func TestPragmas(t *testing.T) {
	db, _ := openTemp(t)
	var mode string
	var fk int
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 {
		t.Errorf("journal_mode = %q, foreign_keys = %d; want wal, 1", mode, fk)
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	if _, err := Setting(ctx, db, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Setting(missing) error = %v, want ErrNotFound", err)
	}
	got, err := EnsureSetting(ctx, db, "k", "first")
	if err != nil || got != "first" {
		t.Fatalf("EnsureSetting = %q, %v; want first", got, err)
	}
	got, err = EnsureSetting(ctx, db, "k", "second")
	if err != nil || got != "first" {
		t.Errorf("second EnsureSetting = %q, %v; want the first value kept", got, err)
	}
	if err := PutSetting(ctx, db, "k", "third"); err != nil {
		t.Fatal(err)
	}
	if got, _ := Setting(ctx, db, "k"); got != "third" {
		t.Errorf("after PutSetting, Setting = %q, want third", got)
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	if err := PutSetting(ctx, db, "k", "v"); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := Backup(ctx, db, dst); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	cp, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if got, err := Setting(ctx, cp, "k"); err != nil || got != "v" {
		t.Errorf("backup Setting(k) = %q, %v; want v", got, err)
	}
	if err := Backup(ctx, db, dst); err == nil {
		t.Error("Backup over an existing file succeeded, want an error")
	}
}

func TestRemovedSubscriberSkipsPendingDelivery(t *testing.T) {
	db, _ := openTemp(t)
	mustExec(t, db, `INSERT INTO subscribers (id, email, status, created_at, status_changed_at, status_source) VALUES (1, 'a@example.com', 'active', 0, 0, 'cli')`)
	mustExec(t, db, `INSERT INTO issues (id, number, status, window_start, window_end, created_at) VALUES (1, 1, 'sending', 0, 1, 0)`)
	mustExec(t, db, `INSERT INTO deliveries (issue_id, subscriber_id, updated_at) VALUES (1, 1, 0)`)
	mustExec(t, db, `DELETE FROM subscribers WHERE id = 1`)
	var status string
	var sub sql.NullInt64
	if err := db.QueryRow(`SELECT status, subscriber_id FROM deliveries`).Scan(&status, &sub); err != nil {
		t.Fatal(err)
	}
	if status != "skipped" || sub.Valid {
		t.Errorf("delivery after removal = %s, subscriber %v; want skipped, NULL", status, sub)
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
