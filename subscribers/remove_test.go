package subscribers

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"

	"github.com/backendweekly/weekly/store"
	"github.com/google/go-cmp/cmp"
)

// TestRemoveErasesThePerson checks the right to be forgotten: the row goes, the
// status history stays without a link to the person, an unsent delivery is skipped,
// and once the database is closed the address is nowhere in the file.
func TestRemoveErasesThePerson(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := dir + "/weekly.db"
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewStore(db, nil)
	ann := mustAdd(t, s, "ann.forgotten@example.com")
	bob := mustAdd(t, s, "bob.kept@example.com")
	issue1, issue2 := addIssue(t, db, 1), addIssue(t, db, 2)
	s.Unsubscribe(ctx, ann.ID, SourceOneClick, issue1)
	s.SignUp(ctx, ann.Email, "Ann")
	s.Confirm(ctx, ann.ID)
	for _, d := range []struct {
		issue, sub int64
		status     string
	}{{issue1, ann.ID, "sent"}, {issue2, ann.ID, "pending"}, {issue2, bob.ID, "pending"}} {
		if _, err := db.Exec(`INSERT INTO deliveries (issue_id, subscriber_id, status, updated_at) VALUES (?, ?, ?, 0)`, d.issue, d.sub, d.status); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.Remove(ctx, " ANN.Forgotten@example.com "); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if _, err := s.Get(ctx, ann.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(removed) = %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, ann.Email); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove() again = %v, want ErrNotFound", err)
	}
	var anonymous, linked int
	db.QueryRow(`SELECT count(*) FROM subscriber_events WHERE subscriber_id IS NULL`).Scan(&anonymous)
	db.QueryRow(`SELECT count(*) FROM subscriber_events WHERE subscriber_id = ?`, ann.ID).Scan(&linked)
	if anonymous != 4 || linked != 0 {
		t.Errorf("after Remove, %d anonymous and %d linked events, want 4 and 0 (add, unsubscribe, sign up, confirm)", anonymous, linked)
	}
	got := deliveries(t, db)
	want := []delivery{{issue1, 0, "sent"}, {issue2, 0, "skipped"}, {issue2, bob.ID, "pending"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deliveries after Remove (-want +got):\n%s", diff)
	}
	if got, err := s.Get(ctx, bob.ID); err != nil || got != bob {
		t.Errorf("Get(bob) = %+v, %v, want him untouched", got, err)
	}

	if err := db.Close(); err != nil { // the last connection checkpoints and drops the WAL
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(file, []byte("bob.kept@example.com")) {
		t.Fatal("the database file does not hold bob's address: the search below proves nothing")
	}
	if i := bytes.Index(bytes.ToLower(file), []byte("ann.forgotten")); i >= 0 {
		t.Errorf("the database file still holds the removed address at byte %d", i)
	}
}

type delivery struct {
	Issue, Subscriber int64
	Status            string
}

func deliveries(t *testing.T, db *sql.DB) []delivery {
	t.Helper()
	rows, err := db.Query(`SELECT issue_id, subscriber_id, status FROM deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ds []delivery
	for rows.Next() {
		var (
			d   delivery
			sub sql.NullInt64
		)
		if err := rows.Scan(&d.Issue, &sub, &d.Status); err != nil {
			t.Fatal(err)
		}
		d.Subscriber = sub.Int64
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ds
}
