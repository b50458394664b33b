package digest

import (
	"errors"
	"testing"
	"time"
)

func TestScheduleSlots(t *testing.T) {
	f := newIssuesFixture(t, Config{MinItems: 0})
	if _, _, err := f.issues.LastScheduled(f.ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastScheduled on no issues: error = %v, want ErrNotFound", err)
	}
	slot := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f.queue("https://a.example/1", "One", "", "")
	draft := f.build()
	if err := f.issues.Schedule(f.ctx, draft.ID, slot); err != nil {
		t.Fatalf("Schedule(draft) = %v", err)
	}
	if _, _, err := f.issues.LastScheduled(f.ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("LastScheduled with only a draft: error = %v, want ErrNotFound (a draft answers nothing yet)", err)
	}
	sent := f.send()
	number, got, err := f.issues.LastScheduled(f.ctx)
	if err != nil || number != sent.Number || !got.Equal(slot) {
		t.Errorf("LastScheduled = %d, %v, %v; want %d, %v", number, got, err, sent.Number, slot)
	}
	if err := f.issues.Schedule(f.ctx, sent.ID, slot.Add(time.Hour)); !errors.Is(err, ErrNotDraft) {
		t.Errorf("Schedule(sent issue) error = %v, want ErrNotDraft", err)
	}
	if n, err := f.issues.StartedSince(f.ctx, f.clock); err != nil || n != sent.Number {
		t.Errorf("StartedSince(send time) = %d, %v; want %d", n, err, sent.Number)
	}
	if _, err := f.issues.StartedSince(f.ctx, f.clock.Add(time.Millisecond)); !errors.Is(err, ErrNotFound) {
		t.Errorf("StartedSince(after the send) error = %v, want ErrNotFound", err)
	}
}
