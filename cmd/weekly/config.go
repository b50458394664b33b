package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/term"
)

// config holds every setting. Each field is set from its flag, else its WEEKLY_*
// environment variable, else the default; the README lists them all. Commands
// register only the groups of flags they use, then call the matching validate.
type config struct {
	// Store and content.
	DB        string // --db, WEEKLY_DB
	Templates string // --templates, WEEKLY_TEMPLATES: folder overriding embedded templates

	// Logging.
	LogFormat string // --log-format, WEEKLY_LOG_FORMAT: text or json
	LogLevel  string // --log-level, WEEKLY_LOG_LEVEL: debug, info, warn, error

	// The newsletter's identity.
	Name     string // --name-of-list, WEEKLY_NAME: display name in From and pages
	From     string // --from, WEEKLY_FROM: sender address
	BaseURL  string // --base-url, WEEKLY_BASE_URL: public URL of the web server
	Timezone string // --timezone, WEEKLY_TIMEZONE: where schedules and dates are read
	location *time.Location

	// Mail transport. With no SMTP host, messages go to Outbox as .eml files.
	Outbox       string        // --outbox, WEEKLY_OUTBOX
	SMTPHost     string        // --smtp-host, WEEKLY_SMTP_HOST
	SMTPPort     int           // --smtp-port, WEEKLY_SMTP_PORT
	SMTPTLS      string        // --smtp-tls, WEEKLY_SMTP_TLS: none, starttls, starttls-optional, tls
	SMTPAuth     string        // --smtp-auth, WEEKLY_SMTP_AUTH: none, plain, login, cram-md5
	SMTPUser     string        // --smtp-user, WEEKLY_SMTP_USER
	SMTPPassword string        // WEEKLY_SMTP_PASSWORD only: never a flag, so it stays out of ps
	HELO         string        // --helo, WEEKLY_HELO
	SMTPTimeout  time.Duration // --smtp-timeout, WEEKLY_SMTP_TIMEOUT
	Concurrency  int           // --concurrency, WEEKLY_CONCURRENCY: SMTP connections
	Rate         float64       // --rate, WEEKLY_RATE: messages per second, 0 for no limit
	// Hard bounces (5xx replies) before a subscriber becomes bounced: after a
	// 550/551/553 "no such user" reply, and after any other 5xx.
	BouncesNoUser int    // --bounces-no-user, WEEKLY_BOUNCES_NO_USER
	BouncesOther  int    // --bounces-other, WEEKLY_BOUNCES_OTHER
	UnsubMailto   string // --unsubscribe-mailto, WEEKLY_UNSUBSCRIBE_MAILTO
	DKIMDomain    string // --dkim-domain, WEEKLY_DKIM_DOMAIN
	DKIMSelector  string // --dkim-selector, WEEKLY_DKIM_SELECTOR
	DKIMKeyFile   string // --dkim-key, WEEKLY_DKIM_KEY: PEM private key file

	// The web server.
	Listen         string // --listen, WEEKLY_LISTEN
	TrustedProxies string // --trusted-proxies, WEEKLY_TRUSTED_PROXIES: whose X-Forwarded-For is believed
	trusted        []netip.Prefix

	// The daemon's schedules.
	FetchSchedule string        // --fetch-schedule, WEEKLY_FETCH_SCHEDULE
	SendSchedule  string        // --send-schedule, WEEKLY_SEND_SCHEDULE
	Grace         time.Duration // --grace, WEEKLY_GRACE: how late a missed send may still go
	StopTimeout   time.Duration // --stop-timeout, WEEKLY_STOP_TIMEOUT: in-flight deadline on SIGTERM

	// The digest.
	PerFeed  int // --per-feed, WEEKLY_PER_FEED: feed items per feed per issue
	MaxItems int // --max-items, WEEKLY_MAX_ITEMS: items per issue
	MinItems int // --min-items, WEEKLY_MIN_ITEMS: below this the week is skipped
}

// flagEnv registers flags whose defaults come from the environment.
type flagEnv struct {
	fs     *flagSet
	getenv func(string) string
	errs   []error
}

func (f *flagEnv) str(p *string, name, envName, def, usage string) {
	if v := f.getenv(envName); v != "" {
		def = v
	}
	f.fs.StringVar(p, name, def, usage+" ($"+envName+")")
}

func (f *flagEnv) int(p *int, name, envName string, def int, usage string) {
	if v := f.getenv(envName); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: not a whole number", envName, v))
		} else {
			def = n
		}
	}
	f.fs.IntVar(p, name, def, usage+" ($"+envName+")")
}

func (f *flagEnv) float(p *float64, name, envName string, def float64, usage string) {
	if v := f.getenv(envName); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: not a number", envName, v))
		} else {
			def = n
		}
	}
	f.fs.Float64Var(p, name, def, usage+" ($"+envName+")")
}

func (f *flagEnv) duration(p *time.Duration, name, envName string, def time.Duration, usage string) {
	if v := f.getenv(envName); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: not a duration such as 30s or 48h", envName, v))
		} else {
			def = d
		}
	}
	f.fs.DurationVar(p, name, def, usage+" ($"+envName+")")
}

// err reports environment values that could not be read.
func (f *flagEnv) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return usageError{errors.Join(f.errs...)}
}

// Flag groups. A command registers the groups it needs.

func (c *config) storeFlags(f *flagEnv) {
	f.str(&c.DB, "db", "WEEKLY_DB", "weekly.db", "SQLite database file")
	f.str(&c.LogFormat, "log-format", "WEEKLY_LOG_FORMAT", "text", "log format: text or json")
	f.str(&c.LogLevel, "log-level", "WEEKLY_LOG_LEVEL", "info", "log level: debug, info, warn or error")
}

func (c *config) contentFlags(f *flagEnv) {
	f.str(&c.Templates, "templates", "WEEKLY_TEMPLATES", "", "folder of templates overriding the embedded ones, file by file")
	f.str(&c.Name, "name-of-list", "WEEKLY_NAME", "Backend Weekly", "the newsletter's name, shown in From and on pages")
	f.str(&c.BaseURL, "base-url", "WEEKLY_BASE_URL", "http://localhost:8080", "public URL of the web server; every link in an email starts with it")
	f.str(&c.Timezone, "timezone", "WEEKLY_TIMEZONE", "UTC", "time zone for schedules and dates (IANA name)")
	f.int(&c.PerFeed, "per-feed", "WEEKLY_PER_FEED", 5, "most items taken from one feed per issue")
	f.int(&c.MaxItems, "max-items", "WEEKLY_MAX_ITEMS", 30, "most items in one issue")
	f.int(&c.MinItems, "min-items", "WEEKLY_MIN_ITEMS", 3, "fewest items worth sending; below it the week is skipped")
}

func (c *config) mailFlags(f *flagEnv) {
	f.str(&c.From, "from", "WEEKLY_FROM", "weekly@localhost", "sender address (its domain also names Message-IDs)")
	f.str(&c.Outbox, "outbox", "WEEKLY_OUTBOX", "outbox", "folder for .eml files when no SMTP host is set")
	f.str(&c.SMTPHost, "smtp-host", "WEEKLY_SMTP_HOST", "", "SMTP server; empty writes to the outbox")
	f.int(&c.SMTPPort, "smtp-port", "WEEKLY_SMTP_PORT", 587, "SMTP port")
	f.str(&c.SMTPTLS, "smtp-tls", "WEEKLY_SMTP_TLS", "starttls", "TLS mode: none, starttls, starttls-optional or tls")
	f.str(&c.SMTPAuth, "smtp-auth", "WEEKLY_SMTP_AUTH", "none", "SMTP auth: none, plain, login or cram-md5 (password from $WEEKLY_SMTP_PASSWORD)")
	f.str(&c.SMTPUser, "smtp-user", "WEEKLY_SMTP_USER", "", "SMTP user name")
	c.SMTPPassword = f.getenv("WEEKLY_SMTP_PASSWORD")
	f.str(&c.HELO, "helo", "WEEKLY_HELO", "", "HELO/EHLO name (default: the From domain)")
	f.duration(&c.SMTPTimeout, "smtp-timeout", "WEEKLY_SMTP_TIMEOUT", 30*time.Second, "SMTP connect and command timeout")
	f.int(&c.Concurrency, "concurrency", "WEEKLY_CONCURRENCY", 10, "SMTP connections used in parallel")
	f.float(&c.Rate, "rate", "WEEKLY_RATE", 0, "most messages per second over all connections; 0 for no limit")
	f.int(&c.BouncesNoUser, "bounces-no-user", "WEEKLY_BOUNCES_NO_USER", 1, "hard bounces after a 550/551/553 (no such user) reply before a subscriber is marked bounced")
	f.int(&c.BouncesOther, "bounces-other", "WEEKLY_BOUNCES_OTHER", 3, "hard bounces after any other 5xx reply before a subscriber is marked bounced")
	f.str(&c.UnsubMailto, "unsubscribe-mailto", "WEEKLY_UNSUBSCRIBE_MAILTO", "", "optional address for mailto: unsubscribes in List-Unsubscribe")
	f.str(&c.DKIMDomain, "dkim-domain", "WEEKLY_DKIM_DOMAIN", "", "DKIM signing domain (d=); empty: no signature")
	f.str(&c.DKIMSelector, "dkim-selector", "WEEKLY_DKIM_SELECTOR", "", "DKIM selector (s=)")
	f.str(&c.DKIMKeyFile, "dkim-key", "WEEKLY_DKIM_KEY", "", "DKIM private key, PEM file (RSA or Ed25519)")
}

func (c *config) webFlags(f *flagEnv) {
	f.str(&c.Listen, "listen", "WEEKLY_LISTEN", "127.0.0.1:8080", "address the web server listens on")
	f.str(&c.TrustedProxies, "trusted-proxies", "WEEKLY_TRUSTED_PROXIES", "",
		"comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed")
}

func (c *config) scheduleFlags(f *flagEnv) {
	f.str(&c.FetchSchedule, "fetch-schedule", "WEEKLY_FETCH_SCHEDULE", "@hourly", "when to refresh feeds (cron expression or descriptor)")
	f.str(&c.SendSchedule, "send-schedule", "WEEKLY_SEND_SCHEDULE", "0 9 * * 1", "when to send the weekly issue (cron expression, in --timezone)")
	f.duration(&c.Grace, "grace", "WEEKLY_GRACE", 48*time.Hour, "how late a missed send may still go out")
	f.duration(&c.StopTimeout, "stop-timeout", "WEEKLY_STOP_TIMEOUT", 30*time.Second, "on SIGTERM, how long in-flight sends may take to finish")
}

// Validation, one method per group, called once after parsing.

func (c *config) validateStore() error {
	if c.DB == "" {
		return usageError{errors.New("--db: empty database path")}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return usageError{fmt.Errorf("--log-format %q: want text or json", c.LogFormat)}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)}
	}
	return nil
}

func (c *config) validateContent() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageError{fmt.Errorf("--base-url %q: want an absolute http(s) URL such as https://weekly.example.com", c.BaseURL)}
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return usageError{fmt.Errorf("--timezone %q: not a known time zone (want an IANA name such as Europe/Berlin)", c.Timezone)}
	}
	c.location = loc
	if c.PerFeed < 1 || c.MaxItems < 1 || c.MinItems < 0 || c.MinItems > c.MaxItems {
		return usageError{fmt.Errorf("--per-feed %d, --max-items %d, --min-items %d: want per-feed and max-items at least 1, and 0 <= min-items <= max-items",
			c.PerFeed, c.MaxItems, c.MinItems)}
	}
	if strings.ContainsAny(c.Name, "\r\n") {
		return usageError{errors.New("--name-of-list: must not contain a line break")}
	}
	return nil
}

func (c *config) validateMail() error {
	a, err := mail.ParseAddress(c.From)
	if err != nil || a.Name != "" || strings.ContainsAny(c.From, "\r\n") {
		return usageError{fmt.Errorf("--from %q: want a bare address such as weekly@example.com", c.From)}
	}
	if c.SMTPHost != "" {
		if c.SMTPPort < 1 || c.SMTPPort > 65535 {
			return usageError{fmt.Errorf("--smtp-port %d: want 1-65535", c.SMTPPort)}
		}
		switch c.SMTPTLS {
		case "none", "starttls", "starttls-optional", "tls":
		default:
			return usageError{fmt.Errorf("--smtp-tls %q: want none, starttls, starttls-optional or tls", c.SMTPTLS)}
		}
		switch c.SMTPAuth {
		case "none":
		case "plain", "login", "cram-md5":
			if c.SMTPUser == "" || c.SMTPPassword == "" {
				return usageError{fmt.Errorf("--smtp-auth %s needs --smtp-user and $WEEKLY_SMTP_PASSWORD", c.SMTPAuth)}
			}
		default:
			return usageError{fmt.Errorf("--smtp-auth %q: want none, plain, login or cram-md5", c.SMTPAuth)}
		}
	} else if c.Outbox == "" {
		return usageError{errors.New("--outbox: empty, and no --smtp-host: nowhere to send mail")}
	}
	if c.Concurrency < 1 || c.Concurrency > 200 {
		return usageError{fmt.Errorf("--concurrency %d: want 1-200", c.Concurrency)}
	}
	if c.BouncesNoUser < 1 || c.BouncesOther < 1 {
		return usageError{fmt.Errorf("--bounces-no-user %d, --bounces-other %d: want at least 1", c.BouncesNoUser, c.BouncesOther)}
	}
	if c.Rate < 0 {
		return usageError{fmt.Errorf("--rate %v: must not be negative", c.Rate)}
	}
	if c.SMTPTimeout <= 0 {
		return usageError{fmt.Errorf("--smtp-timeout %v: must be positive", c.SMTPTimeout)}
	}
	if (c.DKIMDomain == "") != (c.DKIMSelector == "") || (c.DKIMDomain == "") != (c.DKIMKeyFile == "") {
		return usageError{errors.New("--dkim-domain, --dkim-selector and --dkim-key go together: set all three or none")}
	}
	if c.UnsubMailto != "" {
		if _, err := mail.ParseAddress(c.UnsubMailto); err != nil || strings.ContainsAny(c.UnsubMailto, "\r\n<>") {
			return usageError{fmt.Errorf("--unsubscribe-mailto %q: want a bare address", c.UnsubMailto)}
		}
	}
	return nil
}

func (c *config) validateWeb() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return usageError{fmt.Errorf("--listen %q: want host:port such as 127.0.0.1:8080", c.Listen)}
	}
	trusted, err := parseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return err
	}
	c.trusted = trusted
	return nil
}

// parseTrustedProxies reads a comma-separated list of addresses and CIDR ranges.
func parseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, usageError{fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR range", f)}
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// validateSchedule checks both schedules. robfig/cron panics on "CRON_TZ=" with
// nothing after it, so the time-zone prefix is checked here first.
func (c *config) validateSchedule() error {
	for _, s := range []struct{ flag, spec string }{{"--fetch-schedule", c.FetchSchedule}, {"--send-schedule", c.SendSchedule}} {
		if _, err := parseSchedule(s.spec); err != nil {
			return usageError{fmt.Errorf("%s %q: %w", s.flag, s.spec, err)}
		}
	}
	if c.Grace < 0 || c.StopTimeout <= 0 {
		return usageError{fmt.Errorf("--grace %v, --stop-timeout %v: grace must not be negative, stop-timeout must be positive", c.Grace, c.StopTimeout)}
	}
	return nil
}

// parseSchedule parses a standard 5-field cron expression or descriptor, optionally
// prefixed with CRON_TZ=Zone or TZ=Zone, without ever letting robfig/cron panic.
func parseSchedule(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		zone, rest, ok := strings.Cut(spec[strings.Index(spec, "=")+1:], " ")
		if !ok || zone == "" || strings.TrimSpace(rest) == "" {
			return nil, errors.New("a time-zone prefix needs a zone and then a schedule, as in CRON_TZ=Europe/Berlin 0 9 * * 1")
		}
		if _, err := time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("unknown time zone %q", zone)
		}
	}
	return cronParser.Parse(spec)
}

// cronParser accepts the standard 5 fields and descriptors such as @hourly.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// newLogger builds the one logger that run passes down.
func (c *config) newLogger(e *env) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(c.LogLevel)) // validated already
	opts := &slog.HandlerOptions{Level: lv}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// isTerminal reports whether w is a terminal, for progress displays.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
