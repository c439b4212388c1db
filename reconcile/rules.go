package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// Rule is one validation rule: a pure function of the CDR and its context.
type Rule struct {
	Code Code
	// Doc says what the rule checks, for `reconcile --help` and reports.
	Doc   string
	check func(c *ocpi.CDR, x *Context, e *emitter)
}

// Rules are every validation rule, in the order findings are reported.
var Rules = []Rule{
	{CodeMissingField, "required fields present: ids, times, token, location, currency, periods, totals", ruleMissing},
	{CodeCurrencyMismatch, "the CDR's currency is its tariff's", ruleCurrency},
	{CodeTaxInconsistent, "incl >= excl for non-negative tax; total VAT within the tariff's component rates", ruleTax},
	{CodeTotalsInconsistent, "the cost sub-totals add up to total_cost (no min/max clamp, not a credit)", ruleTotals},
	{CodeVolumesInconsistent, "volumes add up to total_energy, total_time, total_parking_time and fit their period", ruleVolumes},
	{CodePeriodsOrder, "periods in order and inside the session", rulePeriodsOrder},
	{CodePeriodNotSplit, "no tariff boundary strictly inside a period", rulePeriodNotSplit},
	{CodeRestrictionUnchecked, "every power or current restriction that could change the amount can be checked (a CDR that differs is then NOT_VERIFIABLE)", ruleRestriction},
	{CodeSessionTooLong, "the session is not longer than plausible", ruleSessionLength},
	{CodeOutsidePeriod, "the CDR belongs to the settlement period", ruleOutsidePeriod},
	{CodeDuplicate, "the CDR was received once", ruleDuplicate},
	{CodeConflict, "no different CDR under the same id", ruleConflict},
	{CodeCreditUnreferenced, "a credit CDR references a CDR we hold", ruleCreditReference},
	{CodeCreditAmount, "a credit CDR's total_cost is minus the credited CDR's", ruleCreditAmount},
	{CodeUnknownToken, "the token is one the eMSP issued (when tokens are known)", ruleToken},
	{CodeUnknownLocation, "the location was published (when the owner's locations are known)", ruleLocation},
	{CodeUnknownEVSE, "the EVSE is in the published location", ruleEVSE},
}

// Validate runs every rule over one CDR.
func Validate(c *ocpi.CDR, x *Context) Findings {
	e := &emitter{c: c}
	if x == nil {
		x = &Context{}
	}
	for _, r := range Rules {
		e.code = r.Code
		r.check(c, x, e)
	}
	return e.out
}

// Check runs one rule (by code) over a CDR: what the rule's tests call.
func Check(code Code, c *ocpi.CDR, x *Context) Findings {
	e := &emitter{c: c, code: code}
	for _, r := range Rules {
		if r.Code == code {
			r.check(c, x, e)
		}
	}
	return e.out
}

type emitter struct {
	c    *ocpi.CDR
	code Code
	out  Findings
}

func (e *emitter) add(sev Severity, field string, blocking bool, format string, a ...any) {
	e.out = append(e.out, Finding{CountryCode: e.c.CountryCode, PartyID: e.c.PartyID, CDRID: e.c.ID, Code: e.code,
		Severity: sev, Field: field, Message: fmt.Sprintf(format, a...), Blocking: blocking})
}

// Field paths as each version spells them.
func endField(v ocpi.Version) string {
	if v == ocpi.V211 {
		return "stop_date_time"
	}
	return "end_date_time"
}

func locField(v ocpi.Version, f string) string {
	if v == ocpi.V211 {
		return "location." + f
	}
	return "cdr_location." + f
}

func tokenField(v ocpi.Version) string {
	if v == ocpi.V211 {
		return "auth_id"
	}
	return "cdr_token.uid"
}

func unknownTime(t time.Time) bool { return t.IsZero() || ocpi.IsUnknownDateTime(t) }

func ruleMissing(c *ocpi.CDR, x *Context, e *emitter) {
	v := c.Version
	miss := func(field string, missing, blocking bool, why string) {
		if missing {
			e.add(SeverityError, field, blocking, "required field is missing%s", why)
		}
	}
	miss("id", c.ID == "", false, "")
	if v != ocpi.V211 {
		miss("country_code", c.CountryCode == "", false, "")
		miss("party_id", c.PartyID == "", false, "")
	}
	miss("start_date_time", unknownTime(c.StartDateTime), true, ": tariff version, restrictions and step size need it")
	miss(endField(v), unknownTime(c.EndDateTime), true, ": the last period and the settlement period need it")
	if v == ocpi.V211 {
		miss("auth_id", c.Token.ContractID == "", false, "")
	} else if c.Token == (ocpi.CDRToken{}) {
		miss("cdr_token", true, false, "")
	} else {
		miss("cdr_token.uid", c.Token.UID == "", false, "")
		miss("cdr_token.type", c.Token.Type == "", false, "")
		miss("cdr_token.contract_id", c.Token.ContractID == "", false, "")
	}
	l := &c.Location
	miss(locField(v, "id"), l.ID == "", false, "")
	miss(locField(v, "address"), l.Address == "", false, "")
	miss(locField(v, "city"), l.City == "", false, "")
	miss(locField(v, "country"), l.Country == "", false, "")
	if v != ocpi.V211 {
		miss(locField(v, "evse_uid"), l.EVSEUID == "", false, "")
		miss(locField(v, "evse_id"), l.EVSEID == "", false, "")
		miss(locField(v, "connector_id"), l.ConnectorID == "", false, "")
	}
	miss("currency", c.Currency == "", true, ": amounts cannot be read")
	miss("charging_periods", len(c.ChargingPeriods) == 0, true, ": nothing to re-price")
	miss("total_cost", c.TotalCost == nil, true, ": no billed amount to check")
	// Numbers the model cannot tell from 0: the decoder saw them missing.
	for _, p := range x.Problems {
		if p.Rule == ocpi.RuleRequired && (p.Path == "total_energy" || p.Path == "total_time") {
			miss(p.Path, true, false, "")
		}
	}
}

func ruleCurrency(c *ocpi.CDR, x *Context, e *emitter) {
	t := x.Tariff
	if t == nil || c.Currency == "" || t.Currency == "" || strings.EqualFold(c.Currency, t.Currency) {
		return
	}
	e.add(SeverityError, "currency", true, "CDR in %s, its tariff %s (version of %s) in %s: the amounts cannot be compared",
		c.Currency, t.ID, ocpi.FormatDateTime(t.LastUpdated), t.Currency)
}

// minorUnit is one minor unit of the CDR's currency.
func minorUnit(currency string) decimal.Decimal {
	m, _ := pricing.CurrencyMinorUnits(currency)
	return decimal.New(1, -int32(m))
}

// prices lists the CDR's stated cost fields with their names.
func prices(c *ocpi.CDR) []struct {
	name string
	p    *ocpi.Price
} {
	return []struct {
		name string
		p    *ocpi.Price
	}{{"total_cost", c.TotalCost}, {"total_fixed_cost", c.TotalFixedCost}, {"total_energy_cost", c.TotalEnergyCost},
		{"total_time_cost", c.TotalTimeCost}, {"total_parking_cost", c.TotalParkingCost},
		{"total_reservation_cost", c.TotalReservationCost}}
}

func ruleTax(c *ocpi.CDR, x *Context, e *emitter) {
	for _, f := range prices(c) {
		if f.p == nil || !f.p.InclVAT.Valid {
			continue
		}
		if f.p.InclVAT.Decimal.Abs().LessThan(f.p.ExclVAT.Abs()) {
			e.add(SeverityError, f.name, false, "%s after tax (%s) is less than before tax (%s)", f.name,
				f.p.InclVAT.Decimal, f.p.ExclVAT)
		}
	}
	t := x.Tariff
	if t == nil || c.TotalCost == nil || !c.TotalCost.InclVAT.Valid || t.MinPrice != nil || t.MaxPrice != nil ||
		!strings.EqualFold(t.Currency, c.Currency) {
		return // a clamp moves excl and incl apart; another currency is CURRENCY_MISMATCH
	}
	lo, hi, ok := vatRange(t)
	if !ok {
		return
	}
	excl, incl := c.TotalCost.ExclVAT.Abs(), c.TotalCost.InclVAT.Decimal.Abs()
	hundred := decimal.NewFromInt(100)
	tol := minorUnit(c.Currency).Mul(decimal.NewFromInt(2)) // excl and incl are each rounded
	min := excl.Mul(hundred.Add(lo)).Div(hundred).Sub(tol)
	max := excl.Mul(hundred.Add(hi)).Div(hundred).Add(tol)
	if incl.LessThan(min) || incl.GreaterThan(max) {
		rates := lo.String() + " %"
		if !lo.Equal(hi) {
			rates = lo.String() + " to " + hi.String() + " %"
		}
		e.add(SeverityWarning, "total_cost", false, "tax %s on %s before tax is %s %%, outside the tariff's VAT of %s",
			incl.Sub(excl), excl, impliedRate(excl, incl), rates)
	}
}

// vatRange returns the lowest and highest VAT of the tariff's priced
// components (a component without vat adds none), and false when the tax
// cannot be known (a 2.3.0 tariff with taxes but no rates).
func vatRange(t *ocpi.Tariff) (lo, hi decimal.Decimal, ok bool) {
	if strings.EqualFold(t.TaxIncluded, ocpi.TaxIncludedNA) {
		return decimal.Zero, decimal.Zero, true
	}
	first := true
	for _, el := range t.Elements {
		for _, pc := range el.PriceComponents {
			r := decimal.Zero
			if pc.VAT.Valid {
				r = pc.VAT.Decimal
			} else if t.Version == ocpi.V230 && !strings.EqualFold(t.TaxIncluded, ocpi.TaxIncludedNA) {
				return lo, hi, false
			}
			if first || r.LessThan(lo) {
				lo = r
			}
			if first || r.GreaterThan(hi) {
				hi = r
			}
			first = false
		}
	}
	return lo, hi, !first
}

func impliedRate(excl, incl decimal.Decimal) string {
	if excl.IsZero() {
		return "?"
	}
	return incl.Sub(excl).Mul(decimal.NewFromInt(100)).DivRound(excl, 2).String()
}

func ruleTotals(c *ocpi.CDR, x *Context, e *emitter) {
	if c.Credit || c.TotalCost == nil || c.TotalFixedCost == nil || c.TotalEnergyCost == nil ||
		c.TotalTimeCost == nil || c.TotalParkingCost == nil {
		return // credit sub-totals keep their sign (digest 3.5); a missing part is no identity
	}
	if t := x.Tariff; t != nil && (t.MinPrice != nil || t.MaxPrice != nil) {
		return // where a clamp is booked is not stated (digest 3.6)
	}
	if hasWarning(x, pricing.WarnMinPriceApplied) || hasWarning(x, pricing.WarnMaxPriceApplied) {
		return
	}
	parts := []*ocpi.Price{c.TotalFixedCost, c.TotalEnergyCost, c.TotalTimeCost, c.TotalParkingCost}
	if c.TotalReservationCost != nil {
		parts = append(parts, c.TotalReservationCost)
	}
	// Each stated amount is rounded on its own: the parts may drift from
	// the total by half a minor unit each.
	tol := minorUnit(c.Currency).Mul(decimal.NewFromInt(int64(len(parts))))
	var excl, incl decimal.Decimal
	allIncl := c.TotalCost.InclVAT.Valid
	for _, p := range parts {
		excl = excl.Add(p.ExclVAT)
		if p.InclVAT.Valid {
			incl = incl.Add(p.InclVAT.Decimal)
		} else {
			allIncl = false
		}
	}
	if d := c.TotalCost.ExclVAT.Sub(excl); d.Abs().GreaterThan(tol) {
		e.add(SeverityError, "total_cost", false, "total_cost %s before tax is not the sum of the sub-totals %s (%s apart)",
			c.TotalCost.ExclVAT, excl, d)
	}
	if allIncl {
		if d := c.TotalCost.InclVAT.Decimal.Sub(incl); d.Abs().GreaterThan(tol) {
			e.add(SeverityError, "total_cost", false, "total_cost %s after tax is not the sum of the sub-totals %s (%s apart)",
				c.TotalCost.InclVAT.Decimal, incl, d)
		}
	}
}

func hasWarning(x *Context, code pricing.Code) bool {
	return x.Priced != nil && x.Priced.HasWarning(code)
}

// volumeTolerance: volumes carry 4 decimals and CPOs round totals to 3, so
// each summed volume may add half a thousandth.
func volumeTolerance(n int) decimal.Decimal { return decimal.New(int64(n+1), -3) }

func ruleVolumes(c *ocpi.CDR, _ *Context, e *emitter) {
	var energy, timeSum, parking decimal.Decimal
	var nEnergy, nTime, nParking int
	hour := decimal.NewFromInt(3600)
	for i := range c.ChargingPeriods {
		p := &c.ChargingPeriods[i]
		var used decimal.Decimal
		for _, d := range p.Dimensions {
			switch strings.ToUpper(d.Type) {
			case ocpi.DimEnergy:
				energy, nEnergy = energy.Add(d.Volume), nEnergy+1
			case ocpi.DimTime:
				timeSum, nTime = timeSum.Add(d.Volume), nTime+1
				used = used.Add(d.Volume)
			case ocpi.DimParkingTime:
				parking, nParking = parking.Add(d.Volume), nParking+1
				timeSum, nTime = timeSum.Add(d.Volume), nTime+1
				used = used.Add(d.Volume)
			case ocpi.DimReservationTime:
				used = used.Add(d.Volume)
			}
		}
		end := c.EndDateTime
		if i+1 < len(c.ChargingPeriods) {
			end = c.ChargingPeriods[i+1].StartDateTime
		}
		if unknownTime(end) || unknownTime(p.StartDateTime) || !end.After(p.StartDateTime) {
			continue
		}
		length := decimal.NewFromInt(end.Unix() - p.StartDateTime.Unix()).Div(hour)
		if used.Sub(length).GreaterThan(volumeTolerance(1)) {
			e.add(SeverityWarning, fmt.Sprintf("charging_periods[%d]", i), false,
				"TIME, PARKING_TIME and RESERVATION_TIME add up to %s h, more than the period's %s h", used, length.Round(4))
		}
	}
	differs := func(total, sum decimal.Decimal, n int) bool {
		return total.Sub(sum).Abs().GreaterThan(volumeTolerance(n))
	}
	if nEnergy > 0 && differs(c.TotalEnergy, energy, nEnergy) {
		e.add(SeverityWarning, "total_energy", false, "total_energy %s kWh is not the sum of the ENERGY volumes %s", c.TotalEnergy, energy)
	}
	if nTime > 0 && differs(c.TotalTime, timeSum, nTime) {
		e.add(SeverityWarning, "total_time", false, "total_time %s h is not the sum of the TIME and PARKING_TIME volumes %s", c.TotalTime, timeSum)
	}
	if c.TotalParkingTime.Valid && nTime > 0 && differs(c.TotalParkingTime.Decimal, parking, nParking) {
		e.add(SeverityWarning, "total_parking_time", false, "total_parking_time %s h is not the sum of the PARKING_TIME volumes %s",
			c.TotalParkingTime.Decimal, parking)
	}
}

func rulePeriodsOrder(c *ocpi.CDR, _ *Context, e *emitter) {
	known := !unknownTime(c.StartDateTime) && !unknownTime(c.EndDateTime)
	var prev time.Time
	for i := range c.ChargingPeriods {
		s := c.ChargingPeriods[i].StartDateTime
		field := fmt.Sprintf("charging_periods[%d].start_date_time", i)
		switch {
		case s.IsZero():
		case known && (s.Before(c.StartDateTime) || !s.Before(c.EndDateTime)):
			e.add(SeverityError, field, false, "period starts at %s, outside the session %s - %s", ocpi.FormatDateTime(s),
				ocpi.FormatDateTime(c.StartDateTime), ocpi.FormatDateTime(c.EndDateTime))
		case !prev.IsZero() && s.Before(prev):
			e.add(SeverityError, field, false, "period starts at %s, before the previous one (%s)", ocpi.FormatDateTime(s),
				ocpi.FormatDateTime(prev))
		}
		if !s.IsZero() {
			prev = s
		}
	}
}

func rulePeriodNotSplit(_ *ocpi.CDR, x *Context, e *emitter) {
	if x.Priced == nil {
		return
	}
	for _, w := range x.Priced.Warnings {
		if w.Code == pricing.WarnBoundaryInPeriod {
			e.add(SeverityWarning, fmt.Sprintf("charging_periods[%d]", w.Period), false, "%s", w.Message)
		}
	}
}

func ruleRestriction(_ *ocpi.CDR, x *Context, e *emitter) {
	if x.Priced == nil {
		return
	}
	for _, w := range x.Priced.Warnings {
		if w.Code == pricing.WarnUnverifiable {
			field := "charging_periods"
			if w.Period >= 0 {
				field = fmt.Sprintf("charging_periods[%d].dimensions", w.Period)
			}
			e.add(SeverityWarning, field, false, "%s", w.Message)
		}
	}
}

func ruleSessionLength(c *ocpi.CDR, x *Context, e *emitter) {
	lim := x.Limits.MaxSession
	if lim <= 0 {
		lim = DefaultLimits().MaxSession
	}
	if unknownTime(c.StartDateTime) || unknownTime(c.EndDateTime) {
		return
	}
	if d := c.EndDateTime.Sub(c.StartDateTime); d > lim {
		e.add(SeverityWarning, endField(c.Version), false, "session of %s, longer than the plausible %s", d, lim)
	}
}

// PeriodTime is the instant a CDR is settled by (DESIGN invariant 7): its
// end, else its start when the end is unknown.
func PeriodTime(c *ocpi.CDR) time.Time {
	if !unknownTime(c.EndDateTime) {
		return c.EndDateTime
	}
	return c.StartDateTime
}

func ruleOutsidePeriod(c *ocpi.CDR, x *Context, e *emitter) {
	w := x.Period
	t := PeriodTime(c)
	if w.IsZero() || unknownTime(t) || w.Contains(t) {
		return
	}
	name := w.Name
	if name == "" {
		name = ocpi.FormatDateTime(w.From) + " - " + ocpi.FormatDateTime(w.To)
	}
	e.add(SeverityWarning, endField(c.Version), false, "ends %s, outside the settlement period %s", ocpi.FormatDateTime(t), name)
}

func ruleDuplicate(c *ocpi.CDR, x *Context, e *emitter) {
	if x.Stored == nil {
		return
	}
	if n, _ := x.Stored.Received(c.CountryCode, c.PartyID, c.ID); n > 0 {
		e.add(SeverityError, "id", false, "the same CDR was received %d more time(s): one claim, to be billed once", n)
	}
}

func ruleConflict(c *ocpi.CDR, x *Context, e *emitter) {
	if x.Stored == nil {
		return
	}
	if _, n := x.Stored.Received(c.CountryCode, c.PartyID, c.ID); n > 0 {
		e.add(SeverityError, "id", false, "%d different CDR(s) under this id were refused (CDRs are immutable): the partner holds two claims for one session", n)
	}
}

func ruleCreditReference(c *ocpi.CDR, x *Context, e *emitter) {
	if !c.Credit || c.Version == ocpi.V211 {
		return
	}
	if c.CreditReferenceID == "" {
		e.add(SeverityError, "credit_reference_id", false, "credit CDR without credit_reference_id")
		return
	}
	if x.Stored == nil {
		return
	}
	if _, ok := x.Stored.Credited(c.CountryCode, c.PartyID, c.CreditReferenceID); !ok {
		e.add(SeverityError, "credit_reference_id", false, "credits %s, a CDR we never received", c.CreditReferenceID)
	}
}

func ruleCreditAmount(c *ocpi.CDR, x *Context, e *emitter) {
	if !c.Credit || x.Stored == nil || c.CreditReferenceID == "" || c.TotalCost == nil {
		return
	}
	o, ok := x.Stored.Credited(c.CountryCode, c.PartyID, c.CreditReferenceID)
	if !ok || o.TotalCost == nil {
		return
	}
	if !c.TotalCost.ExclVAT.Equal(o.TotalCost.ExclVAT.Neg()) {
		e.add(SeverityError, "total_cost", false, "credits %s before tax, the credited CDR %s billed %s",
			c.TotalCost.ExclVAT, o.ID, o.TotalCost.ExclVAT)
	}
	if c.TotalCost.InclVAT.Valid && o.TotalCost.InclVAT.Valid && !c.TotalCost.InclVAT.Decimal.Equal(o.TotalCost.InclVAT.Decimal.Neg()) {
		e.add(SeverityError, "total_cost", false, "credits %s after tax, the credited CDR %s billed %s",
			c.TotalCost.InclVAT.Decimal, o.ID, o.TotalCost.InclVAT.Decimal)
	}
}

func ruleToken(c *ocpi.CDR, x *Context, e *emitter) {
	if x.Tokens == nil || x.Tokens.Len() == 0 || (c.Token.UID == "" && c.Token.ContractID == "") {
		return
	}
	if x.Tokens.Known(&c.Token, c.Version) {
		return
	}
	what := c.Token.UID
	if c.Version == ocpi.V211 || what == "" {
		what = c.Token.ContractID
	}
	e.add(SeverityError, tokenField(c.Version), false, "token %s is not one the eMSP issued", what)
}

func ruleLocation(c *ocpi.CDR, x *Context, e *emitter) {
	if x.Locations == nil || c.Location.ID == "" {
		return
	}
	if owner, loc, _ := x.Locations.lookup(c.CountryCode, c.PartyID, c.Location.ID, c.Location.EVSEUID); owner && !loc {
		e.add(SeverityWarning, locField(c.Version, "id"), false, "location %s was never published by %s", c.Location.ID,
			ocpi.PartyKey(c.CountryCode, c.PartyID))
	}
}

func ruleEVSE(c *ocpi.CDR, x *Context, e *emitter) {
	u := c.Location.EVSEUID
	if x.Locations == nil || c.Version == ocpi.V211 || u == "" || u == "#NA" {
		return
	}
	if _, loc, evse := x.Locations.lookup(c.CountryCode, c.PartyID, c.Location.ID, u); loc && !evse {
		e.add(SeverityWarning, locField(c.Version, "evse_uid"), false, "EVSE %s is not in the published location %s", u, c.Location.ID)
	}
}
