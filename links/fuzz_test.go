package links

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalize checks that a normalised URL is http(s), has no fragment or tracking
// parameters, and normalises to itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"https://Example.COM/a?utm_source=x&b=1#f", "http://[::1]:80/", "https://example.com/%zz",
		"https://example.com/a?fbclid=1&&x", "HTTP://EXAMPLE.COM.", "javascript:alert(1)", "https://a/b?%75tm_source=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "http://") && !strings.HasPrefix(got, "https://") {
			t.Errorf("Normalize(%q) = %q, not http(s)", raw, got)
		}
		if strings.Contains(got, "#") || strings.Contains(strings.ToLower(got), "utm_") && !strings.Contains(got, "%") {
			t.Errorf("Normalize(%q) = %q, kept a fragment or tracking parameter", raw, got)
		}
		again, err := Normalize(got)
		if err != nil || again != got {
			t.Errorf("Normalize(Normalize(%q)) = %q, %v, want %q", raw, again, err, got)
		}
	})
}

// FuzzParsePage feeds arbitrary HTML to the title reader.
func FuzzParsePage(f *testing.F) {
	f.Add(`<html><head><title>T</title><meta property="og:title" content="O"></head>`)
	f.Add(`<title>unclosed`)
	f.Add(`<meta name=description content="d"><body><title>x</title>`)
	f.Fuzz(func(t *testing.T, in string) {
		p := ParsePage(strings.NewReader(in))
		for _, s := range []string{p.Title, p.Description} {
			if strings.ContainsAny(s, "\r\n\t") || (utf8.ValidString(in) && !utf8.ValidString(s)) {
				t.Errorf("ParsePage(%q) = %+v: field spans lines or is not UTF-8", in, p)
			}
		}
		if utf8.RuneCountInString(p.Title) > maxTitle {
			t.Errorf("ParsePage(%q).Title has %d runes, want at most %d", in, utf8.RuneCountInString(p.Title), maxTitle)
		}
	})
}
