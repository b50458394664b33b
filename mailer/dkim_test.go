package mailer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/backendweekly/weekly/mailer"
	"github.com/backendweekly/weekly/mailer/smtptest"
)

// dkimRecord is the DNS TXT record that publishes key's public half.
func dkimRecord(t *testing.T, key crypto.Signer) string {
	t.Helper()
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	t.Fatalf("unexpected key type %T", key)
	return ""
}

func TestDKIMSignatureVerifies(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"rsa": rsaKey, "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			srv := smtptest.NewServer(t)
			m := newMailer(t, srv, func(c *mailer.Config) {
				c.DKIMDomain, c.DKIMSelector, c.DKIMKey = "news.example.com", "weekly", key
				c.UnsubscribeMailto = "unsubscribe@news.example.com"
			})
			msg := message("ada@example.org")
			msg.Subject = "A long subject line that will certainly be folded by go-mail's header writer, twice over"
			// The text part goes as 8bit (UTF-8, a lone dot), the HTML as quoted-printable
			// (a line too long for SMTP): both must verify.
			msg.Text = writer("Grüße, Zoë!\n.\nThis week: queues.\n")
			msg.HTML = writer("<p>This week: queues.</p>\n<p>" + strings.Repeat("long ", 300) + "</p>")
			if _, err := m.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			data := srv.Messages()[0].Data
			record := dkimRecord(t, key)
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
				LookupTXT: func(domain string) ([]string, error) {
					if domain != "weekly._domainkey.news.example.com" {
						t.Errorf("verifier looked up %q", domain)
					}
					return []string{record}, nil
				},
			})
			if err != nil {
				t.Fatalf("dkim.Verify: %v", err)
			}
			if len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verifications = %+v, want one without error\n%s", vs, data)
			}
			want := []string{"from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe", "list-unsubscribe-post"}
			for _, h := range want {
				found := false
				for _, got := range vs[0].HeaderKeys {
					found = found || strings.EqualFold(got, h)
				}
				if !found {
					t.Errorf("signature does not cover %s (h=%v)", h, vs[0].HeaderKeys)
				}
			}
			tampered := bytes.Replace(data, []byte("This week: queues."), []byte("This week: crypto."), 1)
			vs, _ = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{
				LookupTXT: func(string) ([]string, error) { return []string{record}, nil },
			})
			if len(vs) != 1 || vs[0].Err == nil {
				t.Error("a tampered body still verifies")
			}
			if name == "rsa" {
				verifyWithDKIMPy(t, data, record)
			}
		})
	}
}

// verifyWithDKIMPy checks the message with a second, independent verifier: dkimpy
// (Debian package python3-dkim), when it is installed.
func verifyWithDKIMPy(t *testing.T, data []byte, record string) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import dkim").Run() != nil {
		t.Log("python3-dkim not installed: skipping the second verifier")
		return
	}
	script := `import sys, dkim
record = open(sys.argv[1], 'rb').read()
msg = sys.stdin.buffer.read()
ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: record)
sys.exit(0 if ok else 1)
`
	rec := filepath.Join(t.TempDir(), "record")
	if err := os.WriteFile(rec, []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", script, rec)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("dkimpy does not verify the signature: %v\n%s", err, out)
	}
}

func TestParseDKIMKey(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	cases := map[string][]byte{
		"pkcs1 rsa":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}),
		"pkcs8 ed25519": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
	for name, b := range cases {
		if _, err := mailer.ParseDKIMKey(b); err != nil {
			t.Errorf("ParseDKIMKey(%s) = %v, want nil", name, err)
		}
	}
	if _, err := mailer.ParseDKIMKey([]byte("not a key")); err == nil {
		t.Error("ParseDKIMKey(garbage) = nil, want an error")
	}
}
