package mailer

import (
	"bytes"
	"io"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"
)

func TestBodyPartEncoding(t *testing.T) {
	cases := []struct {
		name, body string
		want       gomail.Encoding
		wantOut    string // what the part writer writes, for 8bit
	}{
		{"ascii LF", "Hello\n\nBye\n", gomail.NoEncoding, "Hello\r\n\r\nBye\r\n"},
		{"ascii CRLF", "Hello\r\nBye", gomail.NoEncoding, "Hello\r\nBye"},
		{"utf-8", "Grüße, Zoë\n", gomail.NoEncoding, "Grüße, Zoë\r\n"},
		{"998 columns", strings.Repeat("a", 998) + "\n", gomail.NoEncoding, strings.Repeat("a", 998) + "\r\n"},
		{"999 columns", strings.Repeat("a", 999), gomail.EncodingQP, ""},
		{"bare CR", "a\rb", gomail.EncodingQP, ""},
		{"trailing CR", "a\r", gomail.EncodingQP, ""},
		{"NUL", "a\x00b", gomail.EncodingQP, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Write in one-byte pieces, so CR LF pairs straddle writes.
			write := func(w io.Writer) (int64, error) {
				var n int64
				for i := range len(tc.body) {
					k, err := w.Write([]byte{tc.body[i]})
					n += int64(k)
					if err != nil {
						return n, err
					}
				}
				return n, nil
			}
			enc, part, err := bodyPart(write, new(bytes.Buffer))
			if err != nil || enc != tc.want {
				t.Fatalf("bodyPart(%q) = %q, %v; want %q", tc.body, enc, err, tc.want)
			}
			if enc != gomail.NoEncoding {
				return
			}
			var buf bytes.Buffer
			n, err := part(&buf)
			if err != nil || buf.String() != tc.wantOut || n != int64(buf.Len()) {
				t.Errorf("8bit part writes %q (n=%d), %v; want %q", buf.String(), n, err, tc.wantOut)
			}
		})
	}
}
