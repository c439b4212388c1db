package schedule

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// The [schedule] section as cmd will decode it: strictly, so a typo is an
// error.
func TestConfigDecodesFromTOML(t *testing.T) {
	var file struct {
		Schedule *Config `toml:"schedule"`
	}
	src := `
[schedule]
cron = "30 2 * * *"
zone = "Europe/Berlin"
grace = "5d12h"
from = "2026-01"
partners = ["NL-ABC", "de*xyz"]
pull = ["NL-ABC"]
`
	dec := toml.NewDecoder(strings.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	p, err := file.Schedule.compile()
	if err != nil {
		t.Fatal(err)
	}
	if p.cron != "30 2 * * *" || p.zone.String() != "Europe/Berlin" || p.grace != (Grace{5, 12 * time.Hour}) ||
		p.from != per(2026, 1) || strings.Join(p.partners, ",") != "NL-ABC,DE-XYZ" || strings.Join(p.pull, ",") != "NL-ABC" {
		t.Errorf("compiled: %+v", p)
	}

	dec = toml.NewDecoder(bytes.NewReader([]byte("[schedule]\ncorn = \"0 2 * * *\"\n")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err == nil {
		t.Error("a misspelt key decoded")
	}
}

func TestConfigDefaults(t *testing.T) {
	p, err := Config{}.compile()
	if err != nil {
		t.Fatal(err)
	}
	if p.cron != DefaultCron || p.zone != time.UTC || p.grace != DefaultGrace || !p.from.IsZero() || p.partners != nil {
		t.Errorf("defaults: %+v", p)
	}
	if got := p.cal.next(utc("2026-03-29T01:30:00Z")); !got.Equal(utc("2026-03-29T02:00:00Z")) {
		t.Errorf("default cron next = %s", got)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want []string // each must appear in the error
	}{
		{Config{Cron: "0 2 * *"}, []string{"schedule.cron:", "expected exactly 5 fields"}},
		{Config{Cron: "@every 24h"}, []string{"schedule.cron:", "@every is a fixed interval"}},
		{Config{Cron: "TZ=Europe/Berlin 0 2 * * *"}, []string{"schedule.cron:", "zone key"}},
		{Config{Cron: "TZ=0"}, []string{"schedule.cron:", "zone key"}}, // panics inside robfig/cron v3.0.1
		{Config{Cron: "0 0 30 2 *"}, []string{"schedule.cron:", "never due"}},
		{Config{Zone: "Europe/Berlim"}, []string{`schedule.zone: "Europe/Berlim" is not an IANA time zone`}},
		{Config{Zone: "Local"}, []string{"schedule.zone:", "name an IANA zone"}},
		{Config{Grace: "5 days"}, []string{"schedule.grace:", "5d, 36h or 5d12h"}},
		{Config{Grace: "-1h"}, []string{"schedule.grace:"}},
		{Config{From: "2026-13"}, []string{"schedule.from:", "YYYY-MM"}},
		{Config{Partners: []string{"NL-ABC", "NLABC"}}, []string{"schedule.partners[1]: partner NL-ABC listed twice"}},
		{Config{Partners: []string{"NL-AB"}}, []string{`schedule.partners[0]: partner "NL-AB"`}},
		{Config{Partners: []string{"NL-ABC"}, Pull: []string{"DE-XYZ"}}, []string{"schedule.pull[0]: partner DE-XYZ is not in schedule.partners"}},
		// Every mistake at once, each with its key.
		{Config{Cron: "x", Zone: "Mars/Olympus", Grace: "soon", From: "last month"},
			[]string{"schedule.cron:", "schedule.zone:", "schedule.grace:", "schedule.from:"}},
	} {
		err := c.cfg.Validate()
		if err == nil {
			t.Errorf("%+v: no error", c.cfg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %q does not say %q", c.cfg, err, w)
			}
		}
	}
	// Pulls without a partner list: any partner may be pulled.
	if err := (Config{Pull: []string{"DE-XYZ"}}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseGrace(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Grace
		err  bool
	}{
		{"5d", Grace{Days: 5}, false},
		{"0", Grace{}, false},
		{"0d", Grace{}, false},
		{"36h", Grace{Extra: 36 * time.Hour}, false},
		{"5d12h", Grace{5, 12 * time.Hour}, false},
		{"1d30m", Grace{1, 30 * time.Minute}, false},
		{"", Grace{}, true},
		{"d", Grace{}, true},
		{"5", Grace{}, true},
		{"-5d", Grace{}, true},
		{"5d-1h", Grace{}, true},
		{"400d", Grace{}, true},
		{"5 days", Grace{}, true},
	} {
		g, err := ParseGrace(c.in)
		if (err != nil) != c.err || g != c.want {
			t.Errorf("ParseGrace(%q) = %+v, %v", c.in, g, err)
		}
		if err == nil {
			if back, _ := ParseGrace(g.String()); back != g {
				t.Errorf("%q: String %q reads back as %+v", c.in, g.String(), back)
			}
		}
	}
}

func TestDeadline(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	for _, c := range []struct {
		g    Grace
		p    Period
		loc  *time.Location
		want string
	}{
		{DefaultGrace, per(2026, 10), time.UTC, "2026-11-06T00:00:00Z"},
		{DefaultGrace, per(2026, 12), time.UTC, "2027-01-06T00:00:00Z"},
		// Calendar days in the period's zone: October ends at 23:00 UTC.
		{DefaultGrace, per(2026, 10), berlin, "2026-11-05T23:00:00Z"},
		// March's grace in Berlin: the month starts in CET, ends in CEST.
		{Grace{Days: 5}, per(2026, 3), berlin, "2026-04-05T22:00:00Z"},
		// A duration is elapsed time.
		{Grace{Extra: 36 * time.Hour}, per(2026, 2), time.UTC, "2026-03-02T12:00:00Z"},
		{Grace{}, per(2026, 2), time.UTC, "2026-03-01T00:00:00Z"},
	} {
		if got := c.g.Deadline(c.p, c.loc); !got.Equal(utc(c.want)) {
			t.Errorf("%s + %s in %s = %s, want %s", c.p, c.g, c.loc, got.UTC().Format(time.RFC3339), c.want)
		}
	}
}

func TestPeriod(t *testing.T) {
	p, err := ParsePeriod("2026-12")
	if err != nil || p != per(2026, 12) || p.String() != "2026-12" || p.Next() != per(2027, 1) || p.Next().Prev() != p {
		t.Errorf("%v %v", p, err)
	}
	if !per(2026, 12).Before(per(2027, 1)) || per(2027, 1).Before(per(2026, 12)) || p.Before(p) {
		t.Error("Before")
	}
	for _, bad := range []string{"2026-13", "2026-1", "26-01", "2026/01", ""} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
	// Invariant 7's default: a CDR ending at 23:30 UTC on the 31st is in that
	// month, whatever the schedule's zone.
	if got := PeriodOf(utc("2026-10-31T23:30:00Z"), time.UTC); got != per(2026, 10) {
		t.Errorf("PeriodOf = %s", got)
	}
	if got := PeriodOf(utc("2026-10-31T23:30:00Z"), mustLoad(t, "Europe/Berlin")); got != per(2026, 11) {
		t.Errorf("PeriodOf in Berlin = %s", got)
	}
}

func TestPartnerKey(t *testing.T) {
	for in, want := range map[string]string{"NL-ABC": "NL-ABC", "nl*abc": "NL-ABC", "NLABC": "NL-ABC", " de-x1z ": "DE-X1Z", "NL/ABC": "NL-ABC"} {
		if got, err := PartnerKey(in); err != nil || got != want {
			t.Errorf("PartnerKey(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "NL-AB", "NL-ABCD", "N1-ABC", "NL--ABC"} {
		if _, err := PartnerKey(bad); err == nil {
			t.Errorf("PartnerKey(%q) accepted", bad)
		}
	}
}
