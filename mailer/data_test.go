package mailer

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// TestDataWriterMatchesTextproto checks dataWriter against net/textproto's own
// dot-stuffing writer, writing in pieces that split lines, CRLFs and dots.
func TestDataWriterMatchesTextproto(t *testing.T) {
	cases := []string{
		"",
		"Subject: x\r\n\r\nbody\r\n",
		".starts with a dot\r\n..two\r\n.\r\nend",
		"bare\nline feeds\n.dot after LF\n",
		"CR at a piece end\r\n.dot\r\n",
		"no newline at the end",
		"\r\n.\r\n.\r\n",
	}
	for _, in := range cases {
		var want bytes.Buffer
		tw := textproto.NewWriter(bufio.NewWriter(&want)).DotWriter()
		tw.Write([]byte(in))
		tw.Close()
		for _, piece := range []int{1, 2, 3, 1 << 20} {
			var got bytes.Buffer
			bw := bufio.NewWriter(&got)
			d := &dataWriter{w: bw, bol: true}
			for rest := []byte(in); len(rest) > 0; {
				k := min(piece, len(rest))
				if n, err := d.Write(rest[:k]); n != k || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, k)
				}
				rest = rest[k:]
			}
			if err := d.close(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("dataWriter(%q) in pieces of %d = %q, want %q", in, piece, got.String(), want.String())
			}
		}
	}
}
