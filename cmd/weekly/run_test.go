package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backendweekly/weekly/store"
)

// cli runs the program as a user would, with the given environment, and returns
// what it printed.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, env: map[string]string{"WEEKLY_DB": filepath.Join(t.TempDir(), "weekly.db")}}
}

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return c.env[k] }
	err = run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// openTestDB opens the database at path, failing the test if it cannot; the
// caller closes it.
func openTestDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// ok runs args and fails the test if the command fails.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("weekly %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func TestInitTwiceIsSafe(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	ctx := context.Background()
	db := openTestDB(t, c.env["WEEKLY_DB"])
	defer db.Close()
	tk1, err := loadTokens(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tok := tk1.Unsubscribe(1, 1)
	c.ok("init")
	tk2, _ := loadTokens(ctx, db)
	if tk2.Unsubscribe(1, 1) != tok {
		t.Error("second init changed the signing secret")
	}
	c.ok("init", "--rotate-secret")
	tk3, _ := loadTokens(ctx, db)
	if _, _, err := tk3.ParseUnsubscribe(tok); err != nil {
		t.Errorf("after rotation, an old token fails: %v", err)
	}
	if tk3.Unsubscribe(1, 1) == tok {
		t.Error("rotation kept the old signing secret")
	}
}

func TestUserMistakesAreOneLineUsageErrors(t *testing.T) {
	c := newCLI(t)
	cases := [][]string{
		{},
		{"nonsense"},
		{"init", "--bogus"},
		{"init", "extra"},
		{"backup"},
		{"backup", filepath.Join(t.TempDir(), "b.db")}, // no database yet
	}
	for _, args := range cases {
		_, _, err := c.run("", args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("weekly %q: error = %v, want a usage error", args, err)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("weekly %q: error spans lines: %q", args, err)
		}
	}
}

func TestEnvFallbackAndValidation(t *testing.T) {
	c := newCLI(t)
	c.env["WEEKLY_LOG_FORMAT"] = "yaml"
	if _, _, err := c.run("", "init"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("init with WEEKLY_LOG_FORMAT=yaml: error = %v, want one naming --log-format", err)
	}
	c.ok("init", "--log-format", "json") // a flag beats the environment
}

func TestParseSchedule(t *testing.T) {
	for _, spec := range []string{"0 9 * * 1", "@hourly", "@weekly", "CRON_TZ=Europe/Berlin 0 9 * * 1"} {
		if _, err := parseSchedule(spec); err != nil {
			t.Errorf("parseSchedule(%q) = %v, want nil", spec, err)
		}
	}
	for _, spec := range []string{"", "CRON_TZ=", "CRON_TZ= 0 9 * * 1", "TZ=", "CRON_TZ=Nowhere/Land 0 9 * * 1", "CRON_TZ=UTC", "61 * * * *", "* * * * * *"} {
		if _, err := parseSchedule(spec); err == nil {
			t.Errorf("parseSchedule(%q) = nil, want an error", spec)
		}
	}
}

func TestBackupCommand(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	dst := filepath.Join(t.TempDir(), "copy.db")
	c.ok("backup", dst)
	if _, _, err := c.run("", "backup", dst); err == nil {
		t.Error("backup over an existing file succeeded")
	}
}
