package subscribers

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits on addresses (RFC 5321, in bytes) and on names (in characters).
const (
	MaxEmailLen = 254
	MaxLocalLen = 64
	MaxNameLen  = 100
)

// ValidateEmail returns s without surrounding spaces if it is a bare address that is
// safe to put in a header: net/mail accepts it as it stands (no display name, angle
// brackets, quotes or comments), it holds no line break or control character, its
// domain is a name with a dot, and it keeps to the length limits. Otherwise it returns
// an *InvalidError saying what is wrong.
func ValidateEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalidf("address is empty")
	case !utf8.ValidString(s):
		return "", invalidf("address is not valid UTF-8")
	case strings.ContainsAny(s, "\r\n"):
		return "", invalidf("address contains a line break")
	case strings.IndexFunc(s, isControl) >= 0:
		return "", invalidf("address contains a control character")
	case len(s) > MaxEmailLen:
		return "", invalidf("address is longer than %d bytes", MaxEmailLen)
	case strings.ContainsAny(s, "<>"):
		return "", invalidf("address must be bare, without angle brackets or a display name")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", invalidf("not a valid email address")
	}
	if a.Name != "" || a.Address != s {
		return "", invalidf("address must be bare, without a display name, quotes or comments")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > MaxLocalLen {
		return "", invalidf("the part before the @ is longer than %d bytes", MaxLocalLen)
	}
	if err := checkDomain(domain); err != nil {
		return "", err
	}
	return s, nil
}

func checkDomain(domain string) error {
	if strings.HasPrefix(domain, "[") {
		return invalidf("address needs a domain name, not an IP address")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return invalidf("address needs a domain with a dot")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return invalidf("domain has an empty or over-long part, or one that starts or ends with a hyphen")
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return invalidf("address needs a domain name, not an IP address")
	}
	return nil
}

// ValidateName returns s without surrounding spaces if it can go into a header and a
// page: any Unicode text of at most MaxNameLen characters with no line break or
// control character. An empty name is valid.
func ValidateName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		return "", invalidf("name is not valid UTF-8")
	case strings.ContainsAny(s, "\r\n"):
		return "", invalidf("name contains a line break")
	case strings.IndexFunc(s, isControl) >= 0:
		return "", invalidf("name contains a control character")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return "", invalidf("name is longer than %d characters", MaxNameLen)
	}
	return s, nil
}

// isControl reports control characters, including the Unicode line and paragraph
// separators, which some mail clients also treat as line breaks.
func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}
