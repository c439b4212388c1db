package ocpi

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// ValidateCDR checks a decoded CDR against the rules of its version and
// returns every problem found. Required numbers (total_cost, total_energy,
// total_time, dimension volumes) are checked by Decode, which sees whether
// they were sent: the model cannot tell a missing total_energy from 0 (a
// missing total_cost it can: nil).
func ValidateCDR(c *CDR) Problems {
	var v validator
	v.cdr(c)
	return v.probs
}

// ValidateLocation checks a decoded location; see ValidateCDR.
func ValidateLocation(l *Location) Problems {
	var v validator
	v.location(l)
	return v.probs
}

type validator struct {
	problemSink
}

// Closed enums. CDR dimension types depend on the version; the session-only
// ones are known but not allowed in a CDR.
var (
	cdrDimensions211  = []string{DimEnergy, DimFlat, DimMaxCurrent, DimMinCurrent, DimParkingTime, DimTime}
	cdrDimensions22   = []string{DimEnergy, DimMaxCurrent, DimMinCurrent, DimMaxPower, DimMinPower, DimParkingTime, DimReservationTime, DimTime}
	sessionDimensions = []string{DimCurrent, DimEnergyExport, DimEnergyImport, DimPower, DimStateOfCharge}
	tariffDimensions  = []string{TariffDimEnergy, TariffDimFlat, TariffDimParkingTime, TariffDimTime}
	tariffTypes       = []string{TariffAdHocPayment, TariffProfileCheap, TariffProfileFast, TariffProfileGreen, TariffRegular}
	reservationTypes  = []string{ReservationReservation, ReservationExpires}
	taxIncludedValues = []string{TaxIncludedYes, TaxIncludedNo, TaxIncludedNA}
	authMethods211    = []string{"AUTH_REQUEST", "WHITELIST"}
	authMethods22     = []string{"AUTH_REQUEST", "COMMAND", "WHITELIST"}
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// requiredList checks a list that needs at least one element and says
// which way it fails: absent, or present but empty ("charging_periods": []).
// It reports whether the list has no element.
func (v *validator) requiredList(field string, present bool, n int, blocking bool) bool {
	switch {
	case n > 0:
		return false
	case present:
		v.reportAt(field, RuleRequired, blocking, "the list is empty; at least one element is required")
	default:
		v.reportAt(field, RuleRequired, blocking, "required field is missing")
	}
	return true
}

func (v *validator) required(field string, missing, blocking bool) bool {
	if missing {
		v.reportAt(field, RuleRequired, blocking, "required field is missing")
	}
	return missing
}

// str checks a string field: required (when req), and its maximum length in
// characters (the spec does not say bytes or characters; characters are the
// lenient reading). Lengths never block: storage keeps any length.
func (v *validator) str(field, s string, max int, req, blocking bool) {
	if s == "" {
		v.required(field, req, blocking)
		return
	}
	if len(s) > max && utf8.RuneCountInString(s) > max {
		v.reportAt(field, RuleLength, false, "longer than "+strconv.Itoa(max)+" characters ("+
			strconv.Itoa(utf8.RuneCountInString(s))+")")
	}
}

// ciString reports an identifier with characters a CiString does not allow
// (printable ASCII without space; "/" cannot be addressed in a URL either).
// It never blocks: the object is still a billing claim.
func (v *validator) ciString(field, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '/' {
			v.reportAt(field, RuleFormat, false, fmt.Sprintf("%q has characters OCPI does not allow in an identifier "+
				"(printable ASCII without spaces or \"/\"), the first at byte %d", s, i))
			return
		}
	}
}

func (v *validator) enum(field, s string, allowed []string, blocking bool) {
	if s != "" && !contains(allowed, s) {
		v.reportAt(field, RuleEnum, blocking, "unknown value "+strconv.Quote(s))
	}
}

func (v *validator) currency(field, s string) {
	if v.required(field, s == "", true) {
		return
	}
	if _, ok := CurrencyMinorUnits(s); !ok {
		v.reportAt(field, RuleCurrency, true, strconv.Quote(s)+" is not an ISO 4217 currency code")
	}
}

func (v *validator) lastUpdated(t time.Time) {
	v.required("last_updated", t.IsZero(), false)
}

func (v *validator) owner(cc, pid string, version Version) {
	if version == V211 && cc == "" && pid == "" {
		return // 2.1.1 objects carry no owner fields
	}
	v.str("country_code", cc, 2, true, false)
	v.str("party_id", pid, 3, true, false)
}

func (v *validator) cdr(c *CDR) {
	v211 := c.Version == V211
	v.owner(c.CountryCode, c.PartyID, c.Version)
	v.str("id", c.ID, pick(v211, 36, 39), true, false)
	v.ciString("id", c.ID)

	endField := pick(v211, "stop_date_time", "end_date_time")
	startKnown := v.sessionTime("start_date_time", c.StartDateTime)
	endKnown := v.sessionTime(endField, c.EndDateTime)
	if startKnown && endKnown {
		switch {
		case c.EndDateTime.Before(c.StartDateTime):
			v.reportAt(endField, RuleEndBeforeStart, true, "session ends ("+FormatDateTime(c.EndDateTime)+
				") before it starts ("+FormatDateTime(c.StartDateTime)+")")
		case c.EndDateTime.Equal(c.StartDateTime):
			v.reportAt(endField, RuleEndBeforeStart, false, "session ends when it starts")
		}
	}

	if v211 {
		v.str("auth_id", c.Token.ContractID, 36, true, false)
		v.enum("auth_method", c.AuthMethod, authMethods211, false)
	} else {
		v.str("session_id", c.SessionID, 36, false, false)
		v.str("authorization_reference", c.AuthorizationReference, 36, false, false)
		v.enum("auth_method", c.AuthMethod, authMethods22, false)
		v.cdrToken(&c.Token)
		v.str("invoice_reference_id", c.InvoiceReferenceID, 39, false, false)
		v.str("credit_reference_id", c.CreditReferenceID, 39, false, false)
	}
	v.required("auth_method", c.AuthMethod == "", false)
	v.cdrLocation(&c.Location, c.Version)
	v.str("meter_id", c.MeterID, 255, false, false)
	v.currency("currency", c.Currency)
	for i := range c.Tariffs {
		m := v.enter("tariffs")
		k := v.index(i)
		v.tariff(&c.Tariffs[i])
		v.leave(k)
		v.leave(m)
	}
	v.chargingPeriods(c, startKnown && endKnown && !c.EndDateTime.Before(c.StartDateTime))
	v.totals(c)
	v.credit(c)
	v.str("remark", c.Remark, 255, false, false)
	v.lastUpdated(c.LastUpdated)
}

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// sessionTime checks a CDR start or end and reports whether it is known.
// The 1970 sentinel (unknown start/end, by bilateral agreement only) blocks
// pricing: restrictions, tariff versions and step sizes all need the time.
func (v *validator) sessionTime(field string, t time.Time) bool {
	switch {
	case t.IsZero():
		v.required(field, true, true)
		return false
	case IsUnknownDateTime(t):
		v.reportAt(field, RuleRequired, true, "unknown (1970-01-01T00:00:00Z sentinel)")
		return false
	}
	return true
}

func (v *validator) cdrToken(t *CDRToken) {
	if *t == (CDRToken{}) {
		v.required("cdr_token", true, false)
		return
	}
	m := v.enter("cdr_token")
	defer v.leave(m)
	v.str("country_code", t.CountryCode, 2, true, false)
	v.str("party_id", t.PartyID, 3, true, false)
	v.str("uid", t.UID, 36, true, false)
	v.required("type", t.Type == "", false) // TokenType is an OpenEnum
	v.str("contract_id", t.ContractID, 36, true, false)
}

// cdrLocation checks the location snapshot. Nothing in it blocks pricing:
// the time zone comes from the stored Location or a configured default.
func (v *validator) cdrLocation(l *CDRLocation, version Version) {
	if version == V211 {
		m := v.enter("location")
		defer v.leave(m)
		v.str("id", l.ID, 39, true, false)
		v.str("address", l.Address, 45, true, false)
		v.str("city", l.City, 45, true, false)
		v.str("country", l.Country, 3, true, false)
		v.geo(l.Coordinates)
		return
	}
	if l.ID == "" && l.Address == "" && l.City == "" && l.Country == "" && l.EVSEUID == "" && l.ConnectorID == "" {
		v.required("cdr_location", true, false)
		return
	}
	m := v.enter("cdr_location")
	defer v.leave(m)
	v.str("id", l.ID, 36, true, false)
	v.str("name", l.Name, 255, false, false)
	v.str("address", l.Address, 45, true, false)
	v.str("city", l.City, 45, true, false)
	v.str("postal_code", l.PostalCode, 10, false, false)
	v.str("state", l.State, 20, false, false)
	v.str("country", l.Country, 3, true, false)
	v.geo(l.Coordinates)
	v.str("evse_uid", l.EVSEUID, 36, true, false)
	v.str("evse_id", l.EVSEID, 48, true, false)
	v.str("connector_id", l.ConnectorID, 36, true, false)
	v.required("connector_standard", l.ConnectorStandard == "", false)
	v.required("connector_format", l.ConnectorFormat == "", false)
	v.required("connector_power_type", l.ConnectorPowerType == "", false)
}

// geo checks coordinates against OCPI's regexes (2.2+ wording, which 2.1.1's
// stricter "exactly 6 decimals" examples themselves do not follow).
func (v *validator) geo(g GeoLocation) {
	m := v.enter("coordinates")
	defer v.leave(m)
	if g.Latitude == "" && g.Longitude == "" {
		v.report(RuleRequired, false, "required field is missing")
		return
	}
	if !coordinateOK(g.Latitude, 2) {
		v.reportAt("latitude", RuleFormat, false, strconv.Quote(g.Latitude)+` does not match -?[0-9]{1,2}\.[0-9]{5,7}`)
	}
	if !coordinateOK(g.Longitude, 3) {
		v.reportAt("longitude", RuleFormat, false, strconv.Quote(g.Longitude)+` does not match -?[0-9]{1,3}\.[0-9]{5,7}`)
	}
}

// coordinateOK matches -?[0-9]{1,intDigits}\.[0-9]{5,7}.
func coordinateOK(s string, intDigits int) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < 1 || i > intDigits || i >= len(s) || s[i] != '.' {
		return false
	}
	f := s[i+1:]
	if len(f) < 5 || len(f) > 7 {
		return false
	}
	for j := 0; j < len(f); j++ {
		if !isDigit(f[j]) {
			return false
		}
	}
	return true
}

// volumeTolerance is how far a declared total may be from the sum of its
// period volumes: volumes carry ~4 decimals and CPOs round to 3, so each
// summed volume may add half a thousandth.
func volumeTolerance(n int) decimal.Decimal {
	return decimal.New(int64(n+1), -3)
}

func (v *validator) chargingPeriods(c *CDR, sessionKnown bool) {
	if v.requiredList("charging_periods", c.ChargingPeriods != nil, len(c.ChargingPeriods), true) {
		return
	}
	dims := cdrDimensions22
	if c.Version == V211 {
		dims = cdrDimensions211
	}
	m := v.enter("charging_periods")
	defer v.leave(m)
	var prev time.Time
	for i := range c.ChargingPeriods {
		p := &c.ChargingPeriods[i]
		k := v.index(i)
		if !v.required("start_date_time", p.StartDateTime.IsZero(), true) {
			switch {
			case sessionKnown && (p.StartDateTime.Before(c.StartDateTime) || p.StartDateTime.After(c.EndDateTime)):
				v.reportAt("start_date_time", RuleOrder, true, "period starts at "+FormatDateTime(p.StartDateTime)+
					", outside the session "+FormatDateTime(c.StartDateTime)+" - "+FormatDateTime(c.EndDateTime))
			case !prev.IsZero() && p.StartDateTime.Before(prev):
				v.reportAt("start_date_time", RuleOrder, true, "period starts before the previous one ("+FormatDateTime(prev)+")")
			case !prev.IsZero() && p.StartDateTime.Equal(prev):
				v.reportAt("start_date_time", RuleOrder, false, "period starts when the previous one does (zero length)")
			}
			prev = p.StartDateTime
		}
		if c.Version != V211 {
			v.str("tariff_id", p.TariffID, 36, false, false)
		}
		if !v.requiredList("dimensions", p.Dimensions != nil, len(p.Dimensions), true) {
			dm := v.enter("dimensions")
			for j := range p.Dimensions {
				x := &p.Dimensions[j]
				jm := v.index(j)
				switch {
				case x.Type == "":
					v.required("type", true, true)
				case contains(dims, x.Type):
					v.negativeVolume(x, c.Version)
				case c.Version != V211 && contains(sessionDimensions, x.Type):
					v.reportAt("type", RuleEnum, false, x.Type+" is a Session dimension, not allowed in a CDR (ignored)")
				default:
					// An unknown type may be a misspelt ENERGY or TIME: pricing
					// would silently miss it, so it blocks.
					v.reportAt("type", RuleEnum, true, "unknown CDR dimension type "+strconv.Quote(x.Type))
				}
				v.leave(jm)
			}
			v.leave(dm)
		}
		v.leave(k)
	}
}

// negativeVolume flags negative volumes. Time volumes can never be negative;
// 2.2+ allows negative ENERGY (net export) and negative currents and powers
// (EV to grid).
func (v *validator) negativeVolume(x *CDRDimension, version Version) {
	if !x.Volume.IsNegative() {
		return
	}
	switch x.Type {
	case DimTime, DimParkingTime, DimReservationTime, DimFlat:
		v.reportAt("volume", RuleNegative, true, "negative "+x.Type+" volume "+x.Volume.String())
	case DimEnergy:
		if version == V211 {
			v.reportAt("volume", RuleNegative, true, "negative ENERGY volume "+x.Volume.String())
		}
	default:
		if version == V211 {
			v.reportAt("volume", RuleNegative, false, "negative "+x.Type+" volume "+x.Volume.String())
		}
	}
}

// totals cross-checks the declared totals against the periods and the cost
// breakdown. None of this blocks pricing: pricing reads the periods, and
// reconciliation reports the differences.
func (v *validator) totals(c *CDR) {
	var energyAcc, timeAcc, parkingAcc volumeSum
	var nEnergy, nTime, nParking int
	for i := range c.ChargingPeriods {
		for _, x := range c.ChargingPeriods[i].Dimensions {
			switch x.Type {
			case DimEnergy:
				energyAcc.add(x.Volume)
				nEnergy++
			case DimTime:
				timeAcc.add(x.Volume)
				nTime++
			case DimParkingTime:
				parkingAcc.add(x.Volume)
				timeAcc.add(x.Volume)
				nParking++
				nTime++
			}
		}
	}
	energy, timeSum, parking := energyAcc.sum(), timeAcc.sum(), parkingAcc.sum()
	differs := func(total, sum decimal.Decimal, n int) bool {
		return total.Sub(sum).Abs().GreaterThan(volumeTolerance(n))
	}
	if nEnergy > 0 && differs(c.TotalEnergy, energy, nEnergy) {
		v.reportAt("total_energy", RuleTotals, false, "total_energy "+c.TotalEnergy.String()+
			" kWh differs from the sum of ENERGY volumes "+energy.String())
	}
	if nTime > 0 && differs(c.TotalTime, timeSum, nTime) {
		v.reportAt("total_time", RuleTotals, false, "total_time "+c.TotalTime.String()+
			" h differs from the sum of TIME and PARKING_TIME volumes "+timeSum.String())
	}
	if c.TotalParkingTime.Valid && nTime > 0 && differs(c.TotalParkingTime.Decimal, parking, nParking) {
		v.reportAt("total_parking_time", RuleTotals, false, "total_parking_time "+c.TotalParkingTime.Decimal.String()+
			" h differs from the sum of PARKING_TIME volumes "+parking.String())
	}
	if c.TotalTime.IsNegative() {
		v.reportAt("total_time", RuleNegative, false, "negative total_time "+c.TotalTime.String())
	}
	if c.TotalParkingTime.Valid && c.TotalParkingTime.Decimal.GreaterThan(c.TotalTime) && !c.TotalTime.IsZero() {
		v.reportAt("total_parking_time", RuleTotals, false, "total_parking_time is longer than total_time")
	}

	// Sub-totals against total_cost: only when every sub-total is present
	// (reservation cost may be absent) and not for credit CDRs, whose
	// sub-totals keep their original sign (digest 3.5).
	if c.Credit || c.Version == V211 || c.TotalCost == nil || c.TotalFixedCost == nil || c.TotalEnergyCost == nil ||
		c.TotalTimeCost == nil || c.TotalParkingCost == nil {
		return
	}
	parts := []*Price{c.TotalFixedCost, c.TotalEnergyCost, c.TotalTimeCost, c.TotalParkingCost}
	if c.TotalReservationCost != nil {
		parts = append(parts, c.TotalReservationCost)
	}
	minor, ok := CurrencyMinorUnits(c.Currency)
	if !ok {
		minor = 2
	}
	tol := decimal.New(int64(len(parts)), -int32(minor))
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
	if c.TotalCost.ExclVAT.Sub(excl).Abs().GreaterThan(tol) {
		v.reportAt("total_cost", RuleTotals, false, "total_cost "+c.TotalCost.ExclVAT.String()+
			" before taxes differs from the sum of the cost breakdown "+excl.String())
	}
	if allIncl && c.TotalCost.InclVAT.Decimal.Sub(incl).Abs().GreaterThan(tol) {
		v.reportAt("total_cost", RuleTotals, false, "total_cost "+c.TotalCost.InclVAT.Decimal.String()+
			" after taxes differs from the sum of the cost breakdown "+incl.String())
	}
}

func (v *validator) credit(c *CDR) {
	if c.Version == V211 {
		return
	}
	switch {
	case c.Credit && c.CreditReferenceID == "":
		v.reportAt("credit_reference_id", RuleCredit, false, "credit CDR without credit_reference_id")
	case !c.Credit && c.CreditReferenceID != "":
		v.reportAt("credit", RuleCredit, false, "credit_reference_id set on a CDR that is not a credit")
	}
	if c.TotalCost == nil {
		return
	}
	if c.Credit && c.TotalCost.ExclVAT.IsPositive() {
		v.reportAt("total_cost", RuleCredit, false, "credit CDR with a positive total_cost "+c.TotalCost.ExclVAT.String())
	}
	if !c.Credit && c.TotalCost.ExclVAT.IsNegative() {
		v.reportAt("total_cost", RuleNegative, false, "negative total_cost "+c.TotalCost.ExclVAT.String()+" on a CDR that is not a credit")
	}
}

func (v *validator) tariff(t *Tariff) {
	v211 := t.Version == V211
	v.owner(t.CountryCode, t.PartyID, t.Version)
	v.str("id", t.ID, 36, true, false)
	v.ciString("id", t.ID)
	v.currency("currency", t.Currency)
	// Pricing never reads the type (it picks no tariff by it): reported only.
	v.enum("type", t.Type, tariffTypes, false)
	for i, a := range t.AltText {
		m := v.enter("tariff_alt_text")
		k := v.index(i)
		v.str("language", a.Language, 2, true, false)
		v.str("text", a.Text, 512, true, false)
		v.leave(k)
		v.leave(m)
	}
	v.str("tariff_alt_url", t.AltURL, 255, false, false)
	v.priceLimit("min_price", t.MinPrice)
	v.priceLimit("max_price", t.MaxPrice)
	if t.MinPrice != nil && t.MaxPrice != nil {
		if t.MinPrice.ExclVAT.GreaterThan(t.MaxPrice.ExclVAT) ||
			(t.MinPrice.InclVAT.Valid && t.MaxPrice.InclVAT.Valid && t.MinPrice.InclVAT.Decimal.GreaterThan(t.MaxPrice.InclVAT.Decimal)) {
			v.reportAt("min_price", RuleOrder, true, "min_price is greater than max_price")
		}
	}
	if !v.requiredList("elements", t.Elements != nil, len(t.Elements), true) {
		m := v.enter("elements")
		for i := range t.Elements {
			k := v.index(i)
			v.tariffElement(&t.Elements[i], t.Version)
			v.leave(k)
		}
		v.leave(m)
	}
	if t.Version == V230 {
		// Not blocking: the 2.3.0 spec's own CDR example embeds a tariff
		// without it; pricing then reads the prices as excluding taxes.
		v.required("tax_included", t.TaxIncluded == "", false)
		v.enum("tax_included", t.TaxIncluded, taxIncludedValues, true)
	}
	if !v211 && t.StartDateTime != nil && t.EndDateTime != nil && !t.EndDateTime.After(*t.StartDateTime) {
		v.reportAt("end_date_time", RuleEndBeforeStart, true, "tariff ends ("+FormatDateTime(*t.EndDateTime)+
			") before it starts ("+FormatDateTime(*t.StartDateTime)+")")
	}
	v.lastUpdated(t.LastUpdated)
}

func (v *validator) priceLimit(field string, p *PriceLimit) {
	if p == nil {
		return
	}
	if p.ExclVAT.IsNegative() || (p.InclVAT.Valid && p.InclVAT.Decimal.IsNegative()) {
		v.reportAt(field, RuleNegative, true, "negative "+field)
	}
	if p.InclVAT.Valid && p.InclVAT.Decimal.LessThan(p.ExclVAT) {
		v.reportAt(field, RuleOrder, false, field+" after taxes is less than before taxes")
	}
}

func (v *validator) tariffElement(el *TariffElement, version Version) {
	if !v.requiredList("price_components", el.PriceComponents != nil, len(el.PriceComponents), true) {
		m := v.enter("price_components")
		for i := range el.PriceComponents {
			pc := &el.PriceComponents[i]
			k := v.index(i)
			v.required("type", pc.Type == "", true)
			v.enum("type", pc.Type, tariffDimensions, true)
			if pc.Price.IsNegative() {
				v.reportAt("price", RuleNegative, false, "negative price "+pc.Price.String())
			}
			if pc.VAT.Valid && pc.VAT.Decimal.IsNegative() {
				v.reportAt("vat", RuleNegative, false, "negative VAT percentage "+pc.VAT.Decimal.String())
			}
			if pc.StepSize < 0 {
				v.reportAt("step_size", RuleNegative, true, "negative step_size "+strconv.FormatInt(pc.StepSize, 10))
			}
			v.leave(k)
		}
		v.leave(m)
	}
	if el.Restrictions != nil {
		m := v.enter("restrictions")
		v.restrictions(el.Restrictions, version)
		v.leave(m)
	}
}

func (v *validator) restrictions(r *TariffRestrictions, version Version) {
	for _, f := range [...]struct {
		name, value string
	}{{"start_time", r.StartTime}, {"end_time", r.EndTime}} {
		if f.value != "" && !hhmmOK(f.value) {
			v.reportAt(f.name, RuleFormat, true, strconv.Quote(f.value)+" is not a time of day HH:MM (00:00 to 23:59)")
		}
	}
	startDate, startOK := r.StartDate, true
	for _, f := range [...]struct {
		name, value string
		ok          *bool
	}{{"start_date", r.StartDate, &startOK}, {"end_date", r.EndDate, nil}} {
		if f.value != "" && !dateOK(f.value) {
			v.reportAt(f.name, RuleFormat, true, strconv.Quote(f.value)+" is not a date YYYY-MM-DD")
			if f.ok != nil {
				*f.ok = false
			}
		}
	}
	// The end date is exclusive; an element whose window is empty simply
	// never applies, so this does not block.
	if startOK && startDate != "" && r.EndDate != "" && dateOK(r.EndDate) && r.EndDate <= startDate {
		v.reportAt("end_date", RuleEndBeforeStart, false, "end_date "+r.EndDate+" is not after start_date "+startDate+
			" (the element never applies)")
	}
	for _, f := range [...]struct {
		lo, hi         string
		min, max       decimal.NullDecimal
		allowsNegative bool
	}{
		{"min_kwh", "max_kwh", r.MinKWh, r.MaxKWh, false},
		{"min_current", "max_current", r.MinCurrent, r.MaxCurrent, false},
		{"min_power", "max_power", r.MinPower, r.MaxPower, false},
	} {
		for _, b := range [...]struct {
			name string
			val  decimal.NullDecimal
		}{{f.lo, f.min}, {f.hi, f.max}} {
			if b.val.Valid && b.val.Decimal.IsNegative() {
				v.reportAt(b.name, RuleNegative, false, "negative "+b.name+" "+b.val.Decimal.String())
			}
		}
		if f.min.Valid && f.max.Valid && f.min.Decimal.GreaterThan(f.max.Decimal) {
			v.reportAt(f.lo, RuleOrder, false, f.lo+" is greater than "+f.hi+" (the element never applies)")
		}
	}
	if r.MinDuration != nil && *r.MinDuration < 0 {
		v.reportAt("min_duration", RuleNegative, false, "negative min_duration")
	}
	if r.MaxDuration != nil && *r.MaxDuration < 0 {
		v.reportAt("max_duration", RuleNegative, false, "negative max_duration")
	}
	if r.MinDuration != nil && r.MaxDuration != nil && *r.MinDuration > *r.MaxDuration {
		v.reportAt("min_duration", RuleOrder, false, "min_duration is greater than max_duration (the element never applies)")
	}
	if len(r.DayOfWeek) > 0 {
		m := v.enter("day_of_week")
		for i, day := range r.DayOfWeek {
			if !contains(DaysOfWeek, day) {
				k := v.index(i)
				v.report(RuleEnum, true, "unknown day of week "+strconv.Quote(day))
				v.leave(k)
			}
		}
		v.leave(m)
	}
	if version != V211 {
		v.enum("reservation", r.Reservation, reservationTypes, true)
	}
}

// hhmmOK matches ([0-1][0-9]|2[0-3]):[0-5][0-9].
func hhmmOK(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	h, ok1 := digits(s[0:2])
	mi, ok2 := digits(s[3:5])
	return ok1 && ok2 && h <= 23 && mi <= 59
}

// dateOK matches ([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])
// and also refuses days the month does not have.
func dateOK(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || (s[0] != '1' && s[0] != '2') {
		return false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	return ok1 && ok2 && ok3 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y)
}

// location checks a location. Only the EVSE uid and connector id block: a
// connector that cannot be addressed cannot offer its tariffs to a CDR.
func (v *validator) location(l *Location) {
	v211 := l.Version == V211
	v.owner(l.CountryCode, l.PartyID, l.Version)
	v.str("id", l.ID, pick(v211, 39, 36), true, false)
	v.ciString("id", l.ID)
	v.str("name", l.Name, 255, false, false)
	v.str("address", l.Address, pick(l.Version == V230, 255, 45), true, false)
	v.str("city", l.City, 45, true, false)
	v.str("postal_code", l.PostalCode, 10, false, false)
	v.str("state", l.State, pick(l.Version == V230, 45, 20), false, false)
	v.str("country", l.Country, 3, true, false)
	v.geo(l.Coordinates)
	v.str("time_zone", l.TimeZone, 255, !v211, false)
	if l.TimeZone != "" && !ianaZone(l.TimeZone) {
		v.reportAt("time_zone", RuleFormat, false, strconv.Quote(l.TimeZone)+" is not an IANA time zone name "+
			"(e.g. Europe/Berlin): pricing takes the zone from the coordinates or the country instead")
	}
	m := v.enter("evses")
	for i := range l.EVSEs {
		e := &l.EVSEs[i]
		k := v.index(i)
		v.str("uid", e.UID, pick(v211, 39, 36), true, true)
		v.str("evse_id", e.EVSEID, 48, false, false)
		if !v.requiredList("connectors", e.Connectors != nil, len(e.Connectors), false) {
			cm := v.enter("connectors")
			for j := range e.Connectors {
				c := &e.Connectors[j]
				ck := v.index(j)
				v.str("id", c.ID, 36, true, true)
				v.required("standard", c.Standard == "", false)
				v.required("format", c.Format == "", false)
				v.required("power_type", c.PowerType == "", false)
				field := pick(v211, "tariff_id", "tariff_ids")
				for n, id := range c.TariffIDs {
					if v211 {
						v.str(field, id, 36, false, false)
					} else {
						tm := v.enter(field)
						tk := v.index(n)
						v.str("", id, 36, false, false)
						v.leave(tk)
						v.leave(tm)
					}
				}
				v.lastUpdated(c.LastUpdated)
				v.leave(ck)
			}
			v.leave(cm)
		}
		v.lastUpdated(e.LastUpdated)
		v.leave(k)
	}
	v.leave(m)
	v.lastUpdated(l.LastUpdated)
}

// invoice checks an invoice reconciliation record. CDR ids may be 39
// characters (credit CDRs) although the record's type says 36: 39 is
// accepted.
func (v *validator) invoice(r *InvoiceReconciliationRecord) {
	v.owner(r.CountryCode, r.PartyID, r.Version)
	v.str("id", r.ID, 36, true, false)
	v.ciString("id", r.ID)
	v.str("invoice_id", r.InvoiceID, 255, true, false)
	if !v.required("cdrs", len(r.CDRs) == 0, false) {
		m := v.enter("cdrs")
		for i, id := range r.CDRs {
			k := v.index(i)
			v.str("", id, 39, false, false)
			v.leave(k)
		}
		v.leave(m)
	}
	v.lastUpdated(r.LastUpdated)
}

// volumeSum adds volumes in int64 micro-units (storage's scale), falling back
// to decimal arithmetic for a volume that does not fit: the common case then
// allocates nothing.
type volumeSum struct {
	micros  int64
	slow    decimal.Decimal
	useSlow bool
}

func (s *volumeSum) add(x decimal.Decimal) {
	if !s.useSlow {
		if exp := x.Exponent(); exp >= -6 && exp <= 0 {
			if coef := x.CoefficientInt64(); x.NumDigits() <= 12 {
				for ; exp > -6; exp-- {
					coef *= 10
				}
				if m := s.micros + coef; (coef >= 0) == (m >= s.micros) {
					s.micros = m
					return
				}
			}
		}
		s.useSlow, s.slow = true, decimal.New(s.micros, -6)
	}
	s.slow = s.slow.Add(x)
}

func (s *volumeSum) sum() decimal.Decimal {
	if s.useSlow {
		return s.slow
	}
	return decimal.New(s.micros, -6)
}

// ianaZones caches ianaZone's answers: time.LoadLocation reads the zone
// database on every call.
var ianaZones sync.Map

// ianaZone reports whether name is an IANA time zone that this system (or
// the tzdata embedded in the binary) knows. "Local" and "" are not names.
func ianaZone(name string) bool {
	if v, ok := ianaZones.Load(name); ok {
		return v.(bool)
	}
	_, err := time.LoadLocation(name)
	ok := err == nil && name != "Local" && !strings.ContainsAny(name, " ")
	ianaZones.Store(name, ok)
	return ok
}
