package reconcile

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Tolerance is how far a billed amount may be from the recomputed one and
// still be accepted: at most Minor minor units of the currency, or at most
// PPM millionths of the recomputed amount, whichever allows more. The zero
// Tolerance accepts only equality at the currency's minor units: the
// default, so that a one-cent rounding difference is found and explained
// (ROUNDING), not silently accepted.
type Tolerance struct {
	Minor int64 `json:"minor" toml:"minor"`
	PPM   int64 `json:"ppm" toml:"ppm"`
}

// Allows reports whether a difference is within the tolerance. diff and
// reference are in millionths (Scale); minor is the currency's minor units.
func (t Tolerance) Allows(diff, reference int64, minor int) bool {
	if diff < 0 {
		diff = -diff
	}
	if diff == 0 {
		return true
	}
	if t.Minor > 0 && diff <= t.Minor*pow10[Scale-min(max(minor, 0), Scale)] {
		return true
	}
	if t.PPM > 0 {
		if reference < 0 {
			reference = -reference
		}
		// diff/reference <= ppm/1e6, in integers (amounts are far below 2^63/1e6).
		return diff*1_000_000 <= reference*t.PPM
	}
	return false
}

// String writes the tolerance as configured.
func (t Tolerance) String() string {
	if t == (Tolerance{}) {
		return "exact"
	}
	var parts []string
	if t.Minor > 0 {
		parts = append(parts, fmt.Sprintf("%d minor units", t.Minor))
	}
	if t.PPM > 0 {
		parts = append(parts, decimal.New(t.PPM, -4).String()+" %")
	}
	return strings.Join(parts, " or ")
}

// Tolerances are tolerances as data: a default, and overrides per
// currency, per partner ("CC-PID") and per partner and currency
// ("CC-PID/EUR"), the most specific winning.
type Tolerances struct {
	Default    Tolerance
	Currency   map[string]Tolerance
	Partner    map[string]Tolerance
	PartnerCur map[string]Tolerance
}

// For returns the tolerance of a partner's CDRs in a currency.
func (ts *Tolerances) For(countryCode, partyID, currency string) Tolerance {
	if ts == nil {
		return Tolerance{}
	}
	p, c := ocpi.PartyKey(countryCode, partyID), strings.ToUpper(currency)
	if t, ok := ts.PartnerCur[p+"/"+c]; ok {
		return t
	}
	if t, ok := ts.Partner[p]; ok {
		return t
	}
	if t, ok := ts.Currency[c]; ok {
		return t
	}
	return ts.Default
}

// Set records a tolerance for a partner ("" for any) and a currency (""
// for any).
func (ts *Tolerances) Set(party, currency string, t Tolerance) {
	party, currency = strings.ToUpper(party), strings.ToUpper(currency)
	switch {
	case party == "" && currency == "":
		ts.Default = t
	case party == "":
		if ts.Currency == nil {
			ts.Currency = map[string]Tolerance{}
		}
		ts.Currency[currency] = t
	case currency == "":
		if ts.Partner == nil {
			ts.Partner = map[string]Tolerance{}
		}
		ts.Partner[party] = t
	default:
		if ts.PartnerCur == nil {
			ts.PartnerCur = map[string]Tolerance{}
		}
		ts.PartnerCur[party+"/"+currency] = t
	}
}
