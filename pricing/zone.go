package pricing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// ZoneSource says where a CDR's local time zone came from.
type ZoneSource string

const (
	ZoneGiven       ZoneSource = "given"       // Options.TimeZone (e.g. --tz)
	ZoneLocation    ZoneSource = "location"    // the Location's time_zone (2.1.1: embedded in the CDR)
	ZoneCoordinates ZoneSource = "coordinates" // an offline lookup of the coordinates
	ZoneCountry     ZoneSource = "country"     // the country has a single zone
	ZoneUnresolved  ZoneSource = "unresolved"  // priced in UTC and flagged
)

// ResolvedZone is a time zone and where it came from.
type ResolvedZone struct {
	Loc    *time.Location
	Name   string
	Source ZoneSource
	Note   string // what the resolver had to assume, if anything
	// Invalid names each time_zone the chain passed over because it is not
	// an IANA zone name (`stored location time_zone "CET+1"`), in the
	// order it was met: the zone above is a fallback, and pricing says so
	// (WarnZoneInvalid).
	Invalid []string
}

// loadIANA loads an IANA zone name. "" and "Local" are refused: LoadLocation
// reads them as UTC and as the machine's zone, and a price must not depend
// on where it is computed.
func loadIANA(name string) (*time.Location, bool) {
	if name == "" || name == "Local" {
		return nil, false
	}
	loc, err := loadZone(name)
	return loc, err == nil
}

// invalidZone is what a resolver returns for a time_zone that is not an
// IANA name: no zone, and why, for the chain to carry on to the zone it
// falls back to.
func invalidZone(what, name string) ResolvedZone {
	return ResolvedZone{Invalid: []string{fmt.Sprintf("%s time_zone %q", what, name)}}
}

// ZoneResolver finds the local time zone of a CDR's location. It returns
// ok=false when it cannot tell, so that the next resolver of a chain is asked;
// a time_zone it passed over because it is not an IANA name is in the
// returned zone's Invalid either way.
type ZoneResolver interface {
	ResolveZone(cdr *ocpi.CDR) (ResolvedZone, bool)
}

// ZoneChain asks each resolver in turn. The chain price and settle use is
// LocationZones (the stored Location, then the 2.1.1 embedded time_zone) ->
// CountryZones (a single-zone country answers exactly and for free) ->
// CoordinateZones (a polygon lookup, for the other countries).
type ZoneChain []ZoneResolver

// ResolveZone implements ZoneResolver.
// The time_zones passed over on the way are the answer's Invalid (each
// once), also when no resolver answers.
func (c ZoneChain) ResolveZone(cdr *ocpi.CDR) (ResolvedZone, bool) {
	var invalid []string
	for _, r := range c {
		if r == nil {
			continue
		}
		z, ok := r.ResolveZone(cdr)
		for _, v := range z.Invalid {
			if !slices.Contains(invalid, v) {
				invalid = append(invalid, v)
			}
		}
		if ok && z.Loc != nil {
			z.Invalid = invalid
			return z, true
		}
	}
	return ResolvedZone{Invalid: invalid}, false
}

// LocationZones resolves through a lookup of the stored Location's
// time_zone; cmd wires the store in. A 2.1.1 CDR's embedded time_zone is used
// when the lookup does not know the location, or knows a time_zone that is
// not an IANA name (then named in Invalid).
type LocationZones func(countryCode, partyID, locationID string) (timeZone string, ok bool)

// ResolveZone implements ZoneResolver.
func (f LocationZones) ResolveZone(cdr *ocpi.CDR) (ResolvedZone, bool) {
	var invalid []string
	if f != nil {
		if name, ok := f(cdr.CountryCode, cdr.PartyID, cdr.Location.ID); ok && name != "" {
			if loc, ok := loadIANA(name); ok {
				return ResolvedZone{Loc: loc, Name: name, Source: ZoneLocation}, true
			}
			invalid = invalidZone("stored location", name).Invalid
		}
	}
	z, ok := EmbeddedZone{}.ResolveZone(cdr)
	z.Invalid = append(invalid, z.Invalid...)
	return z, ok
}

// EmbeddedZone resolves from the time_zone a 2.1.1 CDR carries in its
// embedded Location.
type EmbeddedZone struct{}

// ResolveZone implements ZoneResolver.
func (EmbeddedZone) ResolveZone(cdr *ocpi.CDR) (ResolvedZone, bool) {
	name := strings.TrimSpace(cdr.Location.TimeZone)
	if name == "" {
		return ResolvedZone{}, false
	}
	loc, ok := loadIANA(name)
	if !ok {
		return invalidZone("CDR location", name), false
	}
	return ResolvedZone{Loc: loc, Name: name, Source: ZoneLocation}, true
}

// CountryZones resolves countries that have exactly one IANA zone. Keys are
// ISO 3166-1 alpha-3 (CdrLocation.country) and alpha-2. Mind the pairs that
// differ by one letter: IRL is Ireland (Europe/Dublin), IRN is Iran
// (Asia/Tehran), and "IR" is Iran, not Ireland ("IE").
type CountryZones struct{}

// singleZoneCountries maps alpha-3 and alpha-2 codes to their only zone.
// Countries with several zones (USA, CAN, AUS, BRA, RUS, MEX, ESP with the
// Canaries, PRT with the Azores, ...) are deliberately absent.
var singleZoneCountries = map[string]string{
	"AUT": "Europe/Vienna", "AT": "Europe/Vienna",
	"BEL": "Europe/Brussels", "BE": "Europe/Brussels",
	"BGR": "Europe/Sofia", "BG": "Europe/Sofia",
	"CHE": "Europe/Zurich", "CH": "Europe/Zurich",
	"CZE": "Europe/Prague", "CZ": "Europe/Prague",
	"DNK": "Europe/Copenhagen", "DK": "Europe/Copenhagen",
	"EST": "Europe/Tallinn", "EE": "Europe/Tallinn",
	"FIN": "Europe/Helsinki", "FI": "Europe/Helsinki",
	"FRA": "Europe/Paris", "FR": "Europe/Paris",
	"GBR": "Europe/London", "GB": "Europe/London",
	"GRC": "Europe/Athens", "GR": "Europe/Athens",
	"HRV": "Europe/Zagreb", "HR": "Europe/Zagreb",
	"HUN": "Europe/Budapest", "HU": "Europe/Budapest",
	"IRL": "Europe/Dublin", "IE": "Europe/Dublin",
	"IRN": "Asia/Tehran", "IR": "Asia/Tehran",
	"ISL": "Atlantic/Reykjavik", "IS": "Atlantic/Reykjavik",
	"ITA": "Europe/Rome", "IT": "Europe/Rome",
	"JPN": "Asia/Tokyo", "JP": "Asia/Tokyo",
	"LIE": "Europe/Vaduz", "LI": "Europe/Vaduz",
	"LTU": "Europe/Vilnius", "LT": "Europe/Vilnius",
	"LUX": "Europe/Luxembourg", "LU": "Europe/Luxembourg",
	"LVA": "Europe/Riga", "LV": "Europe/Riga",
	"NLD": "Europe/Amsterdam", "NL": "Europe/Amsterdam",
	"NOR": "Europe/Oslo", "NO": "Europe/Oslo",
	"POL": "Europe/Warsaw", "PL": "Europe/Warsaw",
	"ROU": "Europe/Bucharest", "RO": "Europe/Bucharest",
	"SVK": "Europe/Bratislava", "SK": "Europe/Bratislava",
	"SVN": "Europe/Ljubljana", "SI": "Europe/Ljubljana",
	"SWE": "Europe/Stockholm", "SE": "Europe/Stockholm",
	"DEU": "Europe/Berlin", "DE": "Europe/Berlin",
	"KOR": "Asia/Seoul", "KR": "Asia/Seoul",
	"SGP": "Asia/Singapore", "SG": "Asia/Singapore",
	"ISR": "Asia/Jerusalem", "IL": "Asia/Jerusalem",
	"TUR": "Europe/Istanbul", "TR": "Europe/Istanbul",
	"IND": "Asia/Kolkata", "IN": "Asia/Kolkata",
}

// CountryZone returns the single zone of a country code (alpha-3 or alpha-2).
func CountryZone(country string) (string, bool) {
	z, ok := singleZoneCountries[strings.ToUpper(strings.TrimSpace(country))]
	return z, ok
}

// ResolveZone implements ZoneResolver.
func (CountryZones) ResolveZone(cdr *ocpi.CDR) (ResolvedZone, bool) {
	name, ok := CountryZone(cdr.Location.Country)
	if !ok {
		return ResolvedZone{}, false
	}
	loc, err := loadZone(name)
	if err != nil {
		return ResolvedZone{}, false
	}
	return ResolvedZone{Loc: loc, Name: name, Source: ZoneCountry}, true
}

// FixedZone always answers with one zone; it is what --tz wires in.
type FixedZone struct{ Loc *time.Location }

// ResolveZone implements ZoneResolver.
func (f FixedZone) ResolveZone(*ocpi.CDR) (ResolvedZone, bool) {
	if f.Loc == nil {
		return ResolvedZone{}, false
	}
	return ResolvedZone{Loc: f.Loc, Name: f.Loc.String(), Source: ZoneGiven}, true
}

// resolveZone applies Options: the explicit zone first, then the resolver,
// then the embedded 2.1.1 zone and the country; else UTC, unresolved.
func resolveZone(cdr *ocpi.CDR, opts *Options) ResolvedZone {
	if opts.TimeZone != nil {
		return ResolvedZone{Loc: opts.TimeZone, Name: opts.TimeZone.String(), Source: ZoneGiven}
	}
	chain := ZoneChain{opts.Zones, EmbeddedZone{}, CountryZones{}}
	z, ok := chain.ResolveZone(cdr)
	if ok {
		return z
	}
	return ResolvedZone{Loc: time.UTC, Name: "UTC", Source: ZoneUnresolved, Invalid: z.Invalid}
}
