package links

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidURL is returned for a URL that is not an absolute http or https URL.
var ErrInvalidURL = errors.New("links: not an absolute http(s) URL")

// maxURLLen bounds stored URLs; longer ones are almost always tracking junk.
const maxURLLen = 2048

// trackingParams are query parameters that identify a click, not a page. Any
// parameter starting with "utm_" is dropped as well.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "gclsrc": true, "msclkid": true,
	"yclid": true, "twclid": true, "igshid": true, "mc_eid": true, "mc_cid": true,
	"_hsenc": true, "_hsmi": true, "mkt_tok": true, "oly_anon_id": true, "oly_enc_id": true,
	"vero_id": true, "wickedid": true, "__s": true, "ref_src": true,
}

// Normalize returns the canonical form of an absolute http or https URL, the form
// stored for links and feed items so the two can be compared: scheme and host in
// lower case, no default port, no fragment, no credentials, tracking parameters
// (utm_*, fbclid, gclid, mc_eid and the like) removed, and "/" for an empty path.
// The remaining query keeps its order and encoding. Anything else is ErrInvalidURL.
func Normalize(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("empty URL: %w", ErrInvalidURL)
	}
	if len(raw) > maxURLLen {
		return "", fmt.Errorf("URL longer than %d bytes: %w", maxURLLen, ErrInvalidURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q: %w", raw, ErrInvalidURL)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: want http:// or https://: %w", raw, ErrInvalidURL)
	}
	if u.Opaque != "" || u.User != nil {
		return "", fmt.Errorf("%q: %w", raw, ErrInvalidURL)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || strings.ContainsAny(host, " \t") {
		return "", fmt.Errorf("%q: no host: %w", raw, ErrInvalidURL)
	}
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	u.RawQuery = stripTracking(u.RawQuery)
	u.ForceQuery = false
	return u.String(), nil
}

// stripTracking removes tracking parameters from a raw query without re-encoding
// or reordering what remains: a changed order can change what a server returns.
func stripTracking(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		name = strings.ToLower(name)
		if strings.HasPrefix(name, "utm_") || trackingParams[name] {
			continue
		}
		kept = append(kept, strings.ReplaceAll(p, " ", "%20")) // a URL never holds a raw space
	}
	return strings.Join(kept, "&")
}
