package subscribers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func importFile(t *testing.T, s *Store, path string) ImportReport {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := s.Import(context.Background(), f, nil)
	if err != nil {
		t.Fatalf("Import(%s) = %v", path, err)
	}
	return rep
}

// snapshot is everything an import could change.
func snapshot(t *testing.T, s *Store) ([]Subscriber, []event) {
	t.Helper()
	subs, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return subs, allEvents(t, s.db)
}

// mixedReport is what importing testdata/mixed.csv reports on a list that already
// holds ulla (unsubscribed) and vic (active). The file starts with a BOM, ends its
// lines with CRLF and has an extra column.
var mixedReport = ImportReport{
	Rows: 14, Added: 5, Unchanged: 1,
	Duplicates: []RowProblem{{4, "same address as line 2"}, {17, "same address as line 16"}},
	Skipped:    []RowProblem{{13, "already on the list as unsubscribed: an import never re-subscribes anyone"}},
	Bad: []RowProblem{
		{3, "address needs a domain with a dot"},
		{5, "address must be bare, without angle brackets or a display name"},
		{7, "name contains a line break"},
		{11, "address is empty"},
		{15, `not valid CSV: bare " in non-quoted-field`},
	},
	Warnings: []string{`column "Signed up" ignored (only email and name are imported)`},
}

func setupMixed(t *testing.T) (*Store, *testClock) {
	t.Helper()
	s, _, clk := newTestStore(t)
	ulla := mustAdd(t, s, "ulla@example.com")
	if _, err := s.Unsubscribe(context.Background(), ulla.ID, SourcePage, 0); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, "vic@example.com")
	return s, clk
}

func TestImportMixedFile(t *testing.T) {
	s, _ := setupMixed(t)
	got := importFile(t, s, "testdata/mixed.csv")
	if diff := cmp.Diff(mixedReport, got); diff != "" {
		t.Errorf("Import(mixed.csv) report mismatch (-want +got):\n%s", diff)
	}
	subs, _ := s.List(context.Background(), "")
	type person struct {
		Email, Name string
		Status      Status
		Source      Source
	}
	var people []person
	for _, sub := range subs {
		people = append(people, person{sub.Email, sub.Name, sub.Status, sub.StatusSource})
	}
	want := []person{
		{"ulla@example.com", "", StatusUnsubscribed, SourcePage},
		{"vic@example.com", "", StatusActive, SourceCLI},
		{"ann@example.com", "Ann Lee", StatusActive, SourceImport},
		{"zoe@example.org", "Zoë Ångström", StatusActive, SourceImport},
		{"dave@example.com", "", StatusActive, SourceImport},
		{"erin@example.com", "李小龍", StatusActive, SourceImport},
		{"Fay@Example.com", "Fay", StatusActive, SourceImport},
	}
	if diff := cmp.Diff(want, people); diff != "" {
		t.Errorf("subscribers after Import(mixed.csv) (-want +got):\n%s", diff)
	}
}

func TestReimportChangesNothing(t *testing.T) {
	s, clk := setupMixed(t)
	importFile(t, s, "testdata/mixed.csv")
	subs, events := snapshot(t, s)
	clk.advance(24 * time.Hour)
	got := importFile(t, s, "testdata/mixed.csv")
	want := mixedReport
	want.Added, want.Unchanged = 0, mixedReport.Unchanged+mixedReport.Added
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second Import(mixed.csv) report mismatch (-want +got):\n%s", diff)
	}
	subs2, events2 := snapshot(t, s)
	if diff := cmp.Diff(subs, subs2); diff != "" {
		t.Errorf("re-import changed subscribers (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(events, events2); diff != "" {
		t.Errorf("re-import recorded events (-before +after):\n%s", diff)
	}
}

func TestImportNeverReactivates(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	u := mustAdd(t, s, "unsub@example.com")
	s.Unsubscribe(ctx, u.ID, SourceOneClick, 0)
	b := mustAdd(t, s, "bounced@example.com")
	s.HardBounce(ctx, b.ID, 0, 1)
	c := mustAdd(t, s, "complained@example.com")
	s.Complain(ctx, c.ID, 0)
	s.SignUp(ctx, "pending@example.com", "")
	before, events := snapshot(t, s)

	csv := "name,email\nU,UNSUB@example.com\nB,Bounced@Example.com\nC,complained@EXAMPLE.com\nP,pending@example.com\n"
	got, err := s.Import(ctx, strings.NewReader(csv), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ImportReport{Rows: 4, Unchanged: 1, Skipped: []RowProblem{
		{2, "already on the list as unsubscribed: an import never re-subscribes anyone"},
		{3, "already on the list as bounced: an import never re-subscribes anyone"},
		{4, "already on the list as complained: an import never re-subscribes anyone"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import() report mismatch (-want +got):\n%s", diff)
	}
	after, events2 := snapshot(t, s)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("Import() changed subscribers who left (-before +after):\n%s", diff)
	}
	if len(events2) != len(events) {
		t.Errorf("Import() recorded %d events, want none", len(events2)-len(events))
	}
}

func TestImportHeaderProblems(t *testing.T) {
	noHeader, err := os.ReadFile("testdata/noheader.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in, reason string }{
		{"missing header", string(noHeader), "line 1 holds data, not a header: the first row must name the columns, such as email,name"},
		{"empty file", "", "the file is empty: it needs a header row such as email,name"},
		{"only a BOM", "\ufeff", "the file is empty: it needs a header row such as email,name"},
		{"no email column", "name,phone\nAnn,123\n", "line 1: the header row has no email column (want a first row such as email,name)"},
		{"email twice", "email,Email\na@example.com,b@example.com\n", "line 1: the header row names the email column twice"},
		{"broken header", "\"email,name\n", "line 1: the header row is not valid CSV: extraneous or missing \" in quoted-field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, db, _ := newTestStore(t)
			_, err := s.Import(context.Background(), strings.NewReader(tt.in), nil)
			var ie *InvalidError
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) || ie.Reason != tt.reason {
				t.Errorf("Import(%q) = %v, want ErrInvalid saying %q", tt.in, err, tt.reason)
			}
			var n int
			db.QueryRow(`SELECT count(*) FROM subscribers`).Scan(&n)
			if n != 0 {
				t.Errorf("Import(%q) added %d subscribers, want 0", tt.in, n)
			}
		})
	}
}

func TestImportBatchesAndProgress(t *testing.T) {
	s, db, _ := newTestStore(t)
	var progress []int
	got, err := s.Import(context.Background(), bytes.NewReader(generateCSV(2500)), func(done int) { progress = append(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1000, 2000, 2500}, progress); diff != "" {
		t.Errorf("progress calls mismatch (-want +got):\n%s", diff)
	}
	if got.Added != 2500 || got.Rows != 2500 {
		t.Errorf("Import(2500 rows) added %d of %d rows, want 2500 of 2500", got.Added, got.Rows)
	}
	var events int
	db.QueryRow(`SELECT count(*) FROM subscriber_events WHERE status = 'active' AND source = 'import'`).Scan(&events)
	if events != 2500 {
		t.Errorf("Import(2500 rows) recorded %d events, want 2500", events)
	}
}

func TestExportRoundTrip(t *testing.T) {
	s, _ := setupMixed(t)
	importFile(t, s, "testdata/mixed.csv")
	var all, active bytes.Buffer
	ctx := context.Background()
	if err := s.Export(ctx, &all, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Export(ctx, &active, StatusActive); err != nil {
		t.Fatal(err)
	}
	want := "email,name\nulla@example.com,\nvic@example.com,\nann@example.com,Ann Lee\nzoe@example.org,Zoë Ångström\n" +
		"dave@example.com,\nerin@example.com,李小龍\nFay@Example.com,Fay\n"
	if diff := cmp.Diff(want, all.String()); diff != "" {
		t.Errorf("Export(all) mismatch (-want +got):\n%s", diff)
	}
	if strings.Contains(active.String(), "ulla@") {
		t.Errorf("Export(active) = %q, includes an unsubscribed subscriber", active.String())
	}
	// The export is an import file: into a fresh list it adds the same people.
	s2, _, _ := newTestStore(t)
	rep, err := s2.Import(ctx, &active, nil)
	if err != nil || rep.Added != 6 || len(rep.Bad)+len(rep.Warnings) != 0 {
		t.Errorf("Import(Export(active)) = %+v, %v, want 6 added and no problems", rep, err)
	}
	if err := s.Export(ctx, &all, "gone"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Export(status \"gone\") = %v, want ErrInvalid", err)
	}
}

// generateCSV returns a valid import file of n distinct subscribers.
func generateCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&b, "reader%d@example%d.com,Reader Number %d\n", i, i%97, i)
	}
	return b.Bytes()
}

func FuzzImport(f *testing.F) {
	for _, name := range []string{"testdata/mixed.csv", "testdata/noheader.csv"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("email\na@b.co\nA@B.CO\n\"x\ny\"@b.co\n"))
	f.Add([]byte("name,email\n\"Ann\r\n\",a@example.com\n,\n,,,\n"))
	s, db, _ := newTestStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := db.Exec(`DELETE FROM subscriber_events; DELETE FROM subscribers`); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Import(ctx, bytes.NewReader(in), nil)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Import(%q) = %v, want nil or ErrInvalid", in, err)
		}
		if n := rep.Added + rep.Unchanged + len(rep.Duplicates) + len(rep.Skipped) + len(rep.Bad); n != rep.Rows {
			t.Errorf("Import(%q) accounts for %d rows of %d: %+v", in, n, rep.Rows, rep)
		}
		subs, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) != rep.Added {
			t.Errorf("Import(%q) reports %d added, the list holds %d", in, rep.Added, len(subs))
		}
		for _, sub := range subs {
			if email, err := ValidateEmail(sub.Email); email != sub.Email || err != nil {
				t.Errorf("Import(%q) stored the invalid address %q: %v", in, sub.Email, err)
			}
			if name, err := ValidateName(sub.Name); name != sub.Name || err != nil {
				t.Errorf("Import(%q) stored the invalid name %q: %v", in, sub.Name, err)
			}
		}
	})
}

// BenchmarkImport100k imports 100,000 new subscribers into a fresh database:
//
//	go test -run '^$' -bench Import100k -benchtime 3x ./subscribers/
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	file := generateCSV(n)
	for b.Loop() {
		b.StopTimer()
		s, _, _ := newTestStore(b)
		b.StartTimer()
		rep, err := s.Import(context.Background(), bytes.NewReader(file), nil)
		if err != nil || rep.Added != n {
			b.Fatalf("Import(100k rows) = %d added, %v, want %d, nil", rep.Added, err, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
