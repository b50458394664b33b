package templates

import (
	"fmt"
	"io"
	"runtime"
	"testing"
)

// subscriberCount is the list size the personalisation benchmarks cycle through.
const subscriberCount = 100_000

// subscribers returns n distinct Personal values; one name in fifty needs escaping
// in HTML, as real lists have a few O'Briens.
func subscribers(n int) []Personal {
	ps := make([]Personal, n)
	for i := range ps {
		name := fmt.Sprintf("Subscriber %d", i)
		switch {
		case i%50 == 0:
			name = fmt.Sprintf("Seán O'Brien %d", i)
		case i%10 == 0:
			name = ""
		}
		ps[i] = Personal{Name: name, UnsubscribeURL: fmt.Sprintf("https://weekly.example.com/unsubscribe/%d.Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA", i)}
	}
	return ps
}

// BenchmarkRenderIssue measures the once-per-issue cost: running both email
// templates (twice each, with and without a name) for a 30-item issue.
func BenchmarkRenderIssue(b *testing.B) {
	s := mustLoad(b, "")
	iss := fixtureIssue(30)
	for b.Loop() {
		if _, err := s.RenderIssue(iss); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPersonalize measures the per-subscriber cost for a 30-item issue, one
// message per op, cycling through 100,000 subscribers: Personalize alone, and
// Personalize plus writing both parts (what the mailer does per message).
func BenchmarkPersonalize(b *testing.B) {
	r := mustRender(b, mustLoad(b, ""), fixtureIssue(30))
	ps := subscribers(subscriberCount)
	b.Run("personalize", func(b *testing.B) {
		b.ReportAllocs()
		var sink Body
		i := 0
		for b.Loop() {
			sink = r.Personalize(ps[i%len(ps)])
			i++
		}
		_ = sink
		reportRate(b, i)
	})
	b.Run("personalize+write", func(b *testing.B) {
		b.ReportAllocs()
		var bytes int64
		i := 0
		for b.Loop() {
			body := r.Personalize(ps[i%len(ps)])
			n, _ := body.WriteHTML(io.Discard)
			m, _ := body.WriteText(io.Discard)
			bytes += n + m
			i++
		}
		b.SetBytes(bytes / int64(max(i, 1)))
		reportRate(b, i)
	})
}

// BenchmarkIssueTo100kSubscribers is the whole per-issue job from the issue's data:
// render a 30-item issue once, then personalise and write it for 100,000
// subscribers. One op is the whole list; msgs/s and allocs/msg are per message.
func BenchmarkIssueTo100kSubscribers(b *testing.B) {
	s := mustLoad(b, "")
	iss := fixtureIssue(30)
	ps := subscribers(subscriberCount)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	msgs := 0
	for b.Loop() {
		r, err := s.RenderIssue(iss)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			body := r.Personalize(p)
			body.WriteHTML(io.Discard)
			body.WriteText(io.Discard)
		}
		msgs += len(ps)
	}
	runtime.ReadMemStats(&after)
	reportRate(b, msgs)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(msgs), "allocs/msg")
}

func reportRate(b *testing.B, msgs int) {
	if e := b.Elapsed(); e > 0 {
		b.ReportMetric(float64(msgs)/e.Seconds(), "msgs/s")
	}
}
