package web

import (
	"log/slog"
	"net/http"
	"time"
)

// maxBody bounds every request body. The largest legitimate one is a sign-up form.
const maxBody = 64 << 10

// csp allows nothing but our own stylesheet and form posts to ourselves: no script at
// all, inline or not, and no framing (clickjacking an unsubscribe button).
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// harden wraps h with the security headers, the body limit, panic recovery and a
// request log line. The log names the route pattern, never the path, which may hold
// a token.
func (s *Server) harden(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler_panic", slog.String("route", r.Pattern), slog.Any("panic", v))
				if !sw.wrote {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			s.log.Debug("request", slog.String("method", r.Method), slog.String("route", r.Pattern),
				slog.Int("status", sw.code), slog.Duration("took", time.Since(start)))
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
