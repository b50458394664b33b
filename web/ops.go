package web

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// stylesheet answers GET /style.css, the pages' only stylesheet (the CSP allows no
// inline style or script).
func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(s.cfg.Pages.Stylesheet())
}

// healthz answers GET /healthz: 200 "ok" when the database answers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var one int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		s.log.Error("healthz_failed", slog.Any("err", err))
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// Every status the schema allows, so a metric reads 0 rather than vanishing.
var (
	subscriberStatuses = []string{"pending", "active", "unsubscribed", "bounced", "complained"}
	deliveryStatuses   = []string{"pending", "retry", "sent", "failed", "skipped"}
)

// metrics answers GET /metrics in the Prometheus text format, read straight from
// the database with read-only queries.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := writeMetrics(r.Context(), s.cfg.DB, &b); err != nil {
		s.log.Error("metrics_failed", slog.Any("err", err))
		http.Error(w, "metrics unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

func writeMetrics(ctx context.Context, db *sql.DB, b *bytes.Buffer) error {
	subs, err := countBy(ctx, db, `SELECT status, count(*) FROM subscribers GROUP BY status`)
	if err != nil {
		return err
	}
	dels, err := countBy(ctx, db, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return err
	}
	var failing int64
	var lastSend sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM feeds WHERE consecutive_failures > 0`).Scan(&failing); err != nil {
		return fmt.Errorf("web: metrics: feeds: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT max(sent_at) FROM issues WHERE status = 'sent'`).Scan(&lastSend); err != nil {
		return fmt.Errorf("web: metrics: issues: %w", err)
	}
	fmt.Fprintf(b, "# HELP weekly_subscribers Subscribers by status.\n# TYPE weekly_subscribers gauge\n")
	for _, st := range subscriberStatuses {
		fmt.Fprintf(b, "weekly_subscribers{status=%q} %d\n", st, subs[st])
	}
	fmt.Fprintf(b, "# HELP weekly_deliveries Deliveries in the send ledger by status.\n# TYPE weekly_deliveries gauge\n")
	for _, st := range deliveryStatuses {
		fmt.Fprintf(b, "weekly_deliveries{status=%q} %d\n", st, dels[st])
	}
	fmt.Fprintf(b, "# HELP weekly_feeds_failing Feeds whose last fetch failed.\n# TYPE weekly_feeds_failing gauge\n")
	fmt.Fprintf(b, "weekly_feeds_failing %d\n", failing)
	fmt.Fprintf(b, "# HELP weekly_last_send_timestamp_seconds When the last issue finished sending (0: never).\n# TYPE weekly_last_send_timestamp_seconds gauge\n")
	fmt.Fprintf(b, "weekly_last_send_timestamp_seconds %d\n", lastSend.Int64/1000)
	return nil
}

// countBy runs a two-column (key, count) query.
func countBy(ctx context.Context, db *sql.DB, query string) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("web: metrics: %w", err)
		}
		m[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	return m, nil
}
