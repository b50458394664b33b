package templates

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
)

// Rendered is an issue rendered once, ready to be personalised for any number of
// subscribers. It is safe for concurrent use and never changes.
type Rendered struct {
	subject string
	named   variant // for subscribers with a name
	anon    variant // for subscribers without one, so {{if .Name}} works
}

// variant is one rendering of the HTML and text parts.
type variant struct{ html, text *split }

// split is a rendered part cut at each place a per-subscriber value goes.
type split struct {
	parts []part
	size  int    // bytes in the static segments
	slots [2]int // how many times each slot occurs
}

// part is a static segment followed by a slot (or by nothing, for the last one).
type part struct {
	static []byte
	slot   slot
}

type slot int

const (
	slotNone slot = iota - 1
	slotName
	slotUnsubscribe
)

// Personal holds what differs from one subscriber's copy of an issue to the next.
type Personal struct {
	// Name is the subscriber's name, possibly empty.
	Name string
	// UnsubscribeURL is the subscriber's unsubscribe page, an http(s) or mailto URL.
	UnsubscribeURL string
}

// Body is one subscriber's copy of the HTML and text parts. It shares the issue's
// rendered segments, so it is small and cheap to make; write it with WriteHTML and
// WriteText as many times as needed.
type Body struct {
	html, text          *split
	htmlName, htmlUnsub string // HTML-escaped
	textName, textUnsub string
}

// RenderIssue runs the email templates for iss, once for subscribers with a name
// and once for those without, leaving a slot wherever the template prints .Name or
// .UnsubscribeURL. It fails if either part has no unsubscribe link.
func (s *Set) RenderIssue(iss Issue) (*Rendered, error) {
	m := Email{Issue: iss, Name: marker("name"), UnsubscribeURL: marker("unsub")}
	r := &Rendered{subject: iss.Subject}
	for _, v := range []struct {
		dst  *variant
		name string
	}{{&r.named, m.Name}, {&r.anon, ""}} {
		data := m
		data.Name = v.name
		var h, t bytes.Buffer
		if err := s.issueHTML.Execute(&h, data); err != nil {
			return nil, fmt.Errorf("templates: render issue %d: %w", iss.Number, err)
		}
		if err := s.issueText.Execute(&t, data); err != nil {
			return nil, fmt.Errorf("templates: render issue %d: %w", iss.Number, err)
		}
		v.dst.html = cut(h.Bytes(), m.Name, m.UnsubscribeURL)
		v.dst.text = cut(t.Bytes(), m.Name, m.UnsubscribeURL)
	}
	if r.anon.html.slots[slotUnsubscribe] == 0 {
		return nil, fmt.Errorf("templates: %s never prints {{.UnsubscribeURL}}: every email needs an unsubscribe link", s.issueHTML.Name())
	}
	if r.anon.text.slots[slotUnsubscribe] == 0 {
		return nil, fmt.Errorf("templates: %s never prints {{.UnsubscribeURL}}: every email needs an unsubscribe link", s.issueText.Name())
	}
	return r, nil
}

// marker returns a placeholder that no content can contain by chance. It is made of
// letters and digits only, so html/template leaves it as it is in text, attributes
// and URLs alike.
func marker(what string) string { return "bwslot" + what + rand.Text() }

// cut splits out at every occurrence of the name and unsubscribe markers.
func cut(out []byte, name, unsub string) *split {
	s := &split{}
	for {
		i, n := bytes.Index(out, []byte(name)), slotName
		if j := bytes.Index(out, []byte(unsub)); j >= 0 && (i < 0 || j < i) {
			i, n = j, slotUnsubscribe
		}
		if i < 0 {
			s.parts = append(s.parts, part{static: out, slot: slotNone})
			s.size += len(out)
			return s
		}
		s.parts = append(s.parts, part{static: out[:i:i], slot: n})
		s.size += i
		s.slots[n]++
		if n == slotName {
			out = out[i+len(name):]
		} else {
			out = out[i+len(unsub):]
		}
	}
}

// Subject returns the issue's subject line.
func (r *Rendered) Subject() string { return r.subject }

// Personalize returns p's copy of the issue. It runs no template: it escapes the two
// values for HTML (allocating only if they contain characters to escape) and
// points at the shared segments. Line breaks and other control characters are
// removed from both values, and an unsubscribe URL that is not http(s) or mailto is
// replaced by "#".
func (r *Rendered) Personalize(p Personal) Body {
	v := &r.named
	if p.Name == "" {
		v = &r.anon
	}
	b := Body{html: v.html, text: v.text}
	b.textName, b.htmlName = personal(p.Name)
	b.textUnsub, b.htmlUnsub = personal(p.UnsubscribeURL)
	if !safeURL(b.textUnsub) {
		b.textUnsub, b.htmlUnsub = "#", "#"
	}
	return b
}

// personal returns v without control characters, for the text part, and that
// escaped for HTML. Most values are plain ASCII and come back as they are, checked
// in one pass.
func personal(v string) (text, escaped string) {
	for i := 0; i < len(v); i++ {
		if special[v[i]] {
			text = oneLine(v)
			return text, html.EscapeString(text)
		}
	}
	return v, v
}

// special marks the bytes personal must look at more closely: control characters,
// the characters HTML escapes, and every byte of a non-ASCII rune.
var special = func() (t [256]bool) {
	for b := range 256 {
		t[b] = b < 0x20 || b >= 0x7f || strings.IndexByte(`&'<>"`, byte(b)) >= 0
	}
	return t
}()

// oneLine removes control characters, allocating only when there are some.
func oneLine(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
}

func safeURL(u string) bool {
	for _, scheme := range []string{"https://", "http://", "mailto:"} {
		if len(u) > len(scheme) && strings.EqualFold(u[:len(scheme)], scheme) {
			return true
		}
	}
	return false
}

// WriteHTML writes the HTML part to w.
func (b Body) WriteHTML(w io.Writer) (int64, error) { return b.html.write(w, b.htmlName, b.htmlUnsub) }

// WriteText writes the plain-text part to w.
func (b Body) WriteText(w io.Writer) (int64, error) { return b.text.write(w, b.textName, b.textUnsub) }

// HTMLLen returns the length in bytes of what WriteHTML writes.
func (b Body) HTMLLen() int { return b.html.len(b.htmlName, b.htmlUnsub) }

// TextLen returns the length in bytes of what WriteText writes.
func (b Body) TextLen() int { return b.text.len(b.textName, b.textUnsub) }

// AppendHTML appends the HTML part to dst.
func (b Body) AppendHTML(dst []byte) []byte { return b.html.append(dst, b.htmlName, b.htmlUnsub) }

// AppendText appends the plain-text part to dst.
func (b Body) AppendText(dst []byte) []byte { return b.text.append(dst, b.textName, b.textUnsub) }

func (s *split) write(w io.Writer, name, unsub string) (int64, error) {
	if s == nil {
		return 0, nil
	}
	var total int64
	for _, p := range s.parts {
		n, err := w.Write(p.static)
		total += int64(n)
		if err != nil {
			return total, err
		}
		switch p.slot {
		case slotName:
			n, err = io.WriteString(w, name)
		case slotUnsubscribe:
			n, err = io.WriteString(w, unsub)
		default:
			continue
		}
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *split) len(name, unsub string) int {
	if s == nil {
		return 0
	}
	return s.size + s.slots[slotName]*len(name) + s.slots[slotUnsubscribe]*len(unsub)
}

func (s *split) append(dst []byte, name, unsub string) []byte {
	if s == nil {
		return dst
	}
	dst = slices.Grow(dst, s.len(name, unsub))
	for _, p := range s.parts {
		dst = append(dst, p.static...)
		switch p.slot {
		case slotName:
			dst = append(dst, name...)
		case slotUnsubscribe:
			dst = append(dst, unsub...)
		}
	}
	return dst
}
