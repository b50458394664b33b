package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/backendweekly/weekly/store"
	"github.com/backendweekly/weekly/subscribers"
)

// Settings keys for the secrets that sign unsubscribe and confirmation links.
const (
	secretKey         = "token_secret"
	previousSecretKey = "token_secret_previous"
)

func cmdInit(ctx context.Context, e *env, args []string) error {
	var c config
	fs := newFlagSet(e, "init", "init [--rotate-secret]")
	f := &flagEnv{fs: fs, getenv: e.getenv}
	c.storeFlags(f)
	rotate := fs.Bool("rotate-secret", false, "make a new signing secret; links signed with the current one keep working")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if err := firstErr(f.err(), wantArgs(fs, pos, 0, 0, "no arguments"), c.validateStore()); err != nil {
		return err
	}
	db, err := store.Open(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	fresh, err := subscribers.NewSecret()
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(fresh)
	if *rotate {
		if err := rotateSecret(ctx, db, enc); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Rotated the signing secret in %s; links in old emails still work.\n", c.DB)
		return nil
	}
	if _, err := store.EnsureSetting(ctx, db, secretKey, enc); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Database ready at %s.\n", c.DB)
	return nil
}

// rotateSecret keeps the current secret as the previous one, so links already sent
// still verify, and makes fresh the signing secret.
func rotateSecret(ctx context.Context, db *sql.DB, fresh string) error {
	cur, err := store.Setting(ctx, db, secretKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if cur != "" {
		if err := store.PutSetting(ctx, db, previousSecretKey, cur); err != nil {
			return err
		}
	}
	return store.PutSetting(ctx, db, secretKey, fresh)
}

func cmdBackup(ctx context.Context, e *env, args []string) error {
	var c config
	fs := newFlagSet(e, "backup", "backup FILE")
	f := &flagEnv{fs: fs, getenv: e.getenv}
	c.storeFlags(f)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if err := firstErr(f.err(), wantArgs(fs, pos, 1, 1, "the backup file to write"), c.validateStore()); err != nil {
		return err
	}
	if _, err := os.Stat(pos[0]); err == nil {
		return usageError{fmt.Errorf("backup: %s already exists; choose a new file name", pos[0])}
	}
	db, err := openExisting(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.Backup(ctx, db, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Wrote a consistent copy of %s to %s.\n", c.DB, pos[0])
	return nil
}

// openExisting opens the database at path, which 'weekly init' must have created:
// a typo in --db should not silently start an empty newsletter.
func openExisting(ctx context.Context, path string) (*sql.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, usageError{fmt.Errorf("database %s does not exist: run 'weekly init' first (or set --db / WEEKLY_DB)", path)}
	}
	return store.Open(ctx, path)
}

// loadTokens returns the signer for unsubscribe and confirmation links, built from the
// secrets 'weekly init' stored.
func loadTokens(ctx context.Context, db *sql.DB) (*subscribers.Tokens, error) {
	cur, err := secretSetting(ctx, db, secretKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, usageError{errors.New("no signing secret in the database: run 'weekly init' first")}
	}
	if err != nil {
		return nil, err
	}
	prev, err := secretSetting(ctx, db, previousSecretKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return subscribers.NewTokens(cur, prev)
}

func secretSetting(ctx context.Context, db *sql.DB, key string) ([]byte, error) {
	v, err := store.Setting(ctx, db, key)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("setting %s: not base64: %w", key, err)
	}
	return b, nil
}

// helpOK turns the --help sentinel into success; other errors pass through.
func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
