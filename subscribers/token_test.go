package subscribers

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func testTokens(t *testing.T, previous ...[]byte) *Tokens {
	t.Helper()
	tk, err := NewTokens(bytes.Repeat([]byte{7}, SecretSize), previous...)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestUnsubscribeTokenRoundTrip(t *testing.T) {
	tk := testTokens(t)
	for _, c := range []struct{ sub, issue int64 }{{1, 0}, {1, 1}, {42, 7}, {1 << 40, 1 << 20}} {
		tok := tk.Unsubscribe(c.sub, c.issue)
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("Unsubscribe(%d, %d) = %q, not URL-safe", c.sub, c.issue, tok)
		}
		sub, issue, err := tk.ParseUnsubscribe(tok)
		if err != nil || sub != c.sub || issue != c.issue {
			t.Errorf("ParseUnsubscribe(Unsubscribe(%d, %d)) = %d, %d, %v", c.sub, c.issue, sub, issue, err)
		}
	}
}

func TestBadTokens(t *testing.T) {
	tk := testTokens(t)
	good := tk.Unsubscribe(5, 3)
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	tampered := bytes.Clone(raw)
	tampered[3]++ // the issue number
	other, _ := NewTokens(bytes.Repeat([]byte{9}, SecretSize))
	cases := map[string]string{
		"empty":           "",
		"too long":        strings.Repeat("A", MaxTokenLen+1),
		"not base64":      "!!!!",
		"truncated":       good[:len(good)-2],
		"tampered issue":  base64.RawURLEncoding.EncodeToString(tampered),
		"other secret":    other.Unsubscribe(5, 3),
		"confirm purpose": tk.Confirm(5, time.Now().Add(time.Hour)),
		"padded":          good + "==",
	}
	for name, tok := range cases {
		if _, _, err := tk.ParseUnsubscribe(tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: ParseUnsubscribe(%q) error = %v, want ErrBadToken", name, tok, err)
		}
	}
}

func TestRotatedSecretStillVerifies(t *testing.T) {
	old := testTokens(t)
	tok := old.Unsubscribe(11, 2)
	rotated, err := NewTokens(bytes.Repeat([]byte{8}, SecretSize), bytes.Repeat([]byte{7}, SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	if sub, issue, err := rotated.ParseUnsubscribe(tok); err != nil || sub != 11 || issue != 2 {
		t.Errorf("rotated ParseUnsubscribe = %d, %d, %v; want 11, 2, nil", sub, issue, err)
	}
	if rotated.Unsubscribe(11, 2) == tok {
		t.Error("rotated signer still signs with the old secret")
	}
}

func TestConfirmTokenExpires(t *testing.T) {
	tk := testTokens(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tok := tk.Confirm(9, now.Add(7*24*time.Hour))
	if id, err := tk.ParseConfirm(tok, now); err != nil || id != 9 {
		t.Errorf("ParseConfirm before expiry = %d, %v; want 9, nil", id, err)
	}
	if _, err := tk.ParseConfirm(tok, now.Add(8*24*time.Hour)); !errors.Is(err, ErrBadToken) {
		t.Errorf("ParseConfirm after expiry error = %v, want ErrBadToken", err)
	}
	if _, _, err := tk.ParseUnsubscribe(tok); !errors.Is(err, ErrBadToken) {
		t.Errorf("confirm token accepted as unsubscribe: %v", err)
	}
}

func FuzzParseUnsubscribe(f *testing.F) {
	tk, _ := NewTokens(bytes.Repeat([]byte{7}, SecretSize))
	f.Add(tk.Unsubscribe(1, 1))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		sub, issue, err := tk.ParseUnsubscribe(tok)
		if err != nil {
			return
		}
		// Anything accepted must be exactly what we would have signed.
		if tk.Unsubscribe(sub, issue) != tok {
			t.Fatalf("accepted %q, which re-signs as %q", tok, tk.Unsubscribe(sub, issue))
		}
	})
}
