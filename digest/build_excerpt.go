package digest

import (
	"html"
	"strings"

	nethtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Limits on what an issue carries, so that a 30-item issue stays well under the
// 102 KB at which Gmail clips a message.
const (
	maxExcerpt = 300 // runes of text
	maxSubject = 150 // runes
	maxIntro   = 4000
)

// excerpt turns a feed item's summary into the short excerpt an issue shows: plain
// text (no markup, so no images, links or layout from the feed reach the email),
// at most maxExcerpt runes, escaped, which makes it safe HTML. The summary was
// sanitised when it was fetched; stripping every tag again here means an issue
// never depends on that having been right.
func excerpt(summaryHTML string) string {
	text := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return ' '
		}
		return r
	}, plainText(summaryHTML))
	return html.EscapeString(truncate(oneLine(text), maxExcerpt))
}

// plainText returns the text of an HTML fragment with entities decoded. Block
// elements and line breaks become spaces; inline ones (code, em, a) join their text
// to what surrounds it, so "<code>BEGIN</code>." stays "BEGIN.". The contents of
// script, style and other non-text elements are dropped.
func plainText(fragment string) string {
	z := nethtml.NewTokenizer(strings.NewReader(fragment))
	var b strings.Builder
	hidden := 0 // depth inside elements whose text is not content
	for {
		tt := z.Next()
		switch tt {
		case nethtml.ErrorToken:
			return b.String()
		case nethtml.TextToken:
			if hidden == 0 {
				b.Write(z.Text())
			}
		case nethtml.StartTagToken, nethtml.EndTagToken, nethtml.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch {
			case hiddenElements[a] && tt == nethtml.StartTagToken:
				hidden++
			case hiddenElements[a] && tt == nethtml.EndTagToken && hidden > 0:
				hidden--
			case !inlineElements[a]:
				b.WriteByte(' ')
			}
		}
	}
}

// hiddenElements hold no readable text.
var hiddenElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Template: true, atom.Noscript: true,
	atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true, atom.Title: true,
}

// inlineElements sit inside a line of text; every other tag breaks it.
var inlineElements = map[atom.Atom]bool{
	atom.A: true, atom.Abbr: true, atom.B: true, atom.Bdi: true, atom.Bdo: true, atom.Cite: true,
	atom.Code: true, atom.Data: true, atom.Dfn: true, atom.Em: true, atom.I: true, atom.Kbd: true,
	atom.Mark: true, atom.Q: true, atom.S: true, atom.Samp: true, atom.Small: true, atom.Span: true,
	atom.Strong: true, atom.Sub: true, atom.Sup: true, atom.Time: true, atom.U: true, atom.Var: true,
	atom.Del: true, atom.Ins: true, atom.Font: true, atom.Tt: true, atom.Strike: true, atom.Big: true,
}
