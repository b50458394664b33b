package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backendweekly/weekly/subscribers"
	"github.com/google/go-cmp/cmp"
)

// importCSV has a BOM, CRLF line endings, an extra column, a bad row, a duplicate in
// another letter case and a name with a line break in it.
const importCSV = "\ufeffEmail,Name,Source\r\n" +
	"bob@example.com,Bob,conference\r\n" +
	"carol@localhost,Carol,\r\n" +
	"BOB@Example.com,Bob again,\r\n" +
	"dave@example.com,\"Dave\r\nBcc: all@example.com\",\r\n" +
	"zoë@bücher.de,Zoë Ångström,\r\n"

type person struct {
	Email, Name string
	Status      subscribers.Status
}

// people runs "subscribers list --json" with args and returns who it listed.
func (c *cli) people(args ...string) []person {
	c.t.Helper()
	out := c.ok(append([]string{"subscribers", "list", "--json"}, args...)...)
	var subs []subscribers.Subscriber
	if err := json.Unmarshal([]byte(out), &subs); err != nil {
		c.t.Fatalf("subscribers list --json printed %q: %v", out, err)
	}
	ps := []person{}
	for _, s := range subs {
		ps = append(ps, person{s.Email, s.Name, s.Status})
	}
	return ps
}

func (c *cli) stats() map[string]int {
	c.t.Helper()
	var m map[string]int
	if out := c.ok("subscribers", "stats", "--json"); json.Unmarshal([]byte(out), &m) != nil {
		c.t.Fatalf("subscribers stats --json printed %q", out)
	}
	return m
}

func TestSubscribersEndToEnd(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.ok("init")

	if got, want := c.ok("subscribers", "add", "ann@example.com", "--name", "Ann Lee"), "Added ann@example.com (id 1, active).\n"; got != want {
		t.Errorf("subscribers add = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]person{{"ann@example.com", "Ann Lee", subscribers.StatusActive}}, c.people()); diff != "" {
		t.Errorf("list --json after add (-want +got):\n%s", diff)
	}

	file := filepath.Join(dir, "readers.csv")
	if err := os.WriteFile(file, []byte(importCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	want := file + ": rows read 5, added 2, already on the list 0, repeated in the file 1, skipped 0, bad 2.\n" +
		"warning: column \"Source\" ignored (only email and name are imported)\n" +
		"line 3: bad: address needs a domain with a dot\n" +
		"line 4: duplicate: same address as line 2\n" +
		"line 5: bad: name contains a line break\n"
	if diff := cmp.Diff(want, c.ok("subscribers", "import", file)); diff != "" {
		t.Errorf("subscribers import (-want +got):\n%s", diff)
	}
	everyone := []person{
		{"ann@example.com", "Ann Lee", subscribers.StatusActive},
		{"bob@example.com", "Bob", subscribers.StatusActive},
		{"zoë@bücher.de", "Zoë Ångström", subscribers.StatusActive},
	}
	if diff := cmp.Diff(everyone, c.people()); diff != "" {
		t.Errorf("list --json after import (-want +got):\n%s", diff)
	}

	// Export, then import the export: the same format, and nothing changes.
	exported := c.ok("subscribers", "export")
	if want := "email,name\nann@example.com,Ann Lee\nbob@example.com,Bob\nzoë@bücher.de,Zoë Ångström\n"; exported != want {
		t.Errorf("subscribers export = %q, want %q", exported, want)
	}
	out, _, err := c.run(exported, "subscribers", "import", "-")
	if want := "-: rows read 3, added 0, already on the list 3, repeated in the file 0, skipped 0, bad 0.\n"; err != nil || out != want {
		t.Errorf("subscribers import - (the export) = %q, %v, want %q", out, err, want)
	}
	exportFile := filepath.Join(dir, "export.csv")
	c.ok("subscribers", "export", exportFile)
	if b, err := os.ReadFile(exportFile); err != nil || string(b) != exported {
		t.Errorf("subscribers export FILE wrote %q, %v, want %q", b, err, exported)
	}

	c.ok("subscribers", "unsubscribe", "BOB@example.com")
	if diff := cmp.Diff([]person{{"bob@example.com", "Bob", subscribers.StatusUnsubscribed}}, c.people("--status", "unsubscribed")); diff != "" {
		t.Errorf("list --status unsubscribed (-want +got):\n%s", diff)
	}
	// Importing the file again never brings Bob back.
	if got, want := c.ok("subscribers", "import", file), "line 2: skipped: already on the list as unsubscribed: an import never re-subscribes anyone\n"; !strings.Contains(got, want) {
		t.Errorf("subscribers import again = %q, want it to contain %q", got, want)
	}
	if got := c.ok("subscribers", "export"); strings.Contains(got, "bob@") {
		t.Errorf("subscribers export = %q, includes an unsubscribed subscriber", got)
	}
	wantStats := map[string]int{"pending": 0, "active": 2, "unsubscribed": 1, "bounced": 0, "complained": 0, "total": 3}
	if diff := cmp.Diff(wantStats, c.stats()); diff != "" {
		t.Errorf("stats --json (-want +got):\n%s", diff)
	}
	if got := c.ok("subscribers", "stats"); !strings.Contains(got, "unsubscribed  1\n") || !strings.Contains(got, "total         3\n") {
		t.Errorf("subscribers stats = %q, want a table with unsubscribed 1 and total 3", got)
	}

	c.ok("subscribers", "remove", "ann@example.com")
	left := []person{{"bob@example.com", "Bob", subscribers.StatusUnsubscribed}, everyone[2]}
	if diff := cmp.Diff(left, c.people("--status", "all")); diff != "" {
		t.Errorf("list after remove (-want +got):\n%s", diff)
	}
	wantStats["active"], wantStats["total"] = 1, 2
	if diff := cmp.Diff(wantStats, c.stats()); diff != "" {
		t.Errorf("stats --json after remove (-want +got):\n%s", diff)
	}
}

func TestSubscribersUserMistakes(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	if _, _, err := c.run("", "subscribers", "list"); err == nil || !strings.Contains(err.Error(), "run 'weekly init' first") {
		t.Errorf("subscribers list before init = %v, want a hint to run weekly init", err)
	}
	c.ok("init")
	c.ok("subscribers", "add", "ann@example.com")
	noHeader := filepath.Join(dir, "noheader.csv")
	os.WriteFile(noHeader, []byte("ann@example.com,Ann\n"), 0o600)
	existing := filepath.Join(dir, "exists.csv")
	os.WriteFile(existing, nil, 0o600)
	missing := filepath.Join(dir, "missing.csv")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "subscribers: no subcommand given (one of add, export, import, list, remove, stats, unsubscribe)"},
		{[]string{"frob"}, `subscribers: unknown subcommand "frob" (run 'weekly subscribers --help')`},
		{[]string{"add"}, "subscribers add: expected one email address, got 0 argument(s)"},
		{[]string{"add", "a@example.com", "b@example.com"}, "subscribers add: expected one email address, got 2 argument(s)"},
		{[]string{"add", "bob@localhost"}, `subscribers add: "bob@localhost": address needs a domain with a dot`},
		{[]string{"add", "Bob <bob@example.com>"}, `subscribers add: "Bob <bob@example.com>": address must be bare, without angle brackets or a display name`},
		{[]string{"add", "bob@example.com\r\nBcc: all@example.com"}, `subscribers add: "bob@example.com\r\nBcc: all@example.com": address contains a line break`},
		{[]string{"add", "bob@example.com", "--name", "Bob\r\nBcc: all@example.com"}, "subscribers add: --name: name contains a line break"},
		{[]string{"add", "ANN@example.com"}, `subscribers add: "ANN@example.com" is already on the list (active, id 1)`},
		{[]string{"add", "bob@example.com", "--nmae", "Bob"}, "subscribers add: flag provided but not defined: -nmae"},
		{[]string{"list", "--status", "gone"}, `subscribers list: --status "gone": want pending, active, unsubscribed, bounced, complained or all`},
		{[]string{"list", "extra"}, "subscribers list: expected no arguments, got 1 argument(s)"},
		{[]string{"import"}, "subscribers import: expected one CSV file, got 0 argument(s)"},
		{[]string{"import", missing}, "subscribers import: open " + missing + ": no such file or directory"},
		{[]string{"import", noHeader}, "subscribers import: " + noHeader + ": line 1 holds data, not a header: the first row must name the columns, such as email,name"},
		{[]string{"export", existing}, "subscribers export: " + existing + " already exists; choose a new file name"},
		{[]string{"export", "--status", "gone"}, `subscribers export: --status "gone": want pending, active, unsubscribed, bounced, complained or all`},
		{[]string{"unsubscribe", "nobody@example.com"}, `subscribers unsubscribe: "nobody@example.com": no subscriber with that address`},
		{[]string{"remove", "nobody@example.com"}, `subscribers remove: "nobody@example.com": no subscriber with that address`},
		{[]string{"stats", "extra"}, "subscribers stats: expected no arguments, got 1 argument(s)"},
	}
	for _, tt := range tests {
		args := append([]string{"subscribers"}, tt.args...)
		_, _, err := c.run("", args...)
		var ue usageError
		if !errors.As(err, &ue) || err.Error() != tt.want {
			t.Errorf("weekly %q = %v, want the usage error %q", args, err, tt.want)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("weekly %q: error spans lines: %q", args, err)
		}
	}
	if got := c.people(); len(got) != 1 {
		t.Errorf("after the mistakes, the list holds %v, want only ann", got)
	}
}

func TestSubscribersHelp(t *testing.T) {
	c := newCLI(t)
	for _, sub := range []string{"add", "list", "import", "export", "unsubscribe", "remove", "stats"} {
		out, _, err := c.run("", "subscribers", sub, "--help")
		if err != nil || !strings.HasPrefix(out, "Usage: weekly subscribers "+sub) || !strings.Contains(out, "-db") {
			t.Errorf("weekly subscribers %s --help = %q, %v, want its usage with the flags and no error", sub, out, err)
		}
	}
	if out, _, err := c.run("", "subscribers", "--help"); err != nil || !strings.Contains(out, "unsubscribe") {
		t.Errorf("weekly subscribers --help = %q, %v, want the list of subcommands", out, err)
	}
}
