package schedule

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config is the [schedule] section of roamsettle.toml. Every field may be
// left out; Validate names the key of each mistake.
//
//	[schedule]
//	cron     = "30 2 * * *"          # when the nightly tick is due (default "0 2 * * *")
//	zone     = "Europe/Berlin"       # IANA zone the cron expression is read in (default "UTC")
//	grace    = "5d"                  # wait after a month's end before finalising it (default "5d")
//	from     = "2026-01"             # first period the schedule settles (default: see Config.From)
//	partners = ["NL-ABC", "DE-XYZ"]  # one run per partner; empty: one run over all partners
//	pull     = ["NL-ABC"]            # partners pulled from before each run
type Config struct {
	// Cron is a five-field cron expression (minute hour day-of-month month
	// day-of-week) or a descriptor such as @daily, read in Zone.
	Cron string `toml:"cron"`
	// Zone is the IANA zone of Cron's wall clock, "UTC" by default.
	Zone string `toml:"zone"`
	// Grace is days ("5d"), a duration ("36h") or both ("5d12h").
	Grace string `toml:"grace"`
	// From ("YYYY-MM") is the first period the schedule settles. Without it,
	// the schedule starts from the earliest period the ledger has a run of,
	// or, on a first start, from the period of the first tick.
	From string `toml:"from"`
	// Partners are settled one scope each ("NL-ABC", "NL*ABC" or "NLABC");
	// empty means one scope over all partners.
	Partners []string `toml:"partners"`
	// Pull lists the partners to pull from before each run.
	Pull []string `toml:"pull"`
}

// DefaultCron is nightly at 02:00 (in UTC unless a zone is set).
const DefaultCron = "0 2 * * *"

// plan is a validated Config.
type plan struct {
	cron     string
	cal      calendar
	zone     *time.Location
	grace    Grace
	from     Period // zero: from the ledger
	partners []string
	pull     []string
}

// Validate reports every mistake in c, each naming its key.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c Config) compile() (plan, error) {
	var errs []error
	bad := func(key string, err error) { errs = append(errs, fmt.Errorf("schedule.%s: %w", key, err)) }
	p := plan{cron: strings.TrimSpace(c.Cron), zone: time.UTC, grace: DefaultGrace}
	if p.cron == "" {
		p.cron = DefaultCron
	}
	if z := strings.TrimSpace(c.Zone); z != "" {
		if z == "Local" {
			// The host's zone would make the schedule depend on the machine.
			bad("zone", errors.New(`"Local": name an IANA zone, e.g. Europe/Berlin, or UTC`))
		} else if loc, err := time.LoadLocation(z); err != nil {
			bad("zone", fmt.Errorf("%q is not an IANA time zone", z))
		} else {
			p.zone = loc
		}
	}
	cal, err := parseCalendar(p.cron, p.zone)
	if err != nil {
		bad("cron", err)
	}
	p.cal = cal
	if strings.TrimSpace(c.Grace) != "" {
		if p.grace, err = ParseGrace(c.Grace); err != nil {
			bad("grace", err)
		}
	}
	if strings.TrimSpace(c.From) != "" {
		if p.from, err = ParsePeriod(c.From); err != nil {
			bad("from", err)
		}
	}
	parties := func(key string, list []string) []string {
		var out []string
		seen := map[string]bool{}
		for i, s := range list {
			k, err := PartnerKey(s)
			if err != nil {
				bad(fmt.Sprintf("%s[%d]", key, i), err)
				continue
			}
			if seen[k] {
				bad(fmt.Sprintf("%s[%d]", key, i), fmt.Errorf("partner %s listed twice", k))
				continue
			}
			seen[k] = true
			out = append(out, k)
		}
		return out
	}
	p.partners = parties("partners", c.Partners)
	p.pull = parties("pull", c.Pull)
	if len(p.partners) > 0 {
		for i, k := range p.pull {
			if !slices.Contains(p.partners, k) {
				bad(fmt.Sprintf("pull[%d]", i), fmt.Errorf("partner %s is not in schedule.partners", k))
			}
		}
	}
	return p, errors.Join(errs...)
}

var partnerRe = regexp.MustCompile(`^([A-Za-z]{2})[-*/]?([A-Za-z0-9]{3})$`)

// PartnerKey reads "NL-ABC", "NL*ABC" or "NLABC" (as the CLI does) into the
// form the rest of roamsettle keys parties by, "NL-ABC" (ocpi.PartyKey).
func PartnerKey(s string) (string, error) {
	m := partnerRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", fmt.Errorf("partner %q: want COUNTRY-PARTY, e.g. NL-ABC", s)
	}
	return strings.ToUpper(m[1]) + "-" + strings.ToUpper(m[2]), nil
}
