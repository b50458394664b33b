package subscribers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrBadToken is returned for any token that is malformed, truncated, forged, signed
// for another purpose, or expired. Callers must not reveal which.
var ErrBadToken = errors.New("subscribers: invalid token")

// Token purposes: a token made for one is never accepted for another.
const (
	purposeUnsubscribe byte = 'u'
	purposeConfirm     byte = 'c'
)

const (
	tokenVersion = 1
	macSize      = 16 // 128 bits of HMAC-SHA256
	// MaxTokenLen bounds what is worth decoding: version, purpose, three uvarints, MAC.
	MaxTokenLen = 64
)

// SecretSize is the length of a signing secret in bytes.
const SecretSize = 32

// NewSecret returns a fresh random signing secret.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("subscribers: new secret: %w", err)
	}
	return s, nil
}

// Tokens signs and verifies the tokens in unsubscribe and confirmation links: an
// HMAC-SHA256 over (purpose, subscriber, issue or expiry), URL-safe, with no raw IDs
// an outsider could change. Tokens signed with a previous secret still verify, so a
// rotated secret does not break links in old emails.
type Tokens struct {
	keys [][]byte // keys[0] signs; all verify
}

// NewTokens returns a signer that signs with current and also accepts tokens signed
// with any of previous.
func NewTokens(current []byte, previous ...[]byte) (*Tokens, error) {
	if len(current) < 16 {
		return nil, errors.New("subscribers: signing secret shorter than 16 bytes")
	}
	keys := [][]byte{current}
	for _, p := range previous {
		if len(p) > 0 {
			keys = append(keys, p)
		}
	}
	return &Tokens{keys: keys}, nil
}

// Unsubscribe returns the token for subscriber's unsubscribe link in issue (0 when the
// link is not from an issue, such as a confirmation email).
func (t *Tokens) Unsubscribe(subscriberID, issueID int64) string {
	return t.sign(purposeUnsubscribe, subscriberID, issueID)
}

// ParseUnsubscribe verifies an unsubscribe token and returns what it binds.
func (t *Tokens) ParseUnsubscribe(token string) (subscriberID, issueID int64, err error) {
	return t.verify(purposeUnsubscribe, token)
}

// Confirm returns the token for a double opt-in link that expires at expires.
func (t *Tokens) Confirm(subscriberID int64, expires time.Time) string {
	return t.sign(purposeConfirm, subscriberID, expires.Unix())
}

// ParseConfirm verifies a confirmation token and returns its subscriber, or
// ErrBadToken if it is invalid or has expired at now.
func (t *Tokens) ParseConfirm(token string, now time.Time) (subscriberID int64, err error) {
	id, expires, err := t.verify(purposeConfirm, token)
	if err != nil {
		return 0, err
	}
	if now.Unix() >= expires {
		return 0, ErrBadToken
	}
	return id, nil
}

func (t *Tokens) sign(purpose byte, a, b int64) string {
	buf := make([]byte, 0, 2+2*binary.MaxVarintLen64+macSize)
	buf = append(buf, tokenVersion, purpose)
	buf = binary.AppendUvarint(buf, uint64(a))
	buf = binary.AppendUvarint(buf, uint64(b))
	buf = append(buf, mac(t.keys[0], buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (t *Tokens) verify(purpose byte, token string) (a, b int64, err error) {
	if len(token) == 0 || len(token) > MaxTokenLen {
		return 0, 0, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 2+2+macSize {
		return 0, 0, ErrBadToken
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	ok := false
	for _, k := range t.keys {
		// Check every key, so timing says nothing about which one matched.
		if hmac.Equal(mac(k, body), sum) {
			ok = true
		}
	}
	if !ok || body[0] != tokenVersion || body[1] != purpose {
		return 0, 0, ErrBadToken
	}
	rest := body[2:]
	ua, n := binary.Uvarint(rest)
	if n <= 0 {
		return 0, 0, ErrBadToken
	}
	rest = rest[n:]
	ub, n := binary.Uvarint(rest)
	if n <= 0 || n != len(rest) || ua > 1<<62 || ub > 1<<62 {
		return 0, 0, ErrBadToken
	}
	return int64(ua), int64(ub), nil
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)[:macSize]
}
