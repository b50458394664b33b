package feeds

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/html/charset"
)

// Fetcher defaults, used for zero values in FetcherConfig.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxBody        = 15 << 20
	DefaultUserAgent      = "BackendWeekly/1.0 (newsletter feed fetcher; +https://github.com/backendweekly/weekly)"
	DefaultPerHost        = 2
	DefaultWorkers        = 8
	maxRetryAfter         = 7 * 24 * time.Hour
	maxRedirects          = 5
)

// ErrTooLarge is returned when a feed body is larger than the configured cap. The
// body is never silently truncated.
var ErrTooLarge = errors.New("body larger than the limit")

// FetcherConfig holds the Fetcher's settings. Every field is optional; zero means
// the default above.
type FetcherConfig struct {
	Timeout        time.Duration // whole fetch of one feed: connect, headers, body, parse
	ConnectTimeout time.Duration // TCP connect and TLS handshake
	MaxBody        int64         // bytes, after decompression
	UserAgent      string
	PerHost        int // feeds fetched at once from one host
	Workers        int // feeds fetched at once in all
	Logger         *slog.Logger
}

// Fetcher fetches feeds over HTTP with its own client and limits. It is safe for
// concurrent use; the per-host limit holds across concurrent Refresh calls.
type Fetcher struct {
	cfg    FetcherConfig
	client *http.Client
	san    *sanitizer
	log    *slog.Logger

	mu    sync.Mutex
	hosts map[string]chan struct{} // per-host semaphores
}

// NewFetcher returns a Fetcher with cfg's settings.
func NewFetcher(cfg FetcherConfig) *Fetcher {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.ConnectTimeout, DefaultConnectTimeout)
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.PerHost <= 0 {
		cfg.PerHost = DefaultPerHost
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: cfg.ConnectTimeout,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: cfg.PerHost,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr, CheckRedirect: checkRedirect}
	return &Fetcher{cfg: cfg, client: client, san: newSanitizer(), log: cfg.Logger, hosts: map[string]chan struct{}{}}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %s: URL", req.URL.Scheme)
	}
	return nil
}

// hostSlot blocks until fewer than PerHost fetches run against host, or ctx ends.
func (f *Fetcher) hostSlot(ctx context.Context, host string) (release func(), err error) {
	f.mu.Lock()
	sem, ok := f.hosts[host]
	if !ok {
		sem = make(chan struct{}, f.cfg.PerHost)
		f.hosts[host] = sem
	}
	f.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetched is the outcome of one successful fetch.
type fetched struct {
	notModified  bool
	etag         string
	lastModified string
	movedTo      string // set when every redirect on the way was permanent
	doc          document
}

// statusError is an HTTP status that is not a success.
type statusError struct {
	status     string
	retryAfter time.Duration
}

func (e *statusError) Error() string { return "HTTP " + e.status }

// fetch makes one conditional GET for feed and parses the body. It holds no database
// transaction: the caller records the outcome afterwards.
func (f *Fetcher) fetch(ctx context.Context, feed Feed, now time.Time) (fetched, error) {
	u, err := url.Parse(feed.URL)
	if err != nil {
		return fetched{}, err
	}
	release, err := f.hostSlot(ctx, strings.ToLower(u.Host))
	if err != nil {
		return fetched{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	resp, err := f.get(ctx, feed)
	if err != nil {
		return fetched{}, f.netError(ctx, err)
	}
	defer resp.Body.Close()
	out := fetched{etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified"), movedTo: movedTo(resp, feed.URL)}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		out.notModified = true
		return out, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return fetched{}, &statusError{status: resp.Status,
			retryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
	}
	base := feed.URL
	if out.movedTo != "" {
		base = out.movedTo
	}
	body := &capReader{r: resp.Body, left: f.cfg.MaxBody}
	out.doc, err = f.parseBody(body, resp.Header.Get("Content-Type"), base, now)
	if body.exceeded {
		return fetched{}, fmt.Errorf("%w (%s)", ErrTooLarge, size(f.cfg.MaxBody))
	}
	if err != nil {
		if ctx.Err() != nil {
			return fetched{}, f.netError(ctx, err)
		}
		return fetched{}, err
	}
	return out, nil
}

// get sends the conditional GET for feed.
func (f *Fetcher) get(ctx context.Context, feed Feed) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, feed.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
	if feed.ETag != "" {
		req.Header.Set("If-None-Match", feed.ETag)
	}
	if feed.LastModified != "" {
		req.Header.Set("If-Modified-Since", feed.LastModified)
	}
	return f.client.Do(req)
}

// parseBody checks for an empty body, applies a charset named only in the
// Content-Type header, and parses.
func (f *Fetcher) parseBody(body io.Reader, contentType, base string, now time.Time) (document, error) {
	br := bufio.NewReader(body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return document{}, errors.New("empty body")
	} else if err != nil {
		return document{}, err
	}
	var r io.Reader = br
	if cs := headerCharset(contentType, br); cs != "" {
		if cr, err := charset.NewReaderLabel(cs, br); err == nil {
			r = cr
		}
	}
	doc, err := parse(r, base, now, f.san)
	if errors.Is(err, ErrNotAFeed) {
		mt, _, _ := mime.ParseMediaType(contentType)
		if mt == "" {
			mt = "no content type"
		}
		return document{}, fmt.Errorf("%w (got %s)", ErrNotAFeed, mt)
	}
	return doc, err
}

// headerCharset returns the charset named in the Content-Type header when the body
// must be converted by us: not UTF-8, and an XML body that names no encoding of its
// own in its declaration (which the XML decoder would honour).
func headerCharset(contentType string, br *bufio.Reader) string {
	_, params, _ := mime.ParseMediaType(contentType)
	cs := strings.ToLower(strings.TrimSpace(params["charset"]))
	if cs == "" || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" {
		return ""
	}
	head, _ := br.Peek(256)
	head = bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if bytes.HasPrefix(head, []byte("<?xml")) {
		decl, _, _ := bytes.Cut(head, []byte("?>"))
		if bytes.Contains(decl, []byte("encoding")) {
			return ""
		}
	}
	return cs
}

// netError names a timeout as one rather than as a wrapped context error.
func (f *Fetcher) netError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v: %w", f.cfg.Timeout, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err // the URL is known to the caller
	}
	return err
}

// movedTo returns the final URL if the request was redirected and every redirect on
// the way was permanent (301 or 308), else "".
func movedTo(resp *http.Response, orig string) string {
	r := resp.Request
	if r == nil || r.Response == nil {
		return ""
	}
	final := r.URL.String()
	for ; r != nil && r.Response != nil; r = r.Response.Request {
		if c := r.Response.StatusCode; c != http.StatusMovedPermanently && c != http.StatusPermanentRedirect {
			return ""
		}
	}
	if final == orig {
		return ""
	}
	return final
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. It returns 0 when
// absent or unreadable, and caps absurd values.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// capReader reads at most left bytes and fails, rather than truncating, if there is
// more.
type capReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.exceeded = true
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// size formats a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
