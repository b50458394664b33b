package main

import (
	"io"
	"sync/atomic"

	"github.com/backendweekly/weekly/templates"
)

// liveTemplates is the template set the web server and the daemon render with.
// SIGHUP swaps in a freshly loaded set; what starts after the swap uses it, what is
// under way finishes with the set it began with.
type liveTemplates struct {
	dir string
	cur atomic.Pointer[templates.Set]
}

func loadLiveTemplates(dir string) (*liveTemplates, error) {
	lt := &liveTemplates{dir: dir}
	if err := lt.reload(); err != nil {
		return nil, err
	}
	return lt, nil
}

// reload loads the templates again; on error the current set stays.
func (lt *liveTemplates) reload() error {
	set, err := templates.Load(lt.dir)
	if err != nil {
		return err
	}
	lt.cur.Store(set)
	return nil
}

func (lt *liveTemplates) set() *templates.Set { return lt.cur.Load() }

// Page and Stylesheet make liveTemplates the web server's web.Pages.
func (lt *liveTemplates) Page(w io.Writer, name string, data any) error {
	return lt.set().Page(w, name, data)
}

func (lt *liveTemplates) Stylesheet() []byte { return lt.set().Stylesheet() }
