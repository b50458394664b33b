package templates

import (
	"fmt"
	"html"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"
)

// TextWidth is the column at which the text email wraps. URLs longer than a line
// stay whole on a line of their own, so they still work when copied.
const TextWidth = 72

// Functions every template may call, in addition to the standard ones.
var (
	htmlFuncs = htmltemplate.FuncMap{
		"paragraphs": paragraphs,
		"host":       host,
	}
	textFuncs = texttemplate.FuncMap{
		"paragraphs": paragraphs,
		"host":       host,
		"wrap":       wrap,
		"plain":      plain,
	}
)

// wrap reflows s into lines of at most TextWidth columns, the first starting with
// first and the others with rest. Whitespace, line breaks and control characters
// in s become single spaces. A word longer than a line (a URL, say) is never
// broken: it gets a line of its own, however long.
func wrap(first, rest, s string) string {
	words := strings.Fields(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
	var b strings.Builder
	b.WriteString(first)
	col, empty := utf8.RuneCountInString(first), true
	for _, w := range words {
		n := utf8.RuneCountInString(w)
		if !empty && col+1+n > TextWidth {
			b.WriteString("\n")
			b.WriteString(rest)
			col, empty = utf8.RuneCountInString(rest), true
		}
		if !empty {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
		empty = false
	}
	return b.String()
}

// paragraphs splits plain text into paragraphs at blank lines; the line breaks
// inside a paragraph become spaces.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// host returns the host name of a URL without a leading "www.", to show readers
// where a link goes.
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Hostname(), "www.")
}

// plain turns (sanitised) HTML into one line of plain text: tags go, the contents of
// script and style elements go, entities are decoded and runs of whitespace become
// one space. It accepts a string or an html/template.HTML.
func plain(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case htmltemplate.HTML:
		s = string(v)
	default:
		s = fmt.Sprint(v)
	}
	var b strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = skipTag(s[i:], &b)
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

// skipTag drops the tag (or comment) at the start of s, and the whole element if it
// is a script or style, and returns what follows. Tags that end a block of text
// leave a space behind so the words on either side stay apart.
func skipTag(s string, b *strings.Builder) string {
	if strings.HasPrefix(s, "<!--") {
		if j := strings.Index(s, "-->"); j >= 0 {
			return s[j+3:]
		}
		return ""
	}
	j := strings.IndexByte(s, '>')
	if j < 0 {
		return ""
	}
	name := strings.ToLower(strings.TrimLeft(s[1:j], "/"))
	if k := strings.IndexAny(name, " \t\r\n/"); k >= 0 {
		name = name[:k]
	}
	rest := s[j+1:]
	switch name {
	case "script", "style":
		if !strings.HasPrefix(s, "</") {
			if k := strings.Index(strings.ToLower(rest), "</"+name); k >= 0 {
				rest = rest[k:]
			} else {
				rest = ""
			}
		}
	case "p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "blockquote", "pre",
		"h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "dd", "dt":
		b.WriteByte(' ')
	}
	return rest
}
