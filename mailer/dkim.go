package mailer

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"
)

// signedHeaders are the header fields the DKIM signature covers: the ones a reader
// trusts, and the RFC 8058 pair, which RFC 8058 section 4 requires to be signed.
var signedHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "List-Id",
	"List-Unsubscribe", "List-Unsubscribe-Post",
}

// dkimSigner signs finished messages with go-msgauth. go-mail's own signer folds the
// DKIM-Signature header in the middle of the h= list once it grows past about 70
// characters, which breaks the signature (see DESIGN.md).
type dkimSigner struct {
	opts dkim.SignOptions
}

func newDKIMSigner(domain, selector string, key crypto.Signer) (*dkimSigner, error) {
	if domain == "" || selector == "" || key == nil {
		return nil, errors.New("mailer: DKIM needs a domain, a selector and a key")
	}
	switch key.Public().(type) {
	case *rsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("mailer: DKIM key of type %T: want RSA or Ed25519", key.Public())
	}
	return &dkimSigner{opts: dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             signedHeaders,
	}}, nil
}

// sign renders gm into the signer (nothing is buffered but the hashes) and adds the
// resulting DKIM-Signature to gm. go-mail renders a message the same way every time
// (fixed Date and Message-ID, the multipart boundary kept from the first rendering),
// so the bytes sent later are the bytes signed here.
func (d *dkimSigner) sign(gm *gomail.Msg) error {
	opts := d.opts
	s, err := dkim.NewSigner(&opts)
	if err != nil {
		return fmt.Errorf("mailer: dkim: %w", err)
	}
	if _, err := gm.WriteTo(s); err != nil {
		s.Close()
		return fmt.Errorf("mailer: dkim: render: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("mailer: dkim: sign: %w", err)
	}
	sig := strings.TrimSuffix(s.Signature(), "\r\n")
	name, value, ok := strings.Cut(sig, ": ")
	if !ok {
		return fmt.Errorf("mailer: dkim: unexpected signature %.40q", sig)
	}
	gm.SetGenHeaderPreformatted(gomail.Header(name), value)
	return nil
}

// LoadDKIMKey reads an RSA or Ed25519 private key from a PEM file (PKCS#1 or PKCS#8).
func LoadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mailer: dkim key: %w", err)
	}
	return ParseDKIMKey(b)
}

// ParseDKIMKey parses an RSA or Ed25519 private key in PEM (PKCS#1 or PKCS#8).
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("mailer: dkim key: no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("mailer: dkim key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("mailer: dkim key of type %T: not a signing key", k)
	}
	return s, nil
}
