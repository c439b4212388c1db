package store

import (
	"strconv"
	"strings"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// A CDR is a billing claim: it is stored whatever its numbers look like
// (issue 12 item 10). What a DECIMAL(18,6) column holds for a number that
// does not fit it (more than 6 decimals, more than 12 integer digits) or
// that the decoder could not read (too large, wrong type, missing):
//
//   - NULL, never a rounded value and never 0;
//   - a finding at the field's path says so; the number as sent is in the
//     raw payload (raw_sha256 -> the raw archive), exactly;
//   - the finding blocks pricing when pricing reads the value: dimension
//     volumes (and with them the period's pivoted column), and embedded
//     tariffs, which are then not stored in the tariff tables at all (their
//     prices are NOT NULL there) and stay in the raw payload. Billed totals,
//     total_energy and total_time do not block: they are the claim that
//     reconciliation compares, and NULL there reads as "no usable amount".
//
// Published tariffs, locations and invoice reconciliation records are not
// billing claims: one whose numbers do not fit is still rejected (unstorable),
// and so is a tariff with a number the decoder could not read or a missing
// price (unreadTariffNumber): pricing reads the tables, not the findings, so
// stored it would be priced as 0 or without its limit or restriction.

// cdrNulls is what cdrNumbers decided for one CDR.
type cdrNulls struct {
	paths   map[string]bool // field paths whose column is NULL
	tariffs map[int]bool    // embedded tariffs left out of the tariff tables
	periods map[int]bool    // periods whose pivoted volumes are all NULL
}

func (n *cdrNulls) null(path string) bool { return n != nil && n.paths[path] }

// unreadNumber reports whether the decoder left the value at path absent
// (its model holds 0): too large, the wrong type, or missing.
func unreadNumber(p ocpi.Problem) bool {
	switch p.Rule {
	case ocpi.RuleTooLarge, ocpi.RuleType, ocpi.RuleRequired:
		return true
	}
	return false
}

// priceFieldPaths returns the JSON paths of a Price's amount before taxes
// and after taxes in the CDR's version (2.3.0 computes the latter from its
// tax lines).
func priceFieldPaths(v ocpi.Version, name string) (excl, incl string) {
	switch v {
	case ocpi.V211:
		return name, ""
	case ocpi.V230:
		return name + ".before_taxes", name + ".taxes"
	}
	return name + ".excl_vat", name + ".incl_vat"
}

// cdrNumbers decides which of a CDR's decimals are stored as NULL and puts
// the reason among the CDR's problems: a decoder problem at that path is
// kept and completed (blocking where pricing reads the value), otherwise a
// new one is added. It returns nil when every number is stored as is.
func cdrNumbers(r *ocpi.Received) *cdrNulls {
	c := r.CDR
	var n *cdrNulls
	mark := func(path string, blocking bool, rule ocpi.Rule, msg string) {
		if n == nil {
			n = &cdrNulls{paths: map[string]bool{}, tariffs: map[int]bool{}, periods: map[int]bool{}}
		}
		n.paths[path] = true
		for i := range r.Problems {
			p := &r.Problems[i]
			if p.Path == path && (p.Rule == ocpi.RulePrecision || unreadNumber(*p)) {
				p.Blocking = p.Blocking || blocking
				if !strings.Contains(p.Message, nullNote) {
					p.Message += "; " + nullNote
				}
				return
			}
		}
		r.Problems = append(r.Problems, ocpi.Problem{Path: path, Rule: rule, Blocking: blocking, Message: msg + "; " + nullNote})
	}
	// Values the decoder could not read: the model's 0 is not the claim.
	// exact matches the field itself, under anything below it too.
	unread := func(path string, below bool) bool {
		if path == "" {
			return false
		}
		for _, p := range r.Problems {
			if unreadNumber(p) && (p.Path == path || below && (strings.HasPrefix(p.Path, path+".") || strings.HasPrefix(p.Path, path+"["))) {
				return true
			}
		}
		return false
	}
	exact := func(path string) bool { return unread(path, false) }
	unfit := func(d decimal.Decimal) bool { return !fits(d) }
	// unfitRule tells more decimals than 6 from more integer digits than 12.
	unfitRule := func(d decimal.Decimal) ocpi.Rule {
		if d.Truncate(Scale).Equal(d) {
			return ocpi.RuleTooLarge
		}
		return ocpi.RulePrecision
	}
	for _, f := range cdrPrices(c) {
		if f.p == nil {
			continue
		}
		excl, incl := priceFieldPaths(c.Version, f.name)
		whole := f.name
		if c.Version == ocpi.V211 {
			whole = ""
		}
		switch {
		case exact(excl) || exact(whole):
			mark(excl, false, ocpi.RuleTooLarge, "number could not be read")
		case unfit(f.p.ExclVAT):
			mark(excl, false, unfitRule(f.p.ExclVAT), "number "+f.p.ExclVAT.String()+" does not fit DECIMAL(18,6)")
		}
		if incl == "" {
			continue
		}
		switch {
		case exact(incl) || exact(whole) || c.Version == ocpi.V230 && (unread(incl, true) || exact(excl)):
			mark(incl, false, ocpi.RuleTooLarge, "number could not be read")
		case f.p.InclVAT.Valid && unfit(f.p.InclVAT.Decimal):
			mark(incl, false, unfitRule(f.p.InclVAT.Decimal), "number "+f.p.InclVAT.Decimal.String()+" does not fit DECIMAL(18,6)")
		}
	}
	for _, f := range []struct {
		path string
		v    decimal.NullDecimal
	}{{"total_energy", decimal.NullDecimal{Decimal: c.TotalEnergy, Valid: true}},
		{"total_time", decimal.NullDecimal{Decimal: c.TotalTime, Valid: true}},
		{"total_parking_time", c.TotalParkingTime}} {
		switch {
		case f.path != "total_parking_time" && exact(f.path):
			mark(f.path, false, ocpi.RuleTooLarge, "number could not be read")
		case f.v.Valid && unfit(f.v.Decimal):
			mark(f.path, false, unfitRule(f.v.Decimal), "number "+f.v.Decimal.String()+" does not fit DECIMAL(18,6)")
		}
	}
	for pi, p := range c.ChargingPeriods {
		for di, d := range p.Dimensions {
			path := "charging_periods[" + strconv.Itoa(pi) + "].dimensions[" + strconv.Itoa(di) + "].volume"
			switch {
			case exact(path):
				mark(path, true, ocpi.RuleTooLarge, "volume could not be read")
			case unfit(d.Volume):
				mark(path, true, unfitRule(d.Volume), "volume "+d.Volume.String()+" does not fit DECIMAL(18,6)")
			}
		}
		if _, ok := pivotVolumes(p.Dimensions); !ok {
			path := "charging_periods[" + strconv.Itoa(pi) + "].dimensions"
			mark(path, true, ocpi.RuleTooLarge, "repeated dimensions of one type add up beyond DECIMAL(18,6)")
			n.periods[pi] = true
		}
	}
	for ti := range c.Tariffs {
		if p := unstorableTariff(&c.Tariffs[ti]); p != "" {
			mark("tariffs["+strconv.Itoa(ti)+"]."+p, true, ocpi.RulePrecision, "embedded tariff value does not fit DECIMAL(18,6): "+
				"the tariff is not stored in the tariff tables")
			n.tariffs[ti] = true
		}
	}
	return n
}

// nullNote ends the message of every problem whose value is stored as NULL.
const nullNote = "the database holds NULL there (never a rounded value or 0); the raw payload has the number as sent"
