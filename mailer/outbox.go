package mailer

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// writeOutbox writes gm to Outbox/key.eml through a temporary file and a rename, so a
// reader never sees half a message and a repeated send replaces the file.
func (m *Mailer) writeOutbox(key string, gm *gomail.Msg) (string, error) {
	if key == "" || path.Clean(key) != key || path.IsAbs(key) || strings.HasPrefix(key, "..") ||
		strings.ContainsAny(key, "\\\x00") {
		return "", &Error{Permanent: true, Err: fmt.Errorf("%w: outbox key %q: want a clean relative path", ErrInvalidMessage, key)}
	}
	dst := filepath.Join(m.cfg.Outbox, filepath.FromSlash(key)+".eml")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: outbox: %w", err)}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*.eml")
	if err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: outbox: %w", err)}
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := gm.WriteTo(tmp); err != nil {
		tmp.Close()
		return "", &Error{Err: fmt.Errorf("mailer: outbox: write %s: %w", dst, err)}
	}
	if err := tmp.Close(); err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: outbox: write %s: %w", dst, err)}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", &Error{Err: fmt.Errorf("mailer: outbox: %w", err)}
	}
	return "written " + dst, nil
}
