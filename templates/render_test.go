package templates

import (
	"bytes"
	"flag"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestGoldenIssue(t *testing.T) {
	r := mustRender(t, mustLoad(t, ""), fixtureIssue(7))
	b := r.Personalize(fixturePersonal)
	golden(t, "issue.html.golden", b.AppendHTML(nil))
	golden(t, "issue.txt.golden", b.AppendText(nil))
	anon := r.Personalize(Personal{UnsubscribeURL: fixturePersonal.UnsubscribeURL})
	golden(t, "issue-noname.txt.golden", anon.AppendText(nil))
}

func TestGoldenConfirmation(t *testing.T) {
	b, err := mustLoad(t, "").RenderConfirmation(Confirmation{
		ListName: "Backend Weekly", HomeURL: "https://weekly.example.com", Name: "Ada",
		ConfirmURL: "https://weekly.example.com/confirm/AbCdEf0123456789",
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "confirm.html.golden", b.AppendHTML(nil))
	golden(t, "confirm.txt.golden", b.AppendText(nil))
}

func TestPersonalize(t *testing.T) {
	r := mustRender(t, mustLoad(t, ""), fixtureIssue(3))
	tests := []struct {
		name         string
		p            Personal
		html, text   []string // must appear
		nhtml, ntext []string // must not appear
	}{
		{"plain", Personal{Name: "Ada", UnsubscribeURL: "https://w.example.com/u/t1"},
			[]string{"Hi Ada,", `href="https://w.example.com/u/t1"`}, []string{"Hi Ada,", "\nhttps://w.example.com/u/t1\n"}, nil, []string{"Hello,"}},
		{"no name", Personal{UnsubscribeURL: "https://w.example.com/u/t2"},
			[]string{"Hello,"}, []string{"Hello,"}, []string{"Hi "}, []string{"Hi "}},
		{"escaped", Personal{Name: `Eve <script>"x"&`, UnsubscribeURL: `https://w.example.com/u?a=1&b="><script>`},
			[]string{"Hi Eve &lt;script&gt;&#34;x&#34;&amp;,", `href="https://w.example.com/u?a=1&amp;b=&#34;&gt;&lt;script&gt;"`},
			[]string{`Hi Eve <script>"x"&,`}, []string{"<script>"}, nil},
		{"line breaks", Personal{Name: "Mal\r\nBcc: x@example.com", UnsubscribeURL: "https://w.example.com/u/t3\r\nX: y"},
			[]string{"Hi MalBcc: x@example.com,", "https://w.example.com/u/t3X: y"}, []string{"Hi MalBcc: x@example.com,"}, []string{"\r"}, []string{"\r", "\nBcc:"}},
		{"bad scheme", Personal{Name: "Ada", UnsubscribeURL: "javascript:alert(1)"},
			[]string{`href="#"`}, []string{"\n#\n"}, []string{"javascript:"}, []string{"javascript:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := r.Personalize(tt.p)
			h, x := string(b.AppendHTML(nil)), string(b.AppendText(nil))
			check := func(part, got string, want []string, present bool) {
				for _, w := range want {
					if strings.Contains(got, w) != present {
						t.Errorf("Personalize(%q) %s part: contains %q = %v, want %v", tt.p, part, w, !present, present)
					}
				}
			}
			check("HTML", h, tt.html, true)
			check("text", x, tt.text, true)
			check("HTML", h, tt.nhtml, false)
			check("text", x, tt.ntext, false)
			if strings.Contains(h, "bwslot") || strings.Contains(x, "bwslot") {
				t.Errorf("Personalize(%q): a slot marker leaked into the output", tt.p)
			}
			if b.HTMLLen() != len(h) || b.TextLen() != len(x) {
				t.Errorf("HTMLLen, TextLen = %d, %d, want %d, %d", b.HTMLLen(), b.TextLen(), len(h), len(x))
			}
			var w bytes.Buffer
			if n, err := b.WriteHTML(&w); err != nil || int(n) != len(h) || w.String() != h {
				t.Errorf("WriteHTML = %d, %v, and differs from AppendHTML: %v", n, err, w.String() != h)
			}
			w.Reset()
			if n, err := b.WriteText(&w); err != nil || int(n) != len(x) || w.String() != x {
				t.Errorf("WriteText = %d, %v, and differs from AppendText: %v", n, err, w.String() != x)
			}
		})
	}
}

// TestPersonalizeRunsNoTemplate checks the point of the design: personalising costs
// no allocation for ordinary values, so it cannot be running a template.
func TestPersonalizeRunsNoTemplate(t *testing.T) {
	r := mustRender(t, mustLoad(t, ""), fixtureIssue(30))
	var sink Body
	allocs := testing.AllocsPerRun(100, func() { sink = r.Personalize(fixturePersonal) })
	if allocs != 0 {
		t.Errorf("Personalize allocates %v times per call, want 0", allocs)
	}
	_ = sink
}

// TestHostileContent feeds payloads an attacker could put in a feed or trick an
// editor into queueing, and checks that both parts come out escaped or stripped.
func TestHostileContent(t *testing.T) {
	iss := fixtureIssue(2)
	iss.Subject = "Issue\r\nBcc: victim@example.com"
	iss.Intro = "<script>alert('intro')</script>\r\n\r\nSecond <b>para</b>"
	iss.Sections[0].Name = `</h2><script>alert("section")</script>`
	iss.Sections[0].Items[0] = Item{Kind: "link", Title: `<img src=x onerror=alert(1)>Title`, URL: "javascript:alert(1)",
		Note: "note\r\n\r\n--boundary\r\nContent-Type: text/html\r\n\r\n<script>alert(2)</script>"}
	iss.Sections[1].Items[0] = Item{Kind: "feed", Title: "Feed\r\nitem", URL: `https://example.org/"><script>alert(3)</script>`,
		FeedName: `"><svg onload=alert(4)>`,
		// Excerpts are sanitised before they get here; the text part must still
		// strip any markup that is left, script contents included.
		Excerpt: template.HTML(`<p>Kept <em>text</em></p><script>alert(5)</script><style>p{}</style>`)}
	b := mustRender(t, mustLoad(t, ""), iss).Personalize(fixturePersonal)
	h, x := string(b.AppendHTML(nil)), string(b.AppendText(nil))

	// The excerpt's own markup is the sanitiser's business (see package digest);
	// every other field must come out escaped.
	for _, bad := range []string{"<script>alert('intro')", `<script>alert("section")`, "<script>alert(2)", "<script>alert(3)",
		"<img", "<svg", "javascript:", "onerror=alert(1)>", "</h2><", "<b>para"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML part contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&lt;img src=x onerror=alert(1)&gt;Title", `href="#ZgotmplZ"`} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML part lacks the escaped %q", want)
		}
	}
	if strings.Contains(x, "\r") {
		t.Error("text part contains a carriage return")
	}
	for _, line := range strings.Split(x, "\n") {
		for _, bad := range []string{"Bcc:", "--boundary", "Content-Type:", "item"} {
			if strings.HasPrefix(strings.TrimSpace(line), bad) {
				t.Errorf("text part: a line break in the content started a line %q", line)
			}
		}
	}
	for _, bad := range []string{"alert(5)", "<p>", "<em>", "p{}"} {
		if strings.Contains(x, bad) {
			t.Errorf("text part: the excerpt's markup %q was not stripped", bad)
		}
	}
	if !strings.Contains(x, "Kept text") {
		t.Error("text part lost the excerpt's text")
	}
}

func TestSizeOf30Items(t *testing.T) {
	b := mustRender(t, mustLoad(t, ""), fixtureIssue(30)).Personalize(fixturePersonal)
	const gmailClip = 102 * 1024
	if n := b.HTMLLen(); n >= gmailClip {
		t.Errorf("HTML of a 30-item issue is %d bytes, want under %d (Gmail clips beyond)", n, gmailClip)
	} else {
		t.Logf("HTML of a 30-item issue: %d bytes; text: %d bytes", n, b.TextLen())
	}
}

func TestTextWidth(t *testing.T) {
	iss := fixtureIssue(30)
	iss.Sections[1].Items[0].URL = "https://example.org/" + strings.Repeat("very-long-path-segment/", 6)
	iss.Sections[0].Items[0].Note = strings.Repeat("Supercalifragilistic expialidocious ", 12)
	b := mustRender(t, mustLoad(t, ""), iss).Personalize(fixturePersonal)
	text := string(b.AppendText(nil))
	for i, line := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(line) <= TextWidth {
			continue
		}
		if f := strings.Fields(line); len(f) != 1 || !strings.HasPrefix(f[0], "http") {
			t.Errorf("text line %d is %d columns and not a lone URL: %q", i+1, utf8.RuneCountInString(line), line)
		}
	}
	if !strings.Contains(text, "\n  "+iss.Sections[1].Items[0].URL+"\n") {
		t.Error("a long URL was broken or lost in the text part")
	}
}

// TestSameContentInBothParts checks that the text part says what the HTML says:
// every title, URL and note of the issue appears in both.
func TestSameContentInBothParts(t *testing.T) {
	iss := fixtureIssue(30)
	b := mustRender(t, mustLoad(t, ""), iss).Personalize(fixturePersonal)
	h := string(b.AppendHTML(nil))
	x := strings.Join(strings.Fields(string(b.AppendText(nil))), " ")
	for _, s := range iss.Sections {
		for _, it := range s.Items {
			for _, v := range []string{it.Title, it.URL, it.Note, it.FeedName} {
				if !strings.Contains(x, v) {
					t.Errorf("text part lacks %q", v)
				}
				if !strings.Contains(h, template.HTMLEscapeString(v)) {
					t.Errorf("HTML part lacks %q", v)
				}
			}
		}
	}
}
