package feeds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmark shape: 200 feeds of 50 items, served by 40 loopback servers (5 feeds per
// host, so the per-host limit is exercised as with real feeds).
const (
	benchFeeds   = 200
	benchItems   = 50
	benchServers = 40
)

// benchFeed renders a realistic RSS 2.0 document: CDATA HTML summaries with links
// and images, content:encoded, dc:creator, about 100 KB per feed.
func benchFeed(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Bench feed %d &amp; friends</title><link>https://feed%d.example.com/</link><description>bench</description>
`, n, n)
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	para := strings.Repeat("Back-pressure keeps queues bounded &amp; latency predictable. ", 4)
	for i := range benchItems {
		fmt.Fprintf(&b, `<item><title>Post %d of feed %d: on &lt;queues&gt; and latency</title>
<link>https://feed%d.example.com/posts/%d?utm_source=rss</link><guid isPermaLink="false">feed%d-post%d</guid>
<pubDate>%s</pubDate><dc:creator>Author %d</dc:creator>
<description><![CDATA[<p>%s <a href="/posts/%d/more">Read more</a></p><img src="/img/%d.png" alt="figure"><img src="https://t.example/p.gif" width="1" height="1">]]></description>
<content:encoded><![CDATA[<p>%s</p><p>%s</p><pre><code>for range jobs { work() }</code></pre><p>%s</p>]]></content:encoded>
</item>
`, i, n, n, i, n, i, base.Add(-time.Duration(i)*time.Hour).Format(time.RFC1123Z), i%7, para, i, i, para, para, para)
	}
	b.WriteString("</channel></rss>\n")
	return []byte(b.String())
}

// benchServers starts the loopback servers and returns the feed URLs. Every feed
// answers with an ETag and honours If-None-Match.
func startBenchServers(b *testing.B) []string {
	b.Helper()
	bodies := make([][]byte, benchFeeds)
	for i := range bodies {
		bodies[i] = benchFeed(i)
	}
	var urls []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/feed/"))
		if err != nil || n < 0 || n >= benchFeeds {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf(`"f%d"`, n)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bodies[n])
	})
	srvs := make([]*httptest.Server, benchServers)
	for i := range srvs {
		srvs[i] = httptest.NewServer(handler)
		b.Cleanup(srvs[i].Close)
	}
	for i := range benchFeeds {
		urls = append(urls, fmt.Sprintf("%s/feed/%d", srvs[i%benchServers].URL, i))
	}
	return urls
}

// peakHeap samples the live heap until stop is closed and returns the highest value.
func peakHeap(stop <-chan struct{}) func() uint64 {
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { wg.Wait(); return peak.Load() }
}

// vmHWM is the process's peak resident set size in bytes (Linux), 0 if unknown.
func vmHWM() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkRefresh refreshes 200 feeds of 50 items: cold (empty database, every body
// parsed and 10,000 items stored) and warm (every feed answers 304).
//
//	go test ./feeds/ -run '^$' -bench Refresh -benchtime 5x
func BenchmarkRefresh(b *testing.B) {
	urls := startBenchServers(b)
	ctx := context.Background()
	fetcher := NewFetcher(FetcherConfig{})
	setup := func(b *testing.B) *Store {
		s, _ := newTestStore(b)
		for _, u := range urls {
			addFeed(b, s, u)
		}
		return s
	}
	check := func(b *testing.B, rs []Result, err error, wantNew int, wantNotModified bool) {
		if err != nil || len(rs) != benchFeeds {
			b.Fatalf("Refresh = %d results, %v", len(rs), err)
		}
		for _, r := range rs {
			if r.Err != nil || r.New != wantNew || r.NotModified != wantNotModified {
				b.Fatalf("Refresh: %+v", r)
			}
		}
	}
	measure := func(b *testing.B, s func() *Store, wantNew int, warm bool) {
		var peak uint64
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			st := s()
			runtime.GC()
			stop := make(chan struct{})
			result := peakHeap(stop)
			b.StartTimer()
			rs, err := st.Refresh(ctx, fetcher)
			b.StopTimer()
			close(stop)
			peak = max(peak, result())
			check(b, rs, err, wantNew, warm)
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(vmHWM()/(1<<20), "peak-RSS-MB")
	}
	b.Run("cold", func(b *testing.B) {
		measure(b, func() *Store { return setup(b) }, benchItems, false)
	})
	b.Run("warm", func(b *testing.B) {
		s := setup(b)
		rs, err := s.Refresh(ctx, fetcher) // first fetch stores validators
		check(b, rs, err, benchItems, false)
		measure(b, func() *Store { return s }, 0, true)
	})
}
