// Package store opens the SQLite database that holds all of Backend Weekly's state,
// applies the embedded migrations, and makes consistent backups.
//
// Every timestamp column holds Unix milliseconds in UTC (time.Time.UnixMilli).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Params are the connection parameters every process uses on the database file.
// _txlock=immediate takes the write lock at BEGIN: with WAL and a busy timeout alone,
// about half of concurrent read-then-write transactions still fail with
// "database is locked" (measured; see DESIGN.md).
const Params = "_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL&_foreign_keys=1"

//go:embed migrations/*.sql
var migrations embed.FS

// IdleConns is how many connections Open keeps open between queries.
const IdleConns = 8

// ErrNotFound is returned by Setting when the key has no value.
var ErrNotFound = errors.New("store: not found")

// Open opens (creating if needed) the database file at path and brings its schema up
// to date.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + Params
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// database/sql keeps 2 idle connections by default; under load the rest are closed
	// and reopened for every query, which costs more than the query (measured in
	// bench/web: 1,088 req/s with the default, about 10,000 with this).
	db.SetMaxIdleConns(IdleConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies, in file-name order, every embedded migration not yet recorded in
// schema_migrations, each in its own transaction. Migrations are forward-only.
func Migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("store: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := migrate(ctx, db, name); err != nil {
			return err
		}
	}
	return nil
}

func migrate(ctx context.Context, db *sql.DB, name string) error {
	base := strings.TrimPrefix(name, "migrations/")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", base, err)
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil {
		return fmt.Errorf("store: migrate %s: %w", base, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("store: migrate %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
		base, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("store: migrate %s: %w", base, err)
	}
	return tx.Commit()
}

// Backup writes a consistent copy of the database to path with VACUUM INTO. It is safe
// while other processes read and write the database. path must not exist yet.
func Backup(ctx context.Context, db *sql.DB, path string) error {
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}

// Setting returns the value stored under key, or ErrNotFound.
func Setting(ctx context.Context, db *sql.DB, key string) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	return v, nil
}

// EnsureSetting stores value under key unless the key already has one, and returns
// the stored value either way. It makes "create once" idempotent across processes.
func EnsureSetting(ctx context.Context, db *sql.DB, key, value string) (string, error) {
	if _, err := db.ExecContext(ctx,
		`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	return Setting(ctx, db, key)
}

// PutSetting stores value under key, replacing any value it had.
func PutSetting(ctx context.Context, db *sql.DB, key, value string) error {
	if _, err := db.ExecContext(ctx,
		`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, value); err != nil {
		return fmt.Errorf("store: setting %s: %w", key, err)
	}
	return nil
}
