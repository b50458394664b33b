package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"sync/atomic"
	"time"
)

// demoData holds the example feeds 'weekly demo' serves: one each of RSS, Atom and
// JSON Feed, newest item first.
//
//go:embed demodata
var demoData embed.FS

// demoFeedFiles names the example feeds, with the name each is followed under.
var demoFeedFiles = []struct{ file, name string }{
	{"queueing.rss.xml", "Queueing Theory for Practitioners"},
	{"storage.atom.xml", "Storage Engines Weekly Notes"},
	{"distributed.json", "Distributed Systems Digest"},
}

// demoFeeds serves the embedded example feeds on a loopback port. Until publish is
// called each feed shows only its oldest items, so following it records those as
// seen and the items published afterwards are new, as with a real blog.
type demoFeeds struct {
	ln     net.Listener
	srv    *http.Server
	shown  int // items each feed shows before publish
	public atomic.Bool
}

// startDemoFeeds listens on 127.0.0.1 on a free port and serves until close.
func startDemoFeeds(shown int) (*demoFeeds, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: serve the example feeds: %w", err)
	}
	df := &demoFeeds{ln: ln, shown: shown}
	df.srv = &http.Server{Handler: http.HandlerFunc(df.serve), ReadHeaderTimeout: 5 * time.Second}
	go df.srv.Serve(ln) // returns when close shuts the server down
	return df, nil
}

// url returns the address of one example feed.
func (df *demoFeeds) url(file string) string { return "http://" + df.ln.Addr().String() + "/" + file }

// publish makes every item of every feed visible.
func (df *demoFeeds) publish() { df.public.Store(true) }

func (df *demoFeeds) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return df.srv.Shutdown(ctx)
}

func (df *demoFeeds) serve(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	b, err := demoData.ReadFile("demodata/" + name)
	if err != nil || r.URL.Path != "/"+name {
		http.NotFound(w, r)
		return
	}
	if !df.public.Load() {
		if b, err = oldestItems(name, b, df.shown); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	switch path.Ext(name) {
	case ".json":
		w.Header().Set("Content-Type", "application/feed+json")
	default:
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	}
	w.Write(b)
}

// oldestItems returns the feed document b with only its last n items, the oldest.
func oldestItems(name string, b []byte, n int) ([]byte, error) {
	switch path.Ext(name) {
	case ".json":
		var doc map[string]json.RawMessage
		var items []json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("demo: %s: %w", name, err)
		}
		if err := json.Unmarshal(doc["items"], &items); err != nil {
			return nil, fmt.Errorf("demo: %s: items: %w", name, err)
		}
		items = items[max(len(items)-n, 0):]
		doc["items"], _ = json.Marshal(items)
		return json.MarshalIndent(doc, "", "  ")
	case ".xml":
		open, end := []byte("<item>"), []byte("</item>")
		if bytes.Contains(b, []byte("<entry>")) {
			open, end = []byte("<entry>"), []byte("</entry>")
		}
		return dropFirstBlocks(b, open, end, bytes.Count(b, open)-n)
	}
	return nil, fmt.Errorf("demo: %s: not a feed file", name)
}

// dropFirstBlocks removes the first k blocks that run from open to end.
func dropFirstBlocks(b, open, end []byte, k int) ([]byte, error) {
	var out []byte
	rest := b
	for range k {
		i := bytes.Index(rest, open)
		j := bytes.Index(rest, end)
		if i < 0 || j < i {
			return nil, errors.New("demo: unbalanced feed items")
		}
		out = append(out, rest[:i]...)
		rest = rest[j+len(end):]
	}
	return append(out, rest...), nil
}
