package templates

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWrap checks that wrap keeps every word, in order, on lines of at most
// TextWidth columns unless the line is one word too long to fit.
func FuzzWrap(f *testing.F) {
	for _, s := range []string{"", "a b c", "see https://example.org/" + strings.Repeat("x", 90) + " now", "tab\tcr\r\nlf\x00nul é"} {
		f.Add("* ", "  ", s)
	}
	f.Fuzz(func(t *testing.T, first, rest, s string) {
		if strings.ContainsAny(first+rest, "\n") || utf8.RuneCountInString(first+rest) > 20 {
			t.Skip()
		}
		got := wrap(first, rest, s)
		wantWords := strings.Fields(strings.Map(func(r rune) rune {
			if isControl(r) {
				return ' '
			}
			return r
		}, s))
		var gotWords []string
		for i, line := range strings.Split(got, "\n") {
			prefix := rest
			if i == 0 {
				prefix = first
			}
			if !strings.HasPrefix(line, prefix) {
				t.Fatalf("wrap(%q, %q, %q): line %d %q lacks its prefix", first, rest, s, i, line)
			}
			words := strings.Fields(line[len(prefix):])
			if utf8.RuneCountInString(line) > TextWidth && len(words) > 1 {
				t.Fatalf("wrap(%q, %q, %q): line %q is %d columns with %d words", first, rest, s, line, utf8.RuneCountInString(line), len(words))
			}
			gotWords = append(gotWords, words...)
		}
		if strings.Join(gotWords, " ") != strings.Join(wantWords, " ") {
			t.Fatalf("wrap(%q, %q, %q) = %q: words changed", first, rest, s, got)
		}
	})
}

// FuzzPlain checks that plain always returns one trimmed line without control
// characters, whatever the HTML.
func FuzzPlain(f *testing.F) {
	for _, s := range []string{"<p>a<br>b</p>", "<script>x</script>y", "<!-- c", "&amp;&lt;&#0;", "<a href='x'>l</a>\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := plain(s)
		if strings.IndexFunc(got, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' }) >= 0 || got != strings.TrimSpace(got) {
			t.Fatalf("plain(%q) = %q, want one trimmed line", s, got)
		}
	})
}

// FuzzPersonalize checks that no name or unsubscribe URL can break out of the
// HTML or start a new line in either part.
func FuzzPersonalize(f *testing.F) {
	r := mustRender(f, mustLoad(f, ""), fixtureIssue(2))
	f.Add("Ada", "https://w.example/u/1")
	f.Add(`"><script>`, "javascript:alert(1)")
	f.Add("a\r\nb", "https://w.example/u?a=1&b=\"2\"\n")
	f.Fuzz(func(t *testing.T, name, unsub string) {
		b := r.Personalize(Personal{Name: name, UnsubscribeURL: unsub})
		for _, v := range []string{b.htmlName, b.htmlUnsub} {
			if strings.ContainsAny(v, "<>\"'\r\n") {
				t.Fatalf("Personalize(%q, %q): HTML value %q is not escaped", name, unsub, v)
			}
		}
		for _, v := range []string{b.textName, b.textUnsub} {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("Personalize(%q, %q): text value %q has a line break", name, unsub, v)
			}
		}
		if !safeURL(b.textUnsub) && b.textUnsub != "#" {
			t.Fatalf("Personalize(%q, %q): unsubscribe URL %q is neither safe nor #", name, unsub, b.textUnsub)
		}
	})
}
