package feeds

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxSummaryInput bounds the HTML handed to the sanitiser: an excerpt needs far less,
// and a hostile feed should not make us parse megabytes per item.
const maxSummaryInput = 256 << 10

// sanitizer turns hostile feed HTML into a small, safe subset. It is built once per
// Fetcher, never changed afterwards, and safe for concurrent use.
type sanitizer struct {
	policy *bluemonday.Policy
}

func newSanitizer() *sanitizer {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "hr", "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup",
		"small", "code", "pre", "kbd", "blockquote", "ul", "ol", "li", "dl", "dt", "dd",
		"h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "abbr", "cite", "q")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("title").OnElements("a", "abbr")
	p.AllowAttrs("src", "alt").OnElements("img")
	p.AllowAttrs("width", "height").Matching(bluemonday.Number).OnElements("img")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false) // relative URLs were resolved first; the rest go
	p.AddSpaceWhenStrippingTag(true)
	return &sanitizer{policy: p}
}

// droppedElements lose their content as well as their tags.
var droppedElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Iframe: true, atom.Object: true, atom.Embed: true,
	atom.Svg: true, atom.Math: true, atom.Form: true, atom.Noscript: true, atom.Template: true,
	atom.Frameset: true, atom.Frame: true, atom.Applet: true, atom.Audio: true, atom.Video: true,
}

// sanitize resolves relative links against base, removes tracking pixels and active
// content, then applies the allow-list. The result is safe to put in an email or page.
func (s *sanitizer) sanitize(in string, base *url.URL) string {
	if len(in) > maxSummaryInput {
		in = in[:maxSummaryInput]
	}
	if strings.ContainsRune(in, '<') {
		ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
		nodes, err := html.ParseFragment(strings.NewReader(in), ctx)
		if err != nil {
			return ""
		}
		var b strings.Builder
		for _, n := range nodes {
			clean(n, base)
			if n.Parent == nil && !isDropped(n) {
				if err := html.Render(&b, n); err != nil {
					return ""
				}
			}
		}
		in = b.String()
	}
	return strings.TrimSpace(s.policy.Sanitize(in))
}

// clean rewrites n's subtree in place.
func clean(n *html.Node, base *url.URL) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if isDropped(c) {
			n.RemoveChild(c)
		} else {
			clean(c, base)
		}
		c = next
	}
	if n.Type != html.ElementNode {
		return
	}
	for i, a := range n.Attr {
		if (a.Key == "href" && n.DataAtom == atom.A) || (a.Key == "src" && n.DataAtom == atom.Img) {
			n.Attr[i].Val = resolve(base, a.Val)
		}
	}
}

func isDropped(n *html.Node) bool {
	if n.Type == html.CommentNode {
		return true
	}
	if n.Type != html.ElementNode {
		return false
	}
	return droppedElements[n.DataAtom] || n.Data == "svg" || (n.DataAtom == atom.Img && isPixel(n))
}

// isPixel reports an image that exists only to track the reader: 1x1 or smaller, or
// hidden by its style.
func isPixel(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "width", "height":
			v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(a.Val), "px"))
			if err == nil && v <= 1 {
				return true
			}
		case "style":
			st := strings.ReplaceAll(strings.ToLower(a.Val), " ", "")
			if strings.Contains(st, "display:none") || strings.Contains(st, "width:1px") || strings.Contains(st, "height:1px") ||
				strings.Contains(st, "width:0") || strings.Contains(st, "height:0") {
				return true
			}
		}
	}
	return false
}

// resolve makes ref absolute against base. It returns ref unchanged when it cannot,
// leaving the sanitiser to drop what is not http(s) or mailto.
func resolve(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if base == nil {
		return ref
	}
	u, err := base.Parse(ref)
	if err != nil {
		return ref
	}
	return u.String()
}

// plainText turns feed text that may hold markup or entities into one line of plain
// text: tags dropped (with the content of script and style), entities decoded,
// control characters removed, whitespace collapsed, at most max runes.
func plainText(s string, max int) string {
	if strings.ContainsAny(s, "<&") {
		var b strings.Builder
		z := html.NewTokenizer(strings.NewReader(s))
		skip := 0
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			switch tt {
			case html.TextToken:
				if skip == 0 {
					b.Write(z.Text())
				}
			case html.StartTagToken, html.EndTagToken:
				name, _ := z.TagName()
				if a := atom.Lookup(name); a == atom.Script || a == atom.Style {
					if tt == html.StartTagToken {
						skip++
					} else if skip > 0 {
						skip--
					}
				}
				b.WriteByte(' ')
			}
		}
		s = b.String()
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && !unicode.IsSpace(r)) {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}
