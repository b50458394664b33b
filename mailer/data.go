package mailer

import (
	"bufio"
	"bytes"
)

// dataWriter writes a message as the DATA of an SMTP transaction (RFC 5321 4.5.2):
// a dot at the start of a line is doubled, bare LF becomes CRLF, and close ends the
// data with CRLF.CRLF. It works a line at a time, where net/textproto's writer works a
// byte at a time.
type dataWriter struct {
	w      *bufio.Writer
	bol    bool // at the beginning of a line
	lastCR bool // the last byte written was CR
	some   bool // anything was written
}

func (d *dataWriter) Write(p []byte) (int, error) {
	n := len(p)
	d.some = d.some || n > 0
	start := 0 // the first byte not yet passed on: runs of plain lines go out whole
	for i := 0; i < len(p); {
		if d.bol && p[i] == '.' {
			d.w.Write(p[start:i])
			d.w.WriteByte('.')
			start = i
		}
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			d.bol, d.lastCR = false, p[len(p)-1] == '\r'
			break
		}
		k := i + j
		if !((k > 0 && p[k-1] == '\r') || (k == 0 && d.lastCR)) {
			d.w.Write(p[start:k])
			d.w.WriteString("\r\n")
			start = k + 1
		}
		d.bol, d.lastCR = true, false
		i = k + 1
	}
	if _, err := d.w.Write(p[start:]); err != nil {
		return 0, err
	}
	return n, nil
}

// close ends the data and sends it.
func (d *dataWriter) close() error {
	if !d.bol || !d.some {
		d.w.WriteString("\r\n")
	}
	d.w.WriteString(".\r\n")
	return d.w.Flush()
}
