package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/backendweekly/weekly/store"
	"github.com/google/go-cmp/cmp"
)

// t0 is when every test starts; the test clock moves on only when told.
var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// openTestDB opens a fresh, migrated database under t.TempDir().
func openTestDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "weekly.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func newTestStore(t testing.TB) (*Store, *sql.DB, *testClock) {
	t.Helper()
	db, _ := openTestDB(t)
	clk := &testClock{t: t0}
	return NewStore(db, clk.now), db, clk
}

// addIssue inserts a sent issue, for the foreign keys of events and unsubscribes.
func addIssue(t *testing.T, db *sql.DB, number int) int64 {
	t.Helper()
	res, err := db.Exec(`INSERT INTO issues (number, status, window_start, window_end, created_at) VALUES (?, 'sent', 0, 0, 0)`, number)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// event is a subscriber_events row; Subscriber and Issue are 0 for NULL.
type event struct {
	Subscriber int64
	Status     Status
	Source     Source
	Issue      int64
	At         time.Time
}

func allEvents(t *testing.T, db *sql.DB) []event {
	t.Helper()
	rows, err := db.Query(`SELECT subscriber_id, status, source, issue_id, at FROM subscriber_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var evs []event
	for rows.Next() {
		var (
			e          event
			sub, issue sql.NullInt64
			at         int64
		)
		if err := rows.Scan(&sub, &e.Status, &e.Source, &issue, &at); err != nil {
			t.Fatal(err)
		}
		e.Subscriber, e.Issue, e.At = sub.Int64, issue.Int64, time.UnixMilli(at).UTC()
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func mustAdd(t *testing.T, s *Store, email string) Subscriber {
	t.Helper()
	sub, err := s.Add(context.Background(), email, "", SourceCLI)
	if err != nil {
		t.Fatalf("Add(%q) = %v", email, err)
	}
	return sub
}

func TestAddGetByEmail(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	got, err := s.Add(ctx, " Ann@Example.com ", " Ann Lee ", SourceCLI)
	if err != nil {
		t.Fatal(err)
	}
	want := Subscriber{ID: 1, Email: "Ann@Example.com", Name: "Ann Lee", Status: StatusActive,
		CreatedAt: t0, StatusChangedAt: t0, StatusSource: SourceCLI}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Add() mismatch (-want +got):\n%s", diff)
	}
	for _, email := range []string{"ann@example.com", "ANN@EXAMPLE.COM"} {
		if got, err := s.ByEmail(ctx, email); err != nil || got != want {
			t.Errorf("ByEmail(%q) = %+v, %v, want %+v", email, got, err, want)
		}
		if _, err := s.Add(ctx, email, "", SourceCLI); !errors.Is(err, ErrExists) {
			t.Errorf("Add(%q) again = %v, want ErrExists", email, err)
		}
	}
	if got, err := s.Get(ctx, 1); err != nil || got != want {
		t.Errorf("Get(1) = %+v, %v, want %+v", got, err, want)
	}
	if _, err := s.Get(ctx, 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(2) = %v, want ErrNotFound", err)
	}
	if _, err := s.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByEmail(nobody) = %v, want ErrNotFound", err)
	}
	for _, in := range []struct{ email, name string }{{"bob@localhost", ""}, {"bob@example.com", "Bob\r\nBcc: x@example.com"}} {
		if _, err := s.Add(ctx, in.email, in.name, SourceCLI); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(%q, %q) = %v, want ErrInvalid", in.email, in.name, err)
		}
	}
	if _, err := s.Add(ctx, "bob@example.com", "", "carrier-pigeon"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Add with an unknown source = %v, want ErrInvalid", err)
	}
}

func TestListAndStats(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	mustAdd(t, s, "a@example.com")
	b := mustAdd(t, s, "b@example.com")
	mustAdd(t, s, "c@example.com")
	if _, err := s.Unsubscribe(ctx, b.ID, SourceCLI, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SignUp(ctx, "d@example.com", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status Status
		want   []string
	}{
		{"", []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"}},
		{StatusActive, []string{"a@example.com", "c@example.com"}},
		{StatusUnsubscribed, []string{"b@example.com"}},
		{StatusPending, []string{"d@example.com"}},
		{StatusBounced, []string{}},
	}
	for _, tt := range tests {
		subs, err := s.List(ctx, tt.status)
		if err != nil {
			t.Fatalf("List(%q) = %v", tt.status, err)
		}
		got := []string{}
		for _, sub := range subs {
			got = append(got, sub.Email)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List(%q) mismatch (-want +got):\n%s", tt.status, diff)
		}
	}
	if _, err := s.List(ctx, "gone"); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(\"gone\") = %v, want ErrInvalid", err)
	}
	stats, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Status]int{StatusPending: 1, StatusActive: 2, StatusUnsubscribed: 1, StatusBounced: 0, StatusComplained: 0}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestUnsubscribe(t *testing.T) {
	s, db, clk := newTestStore(t)
	ctx := context.Background()
	issue := addIssue(t, db, 7)
	tests := []struct {
		name        string
		setup       func(id int64)
		wantChanged bool
		wantStatus  Status
	}{
		{"active", func(int64) {}, true, StatusUnsubscribed},
		{"pending", nil, true, StatusUnsubscribed},
		{"already unsubscribed", func(id int64) { s.Unsubscribe(ctx, id, SourcePage, 0) }, false, StatusUnsubscribed},
		{"bounced", func(id int64) { s.HardBounce(ctx, id, 0, 1) }, false, StatusBounced},
		{"complained", func(id int64) { s.Complain(ctx, id, 0) }, false, StatusComplained},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := string(rune('a'+i)) + "@example.com"
			var sub Subscriber
			if tt.setup == nil {
				sub, _, _ = s.SignUp(ctx, email, "")
			} else {
				sub = mustAdd(t, s, email)
				tt.setup(sub.ID)
			}
			before, _ := s.Get(ctx, sub.ID)
			clk.advance(time.Hour)
			changed, err := s.Unsubscribe(ctx, sub.ID, SourceOneClick, issue)
			if err != nil || changed != tt.wantChanged {
				t.Fatalf("Unsubscribe(%s) = %v, %v, want %v, nil", tt.name, changed, err, tt.wantChanged)
			}
			got, err := s.Get(ctx, sub.ID)
			if err != nil {
				t.Fatalf("Get after Unsubscribe = %v: the subscriber must never be deleted", err)
			}
			want := before
			if tt.wantChanged {
				want.Status, want.StatusSource, want.StatusChangedAt, want.UnsubscribedIssueID = StatusUnsubscribed, SourceOneClick, clk.now(), issue
			}
			if diff := cmp.Diff(want, got); diff != "" || got.Status != tt.wantStatus {
				t.Errorf("after Unsubscribe, status %s, want %s (-want +got):\n%s", got.Status, tt.wantStatus, diff)
			}
			if again, err := s.Unsubscribe(ctx, sub.ID, SourceOneClick, issue); again || err != nil {
				t.Errorf("Unsubscribe repeated = %v, %v, want false, nil", again, err)
			}
		})
	}
	if _, err := s.Unsubscribe(ctx, 999, SourcePage, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Unsubscribe(999) = %v, want ErrNotFound", err)
	}
}

// TestStatusChangesAreRecorded walks one subscriber through every transition and
// checks the row and the subscriber_events history after each.
func TestStatusChangesAreRecorded(t *testing.T) {
	s, db, clk := newTestStore(t)
	ctx := context.Background()
	issue1, issue2 := addIssue(t, db, 1), addIssue(t, db, 2)
	var id int64
	steps := []struct {
		name   string
		do     func() error
		status Status
		source Source
		issue  int64
	}{
		{"sign up", func() (err error) { sub, _, err := s.SignUp(ctx, "ann@example.com", "Ann"); id = sub.ID; return err }, StatusPending, SourceSignup, 0},
		{"confirm", func() error { _, err := s.Confirm(ctx, id); return err }, StatusActive, SourceConfirm, 0},
		{"unsubscribe", func() error { _, err := s.Unsubscribe(ctx, id, SourceOneClick, issue1); return err }, StatusUnsubscribed, SourceOneClick, issue1},
		{"sign up again", func() error { _, _, err := s.SignUp(ctx, "ANN@example.com", ""); return err }, StatusPending, SourceSignup, 0},
		{"confirm again", func() error { _, err := s.Confirm(ctx, id); return err }, StatusActive, SourceConfirm, 0},
		{"bounce", func() error { _, err := s.HardBounce(ctx, id, issue2, 1); return err }, StatusBounced, SourceBounce, issue2},
		{"sign up after bounce", func() error { _, _, err := s.SignUp(ctx, "ann@example.com", ""); return err }, StatusPending, SourceSignup, 0},
		{"complain", func() error { _, err := s.Complain(ctx, id, issue2); return err }, StatusComplained, SourceComplaint, issue2},
	}
	var want []event
	for _, st := range steps {
		clk.advance(time.Minute)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want = append(want, event{id, st.status, st.source, st.issue, clk.now()})
		if diff := cmp.Diff(want, allEvents(t, db)); diff != "" {
			t.Fatalf("after %s, events mismatch (-want +got):\n%s", st.name, diff)
		}
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != st.status || got.StatusSource != st.source || !got.StatusChangedAt.Equal(clk.now()) {
			t.Errorf("after %s, Get() = %s by %s at %v, want %s by %s at %v",
				st.name, got.Status, got.StatusSource, got.StatusChangedAt, st.status, st.source, clk.now())
		}
		if got.UnsubscribedIssueID != issue1 && st.name != "sign up" && st.name != "confirm" {
			t.Errorf("after %s, UnsubscribedIssueID = %d, want %d (the latest unsubscribe)", st.name, got.UnsubscribedIssueID, issue1)
		}
	}
}

func TestSignUp(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(s *Store, id int64)
		wantSend   bool
		wantStatus Status
	}{
		{"active stays active, no email", func(*Store, int64) {}, false, StatusActive},
		{"unsubscribed needs confirming again", func(s *Store, id int64) { s.Unsubscribe(context.Background(), id, SourcePage, 0) }, true, StatusPending},
		{"bounced needs confirming again", func(s *Store, id int64) { s.HardBounce(context.Background(), id, 0, 1) }, true, StatusPending},
		{"complained needs confirming again", func(s *Store, id int64) { s.Complain(context.Background(), id, 0) }, true, StatusPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestStore(t)
			ctx := context.Background()
			sub := mustAdd(t, s, "ann@example.com")
			tt.setup(s, sub.ID)
			got, send, err := s.SignUp(ctx, "Ann@Example.com", "Ann")
			if err != nil || send != tt.wantSend || got.Status != tt.wantStatus || got.ID != sub.ID {
				t.Errorf("SignUp() = %+v, %v, %v, want subscriber %d %s, %v, nil", got, send, err, sub.ID, tt.wantStatus, tt.wantSend)
			}
		})
	}
	t.Run("new, then pending again", func(t *testing.T) {
		s, _, _ := newTestStore(t)
		ctx := context.Background()
		for i, name := range []string{"Ann", "Ann Lee"} {
			got, send, err := s.SignUp(ctx, "ann@example.com", name)
			if err != nil || !send || got.Status != StatusPending || got.Name != name || got.ID != 1 {
				t.Errorf("SignUp #%d = %+v, %v, %v, want subscriber 1 pending named %q, true, nil", i+1, got, send, err, name)
			}
		}
		if _, _, err := s.SignUp(ctx, "ann@localhost", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("SignUp(ann@localhost) = %v, want ErrInvalid", err)
		}
	})
}

func TestConfirm(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	pending, _, _ := s.SignUp(ctx, "p@example.com", "")
	if changed, err := s.Confirm(ctx, pending.ID); !changed || err != nil {
		t.Errorf("Confirm(pending) = %v, %v, want true, nil", changed, err)
	}
	if changed, err := s.Confirm(ctx, pending.ID); changed || err != nil {
		t.Errorf("Confirm(active) = %v, %v, want false, nil", changed, err)
	}
	left := mustAdd(t, s, "u@example.com")
	s.Unsubscribe(ctx, left.ID, SourcePage, 0)
	if changed, err := s.Confirm(ctx, left.ID); changed || err != nil {
		t.Errorf("Confirm(unsubscribed) = %v, %v, want false, nil", changed, err)
	}
	if got, _ := s.Get(ctx, left.ID); got.Status != StatusUnsubscribed {
		t.Errorf("an old confirmation link changed an unsubscribed subscriber to %s", got.Status)
	}
	if _, err := s.Confirm(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Confirm(999) = %v, want ErrNotFound", err)
	}
}

func TestHardBounce(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	sub := mustAdd(t, s, "b@example.com")
	for i, want := range []bool{false, false, true, false} {
		bounced, err := s.HardBounce(ctx, sub.ID, 0, 3)
		if err != nil || bounced != want {
			t.Errorf("HardBounce #%d = %v, %v, want %v, nil", i+1, bounced, err, want)
		}
	}
	got, _ := s.Get(ctx, sub.ID)
	if got.Status != StatusBounced || got.HardBounces != 4 || got.StatusSource != SourceBounce {
		t.Errorf("after 4 bounces, Get() = %s (%s) with %d bounces, want bounced (bounce) with 4", got.Status, got.StatusSource, got.HardBounces)
	}
	left := mustAdd(t, s, "u@example.com")
	s.Unsubscribe(ctx, left.ID, SourcePage, 0)
	if bounced, err := s.HardBounce(ctx, left.ID, 0, 1); bounced || err != nil {
		t.Errorf("HardBounce(unsubscribed) = %v, %v, want false, nil", bounced, err)
	}
	if _, err := s.HardBounce(ctx, sub.ID, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("HardBounce with threshold 0 = %v, want ErrInvalid", err)
	}
	// Confirming again proves the address works: the count starts over.
	s.SignUp(ctx, "b@example.com", "")
	s.Confirm(ctx, sub.ID)
	if got, _ := s.Get(ctx, sub.ID); got.HardBounces != 0 || got.Status != StatusActive {
		t.Errorf("after a new confirmation, Get() = %s with %d bounces, want active with 0", got.Status, got.HardBounces)
	}
}
