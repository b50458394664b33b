package templates

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// overrideDir writes files (relative name to contents) into a new folder.
func overrideDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverrideFileByFile(t *testing.T) {
	dir := overrideDir(t, map[string]string{
		"email/issue.txt.tmpl": "Custom #{{.Number}} {{.Name}}\nLeave: {{.UnsubscribeURL}}\n",
		"web/style.css":        "body{color:red}",
		"README.md":            "notes about these overrides are fine",
	})
	s := mustLoad(t, dir)
	b := mustRender(t, s, fixtureIssue(3)).Personalize(fixturePersonal)
	if got, want := string(b.AppendText(nil)), "Custom #42 Ada Lovelace\nLeave: "+fixturePersonal.UnsubscribeURL+"\n"; got != want {
		t.Errorf("overridden text part = %q, want %q", got, want)
	}
	if !strings.Contains(string(b.AppendHTML(nil)), "<table") {
		t.Error("HTML part is not the embedded default although only the text part was overridden")
	}
	if got := string(s.Stylesheet()); got != "body{color:red}" {
		t.Errorf("Stylesheet() = %q, want the override", got)
	}
}

func TestBrokenOverrideFailsAtLoad(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error
	}{
		{"parse error", map[string]string{"email/issue.html.tmpl": "<p>\n{{.Subject}\n</p>"}, "issue.html.tmpl:2"},
		{"unknown field", map[string]string{"email/issue.txt.tmpl": "{{.UnsubscribeURL}}\n\n{{.Nope}}"}, "issue.txt.tmpl:3"},
		{"unknown function", map[string]string{"web/archive.html.tmpl": `{{define "content"}}` + "\n{{shout .ListName}}{{end}}"}, "archive.html.tmpl:2"},
		{"html context", map[string]string{"web/signup.html.tmpl": `{{define "content"}}<a href="{{.Action}}>{{end}}`}, "signup.html.tmpl"},
		{"no unsubscribe link", map[string]string{"email/issue.html.tmpl": "<p>{{.Subject}}</p>"}, "never prints {{.UnsubscribeURL}}"},
		{"no confirm link", map[string]string{"email/confirm.txt.tmpl": "Hello"}, "never prints {{.ConfirmURL}}"},
		{"misspelt name", map[string]string{"email/isue.html.tmpl": "x"}, "isue.html.tmpl is not a template name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := overrideDir(t, tt.files)
			_, err := Load(dir)
			if err == nil {
				t.Fatalf("Load(%v) = nil, want an error containing %q", tt.files, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%v) = %q, want it to contain %q", tt.files, err, tt.want)
			}
			if tt.want != "never prints {{.UnsubscribeURL}}" && tt.want != "never prints {{.ConfirmURL}}" && !strings.Contains(err.Error(), dir) {
				t.Errorf("Load(%v) = %q, want it to name the file under %s", tt.files, err, dir)
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("Load(missing folder) = nil, want an error")
	}
}

func TestPages(t *testing.T) {
	s := mustLoad(t, "")
	hostile := `<script>alert(1)</script>`
	site := Site{ListName: "Backend " + hostile, HomeURL: "https://weekly.example.com"}
	pages := map[string]any{
		PageArchive:      ArchivePage{Site: site, Issues: []ArchiveEntry{{Number: 1, Subject: hostile, URL: "javascript:alert(1)"}}},
		PageArchiveIssue: ArchiveIssuePage{Site: site, Issue: fixtureIssue(3)},
		PageUnsubscribe:  UnsubscribePage{Site: site, MaskedEmail: hostile, Action: "https://weekly.example.com/unsubscribe/t"},
		PageUnsubscribed: UnsubscribedPage{Site: site, MaskedEmail: hostile, SignupURL: "https://weekly.example.com/subscribe"},
		PageSignup:       SignupPage{Site: site, Action: "/subscribe", Email: `"><script>`, Error: hostile, Hidden: []Field{{"csrf", `"><script>`}}},
		PageSignupSent:   SignupSentPage{Site: site, MaskedEmail: hostile},
		PageConfirm:      ConfirmPage{Site: site, MaskedEmail: hostile, Action: "https://weekly.example.com/confirm/t"},
		PageConfirmed:    ConfirmedPage{Site: site, MaskedEmail: hostile},
		PageError:        ErrorPage{Site: site, Title: hostile, Message: hostile},
		PageNotFound:     ErrorPage{Site: site, Title: hostile, Message: hostile},
	}
	if len(pages) != len(pageSamples) {
		t.Fatalf("test covers %d pages, the package has %d", len(pages), len(pageSamples))
	}
	for name, data := range pages {
		t.Run(name, func(t *testing.T) {
			var w bytes.Buffer
			if err := s.Page(&w, name, data); err != nil {
				t.Fatalf("Page(%s) = %v", name, err)
			}
			h := w.String()
			for _, bad := range []string{"<script", "javascript:", " style=", "<style"} {
				if strings.Contains(h, bad) {
					t.Errorf("Page(%s) contains %q", name, bad)
				}
			}
			for _, want := range []string{"<!DOCTYPE html>", `<html lang="en">`, `href="https://weekly.example.com/style.css"`, "<main>", "<h1>"} {
				if !strings.Contains(h, want) {
					t.Errorf("Page(%s) lacks %q", name, want)
				}
			}
			if strings.Contains(h, "<form") && !strings.Contains(h, `method="post"`) {
				t.Errorf("Page(%s) has a form that does not POST", name)
			}
		})
	}
	if err := s.Page(&bytes.Buffer{}, "nope", nil); !errors.Is(err, ErrUnknownPage) {
		t.Errorf("Page(nope) = %v, want ErrUnknownPage", err)
	}
	var w bytes.Buffer
	if err := s.Page(&w, PageError, struct{}{}); err == nil || w.Len() != 0 {
		t.Errorf("Page(error, wrong data) = %v after writing %d bytes, want an error and nothing written", err, w.Len())
	}
}
