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
	for len(p) > 0 {
		if d.bol && p[0] == '.' {
			d.w.WriteByte('.')
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.w.Write(p)
			d.bol, d.lastCR = false, p[len(p)-1] == '\r'
			break
		}
		cr := (i > 0 && p[i-1] == '\r') || (i == 0 && d.lastCR)
		d.w.Write(p[:i])
		if !cr {
			d.w.WriteByte('\r')
		}
		if err := d.w.WriteByte('\n'); err != nil {
			return 0, err
		}
		d.bol, d.lastCR = true, false
		p = p[i+1:]
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
