package subscribers

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateEmailGood(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	total254 := local64 + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	tests := []struct{ in, want string }{
		{"ann@example.com", "ann@example.com"},
		{"  ann@example.com\t", "ann@example.com"},
		{"Ann.Lee+news@mail.example.co.uk", "Ann.Lee+news@mail.example.co.uk"},
		{"o'brien@example.ie", "o'brien@example.ie"},
		{"ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example"},
		{"zoë@bücher.de", "zoë@bücher.de"},
		{"a@b.io", "a@b.io"},
		{"x_y-z@sub-domain.example.com", "x_y-z@sub-domain.example.com"},
		{local64 + "@example.com", local64 + "@example.com"},
		{total254, total254},
	}
	for _, tt := range tests {
		got, err := ValidateEmail(tt.in)
		if got != tt.want || err != nil {
			t.Errorf("ValidateEmail(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
	if len(total254) != 254 {
		t.Fatalf("test address is %d bytes, want 254", len(total254))
	}
}

func TestValidateEmailBad(t *testing.T) {
	tests := []struct{ name, in, reason string }{
		{"empty", "", "address is empty"},
		{"spaces", "   ", "address is empty"},
		{"no domain dot", "bob@localhost", "address needs a domain with a dot"},
		{"display name", "Ann Lee <ann@example.com>", "without angle brackets"},
		{"angle brackets", "<ann@example.com>", "without angle brackets"},
		{"CRLF header injection", "ann@example.com\r\nBcc: all@example.com", "line break"},
		{"LF injection", "ann@example.com\nBcc: all@example.com", "line break"},
		{"CR alone", "ann@exa\rmple.com", "line break"},
		{"NUL", "ann@exa\x00mple.com", "control character"},
		{"tab inside", "ann\t@example.com", "control character"},
		{"line separator", "ann\u2028x@example.com", "control character"},
		{"comment", "ann@example.com (Ann)", "without a display name, quotes or comments"},
		{"quoted local part", `"ann lee"@example.com`, "without a display name, quotes or comments"},
		{"IP literal", "ann@[192.0.2.1]", "not an IP address"},
		{"bare IP", "ann@192.0.2.1", "not an IP address"},
		{"two ats", "ann@@example.com", "not a valid email address"},
		{"no at", "ann.example.com", "not a valid email address"},
		{"double dot", "ann@example..com", "not a valid email address"},
		{"trailing dot", "ann@example.com.", "not a valid email address"},
		{"two addresses", "ann@example.com,bob@example.com", "not a valid email address"},
		{"space inside", "ann lee@example.com", "not a valid email address"},
		{"hyphen label", "ann@-example.com", "starts or ends with a hyphen"},
		{"long label", "ann@" + strings.Repeat("x", 64) + ".com", "over-long"},
		{"local part too long", strings.Repeat("a", 65) + "@example.com", "longer than 64 bytes"},
		{"too long", strings.Repeat("a", 60) + "@" + strings.Repeat("b.", 97) + "com", "longer than 254 bytes"},
		{"bad UTF-8", "\xff@example.com", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateEmail(tt.in)
			var ie *InvalidError
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) || !strings.Contains(ie.Reason, tt.reason) {
				t.Fatalf("ValidateEmail(%q) = %q, %v, want an ErrInvalid saying %q", tt.in, got, err, tt.reason)
			}
			if got != "" {
				t.Errorf("ValidateEmail(%q) = %q with an error, want \"\"", tt.in, got)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	good := []struct{ in, want string }{
		{"", ""},
		{"Ann", "Ann"},
		{"  Zoë Ångström ", "Zoë Ångström"},
		{"李小龍", "李小龍"},
		{"محمد بن سلمان", "محمد بن سلمان"},
		{"Renée O'Brien-Smith, PhD", "Renée O'Brien-Smith, PhD"},
		{"👩‍💻 Dev", "👩‍💻 Dev"}, // a zero-width joiner is not a control character
		{strings.Repeat("é", MaxNameLen), strings.Repeat("é", MaxNameLen)},
	}
	for _, tt := range good {
		if got, err := ValidateName(tt.in); got != tt.want || err != nil {
			t.Errorf("ValidateName(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, reason string }{
		{"Ann\r\nBcc: all@example.com", "line break"},
		{"Ann\nLee", "line break"},
		{"Ann\rLee", "line break"},
		{"Ann\x00", "control character"},
		{"Ann\tLee", "control character"},
		{"Ann\x1b[31mLee", "control character"},
		{"Ann\u0085Lee", "control character"},
		{"Ann\u2029Lee", "control character"},
		{"\xffAnn", "not valid UTF-8"},
		{strings.Repeat("é", MaxNameLen+1), "longer than 100 characters"},
	}
	for _, tt := range bad {
		got, err := ValidateName(tt.in)
		var ie *InvalidError
		if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) || !strings.Contains(ie.Reason, tt.reason) {
			t.Errorf("ValidateName(%q) = %q, %v, want an ErrInvalid saying %q", tt.in, got, err, tt.reason)
		}
	}
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", "bob@localhost", "Ann <ann@example.com>", "a@b.c\r\nBcc: x@y.z",
		`"q"@example.com`, "ann@[1.2.3.4]", "zoë@bücher.de", "a@b.c (c)", "=?utf-8?q?x?=@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ValidateEmail(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || got != "" {
				t.Fatalf("ValidateEmail(%q) = %q, %v, want \"\" and an ErrInvalid", in, got, err)
			}
			return
		}
		if strings.IndexFunc(got, isControl) >= 0 || !utf8.ValidString(got) || len(got) > MaxEmailLen {
			t.Fatalf("ValidateEmail(%q) = %q, which has a control character, bad UTF-8 or is too long", in, got)
		}
		a, err := mail.ParseAddress(got)
		if err != nil || a.Name != "" || a.Address != got {
			t.Fatalf("ValidateEmail(%q) = %q, which net/mail reads as %v, %v", in, got, a, err)
		}
		at := strings.LastIndexByte(got, '@')
		if at > MaxLocalLen || !strings.Contains(got[at:], ".") {
			t.Fatalf("ValidateEmail(%q) = %q: local part too long or domain without a dot", in, got)
		}
		if again, err := ValidateEmail(got); again != got || err != nil {
			t.Fatalf("ValidateEmail(%q) = %q, %v, want it unchanged", got, again, err)
		}
	})
}
