package digest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/backendweekly/weekly/mailer"
)

func TestSafeErrorHidesAddresses(t *testing.T) {
	cases := []error{
		&mailer.Error{Code: 550, Permanent: true, Recipient: true, Reply: "550 5.1.1 <ann.lee+news@example.com>: Recipient address rejected: User unknown"},
		fmt.Errorf("send to bob@example.org: %w", errors.New("connection reset")),
		errors.New("RCPT TO:<zoë@bücher.de> refused"),
	}
	for _, err := range cases {
		got := safeError(err)
		if strings.Contains(got, "@") {
			t.Errorf("safeError(%q) = %q, still holds an address", err, got)
		}
		if !strings.Contains(got, "<address>") {
			t.Errorf("safeError(%q) = %q, want the address marked as redacted", err, got)
		}
	}
	if got := safeError(errors.New("dial tcp 127.0.0.1:25: connection refused")); got != "dial tcp 127.0.0.1:25: connection refused" {
		t.Errorf("safeError changed an error with no address: %q", got)
	}
}
