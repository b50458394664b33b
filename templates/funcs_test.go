package templates

import (
	"html/template"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrap(t *testing.T) {
	long := "https://example.org/" + strings.Repeat("x", 80)
	tests := []struct {
		first, rest, in, want string
	}{
		{"", "", "short line", "short line"},
		{"* ", "  ", "a\r\nb\tc\x00d", "* a b c d"},
		{"", "", strings.Repeat("word ", 20), strings.TrimSpace(strings.Repeat("word ", 14)) + "\n" + strings.TrimSpace(strings.Repeat("word ", 6))},
		{"  ", "  ", "see " + long + " now", "  see\n  " + long + "\n  now"},
		{"", "", long, long},
		{"", "", "", ""},
		{"", "", strings.Repeat("é", 70) + " ab", strings.Repeat("é", 70) + "\nab"},
	}
	for _, tt := range tests {
		if got := wrap(tt.first, tt.rest, tt.in); got != tt.want {
			t.Errorf("wrap(%q, %q, %q) = %q, want %q", tt.first, tt.rest, tt.in, got, tt.want)
		}
	}
}

func TestPlain(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{template.HTML("<p>One&nbsp;<em>two</em></p><p>three</p>"), "One two three"},
		{"a<br>b<br/>c", "a b c"},
		{"x<script type=x>alert('<p>')</script>y<STYLE>p{}</STYLE>z", "xyz"},
		{"<!-- hidden <p> -->shown &amp; &lt;kept&gt;", "shown & <kept>"},
		{"unclosed <b", "unclosed"},
		{"no markup\r\n at all", "no markup at all"},
	}
	for _, tt := range tests {
		if got := plain(tt.in); got != tt.want {
			t.Errorf("plain(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParagraphs(t *testing.T) {
	got := paragraphs("One\nline.\r\n\r\nTwo.\n\n\n\n  \nThree.")
	if diff := cmp.Diff([]string{"One line.", "Two.", "Three."}, got); diff != "" {
		t.Errorf("paragraphs mismatch (-want +got):\n%s", diff)
	}
	if got := paragraphs(" \n "); got != nil {
		t.Errorf("paragraphs(blank) = %q, want nil", got)
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{"https://www.example.com/a": "example.com", "http://blog.example.org:8080/x": "blog.example.org", "::": ""} {
		if got := host(in); got != want {
			t.Errorf("host(%q) = %q, want %q", in, got, want)
		}
	}
}
