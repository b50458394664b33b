// Package templates renders Backend Weekly's emails and web pages.
//
// The default templates are embedded in the binary. A folder given to Load may
// override any of them, file by file, using the same relative names (for example
// DIR/email/issue.html.tmpl). HTML goes through html/template, so everything is
// escaped except feed excerpts, which are sanitised before they reach this package;
// the text email goes through text/template.
//
// An issue is rendered once (Set.RenderIssue). Personalising it for one subscriber
// (Rendered.Personalize) splices the subscriber's name and unsubscribe link between
// pre-split static segments of that rendering, without running a template again.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	texttemplate "text/template"
)

//go:embed email web
var defaults embed.FS

// The email templates, by their relative file names.
const (
	fileIssueHTML   = "email/issue.html.tmpl"
	fileIssueText   = "email/issue.txt.tmpl"
	fileConfirmHTML = "email/confirm.html.tmpl"
	fileConfirmText = "email/confirm.txt.tmpl"
	fileLayout      = "web/layout.html.tmpl"
	fileStylesheet  = "web/style.css"
)

// Names of the web pages, for Set.Page. Each is rendered from web/NAME.html.tmpl
// inside web/layout.html.tmpl, and takes the data type named beside it.
const (
	PageArchive      = "archive"       // ArchivePage
	PageArchiveIssue = "archive-issue" // ArchiveIssuePage
	PageUnsubscribe  = "unsubscribe"   // UnsubscribePage
	PageUnsubscribed = "unsubscribed"  // UnsubscribedPage
	PageSignup       = "signup"        // SignupPage
	PageSignupSent   = "signup-sent"   // SignupSentPage
	PageConfirm      = "confirm"       // ConfirmPage
	PageConfirmed    = "confirmed"     // ConfirmedPage
	PageError        = "error"         // ErrorPage
	PageNotFound     = "not-found"     // ErrorPage
)

// ErrUnknownPage is returned by Set.Page for a name that is not one of the Page
// constants.
var ErrUnknownPage = errors.New("templates: unknown page")

// Set holds the parsed templates. It is safe for concurrent use.
type Set struct {
	issueHTML   *htmltemplate.Template
	issueText   *texttemplate.Template
	confirmHTML *htmltemplate.Template
	confirmText *texttemplate.Template
	pages       map[string]*htmltemplate.Template
	pageFiles   map[string]string // page name to the file it came from, for errors
	stylesheet  []byte
}

// Load parses the embedded templates, each replaced by the file of the same name
// under overrideDir if there is one ("" means embedded only). It then runs every
// template once on sample data, so a broken override fails here, naming the file
// and line, rather than when an issue is sent.
func Load(overrideDir string) (*Set, error) {
	src, err := sources(overrideDir)
	if err != nil {
		return nil, err
	}
	s := &Set{
		pages:      make(map[string]*htmltemplate.Template),
		pageFiles:  make(map[string]string),
		stylesheet: src[fileStylesheet].body,
	}
	if s.issueHTML, err = parseHTML(src[fileIssueHTML]); err != nil {
		return nil, err
	}
	if s.issueText, err = parseText(src[fileIssueText]); err != nil {
		return nil, err
	}
	if s.confirmHTML, err = parseHTML(src[fileConfirmHTML]); err != nil {
		return nil, err
	}
	if s.confirmText, err = parseText(src[fileConfirmText]); err != nil {
		return nil, err
	}
	layout, err := parseHTML(src[fileLayout])
	if err != nil {
		return nil, err
	}
	for name := range pageSamples {
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		f := src[pageFile(name)]
		if _, err := t.New(f.name).Parse(string(f.body)); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		s.pages[name] = t
		s.pageFiles[name] = f.name
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// source is one template file: its name as errors show it (the relative name for an
// embedded file, the path for an override) and its contents.
type source struct {
	name string
	body []byte
}

// sources reads every embedded template, replacing each with its override if
// overrideDir has one. A .tmpl file in overrideDir that matches no template is an
// error: a misspelt override would otherwise be ignored without a word.
func sources(overrideDir string) (map[string]source, error) {
	src := make(map[string]source)
	err := fs.WalkDir(defaults, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := defaults.ReadFile(p)
		src[p] = source{name: p, body: b}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("templates: read embedded: %w", err)
	}
	if overrideDir == "" {
		return src, nil
	}
	root := os.DirFS(overrideDir)
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := src[p]; !ok {
			if strings.HasSuffix(p, ".tmpl") {
				return fmt.Errorf("%s is not a template name this version knows (known: %s)",
					filepath.Join(overrideDir, p), strings.Join(knownNames(src), ", "))
			}
			return nil
		}
		b, err := fs.ReadFile(root, p)
		src[p] = source{name: filepath.Join(overrideDir, filepath.FromSlash(p)), body: b}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("templates: overrides in %s: %w", overrideDir, err)
	}
	return src, nil
}

func knownNames(src map[string]source) []string {
	names := make([]string, 0, len(src))
	for n := range src {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func pageFile(name string) string { return "web/" + name + ".html.tmpl" }

func parseHTML(f source) (*htmltemplate.Template, error) {
	t, err := htmltemplate.New(f.name).Funcs(htmlFuncs).Parse(string(f.body))
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return t, nil
}

func parseText(f source) (*texttemplate.Template, error) {
	t, err := texttemplate.New(f.name).Funcs(textFuncs).Parse(string(f.body))
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return t, nil
}

// Page renders the web page name (one of the Page constants) with data, whose type
// is the one named beside the constant. Nothing is written to w if the template
// fails.
func (s *Set) Page(w io.Writer, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPage, name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("templates: page %s (%s): %w", name, s.pageFiles[name], err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// Stylesheet returns the CSS the web pages link to at HomeURL + "/style.css"
// (web/style.css, overridable like the templates). Serving it as a file lets the
// web server send a Content-Security-Policy with style-src 'self' and no inline
// styles or scripts.
func (s *Set) Stylesheet() []byte { return s.stylesheet }

// RenderConfirmation renders the double opt-in email. It is sent once per sign-up,
// so it is not split for personalisation.
func (s *Set) RenderConfirmation(c Confirmation) (Body, error) {
	var h, t bytes.Buffer
	if err := s.confirmHTML.Execute(&h, c); err != nil {
		return Body{}, fmt.Errorf("templates: confirmation: %w", err)
	}
	if err := s.confirmText.Execute(&t, c); err != nil {
		return Body{}, fmt.Errorf("templates: confirmation: %w", err)
	}
	return Body{
		html: &split{parts: []part{{static: h.Bytes()}}, size: h.Len()},
		text: &split{parts: []part{{static: t.Bytes()}}, size: t.Len()},
	}, nil
}
