package mailer

import (
	"errors"
	"net/textproto"
	"strings"
	"testing"
)

func TestErrorTextHidesAddresses(t *testing.T) {
	err := replyError("RCPT TO", &textproto.Error{Code: 550, Msg: "5.1.1 <ann@example.com>: Recipient address rejected"}, true)
	if strings.Contains(err.Error(), "@") {
		t.Errorf("Error() = %q, holds an address", err.Error())
	}
	if !strings.Contains(err.Reply, "ann@example.com") {
		t.Errorf("Reply = %q, want the server's words kept for the ledger", err.Reply)
	}
	var wrapped error = &Error{Err: errors.New("send to bob@example.org failed")}
	if got := wrapped.Error(); got != "send to <address> failed" {
		t.Errorf("Error() = %q, want %q", got, "send to <address> failed")
	}
}
