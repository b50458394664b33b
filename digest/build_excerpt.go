package digest

import (
	"html"
	"strings"

	"github.com/microcosm-cc/bluemonday"
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
	text := html.UnescapeString(bluemonday.StrictPolicy().AddSpaceWhenStrippingTag(true).Sanitize(summaryHTML))
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return ' '
		}
		return r
	}, text)
	return html.EscapeString(truncate(oneLine(text), maxExcerpt))
}
