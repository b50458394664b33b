package links

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// Page is what a web page says about itself.
type Page struct {
	Title       string // og:title, else <title>
	Description string // og:description, else <meta name="description">
}

// PageFetcher fetches web pages to find their titles. It is safe for concurrent use.
type PageFetcher struct {
	client   *http.Client
	maxBytes int64
	ua       string
}

// NewPageFetcher returns a PageFetcher. timeout bounds the whole fetch; at most
// maxBytes of the page are read (the head is near the top); userAgent names us.
func NewPageFetcher(timeout time.Duration, maxBytes int64, userAgent string) *PageFetcher {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	c := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: httpOnlyRedirects}
	return &PageFetcher{client: c, maxBytes: maxBytes, ua: userAgent}
}

func httpOnlyRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %s: URL", req.URL.Scheme)
	}
	return nil
}

// Fetch fetches the page at rawURL (absolute http or https only) and reads its title
// and description.
func (f *PageFetcher) Fetch(ctx context.Context, rawURL string) (Page, error) {
	u, err := Normalize(rawURL)
	if err != nil {
		return Page{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	req.Header.Set("User-Agent", f.ua)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1")
	resp, err := f.client.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Page{}, fmt.Errorf("fetch %s: HTTP %s", u, resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); ct != "" && mt != "text/html" && mt != "application/xhtml+xml" {
		return Page{}, fmt.Errorf("fetch %s: not a web page (%s)", u, mt)
	}
	body, err := charset.NewReader(io.LimitReader(resp.Body, f.maxBytes), ct)
	if err != nil {
		return Page{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	p := ParsePage(body)
	if p.Title == "" {
		return p, fmt.Errorf("fetch %s: the page has no title", u)
	}
	return p, nil
}

// ParsePage reads the title and description from HTML. It stops at <body>, and reads
// whatever it gets if the page ends early.
func ParsePage(r io.Reader) Page {
	var p, og Page
	z := html.NewTokenizer(r)
	inTitle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return merge(og, p)
		case html.TextToken:
			if inTitle {
				p.Title += string(z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "title" {
				inTitle = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "title":
				inTitle = p.Title == ""
			case "body":
				return merge(og, p)
			case "meta":
				if hasAttr {
					readMeta(z, &p, &og)
				}
			}
		}
	}
}

func readMeta(z *html.Tokenizer, p, og *Page) {
	var key, content string
	for {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "property", "name":
			key = strings.ToLower(string(v))
		case "content":
			content = string(v)
		}
		if !more {
			break
		}
	}
	switch key {
	case "og:title":
		og.Title = content
	case "og:description":
		og.Description = content
	case "description":
		p.Description = content
	}
}

// merge prefers Open Graph values and cleans both fields.
func merge(og, p Page) Page {
	pick := func(a, b string, max int) string {
		if s := clean(a, max); s != "" {
			return s
		}
		return clean(b, max)
	}
	return Page{Title: pick(og.Title, p.Title, maxTitle), Description: pick(og.Description, p.Description, maxNote)}
}
