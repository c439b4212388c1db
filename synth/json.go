package synth

import "github.com/roamsettle/roamsettle/ocpi"

// appendTariff writes one version of a tariff in the party's OCPI version.
func appendTariff(b []byte, p *party, t *tariff, v *tariffVersion) []byte {
	b = append(b, '{')
	if p.version != ocpi.V211 {
		b = appendStrField(b, "country_code", p.countryCode)
		b = appendStrField(b, "party_id", p.partyID)
	}
	b = appendStrField(b, "id", t.id)
	b = appendStrField(b, "currency", p.cur.code)
	if t.typ != "" {
		b = appendStrField(b, "type", t.typ)
	}
	b = append(appendKey(b, "tariff_alt_text"), '[', '{')
	b = appendStrField(b, "language", "en")
	b = appendStrField(b, "text", t.name)
	b = append(b, '}', ']')
	b = appendLimit(b, p, "min_price", v.minPrice)
	b = appendLimit(b, p, "max_price", v.maxPrice)
	b = append(appendKey(b, "elements"), '[')
	for i, e := range v.elements {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = append(appendKey(b, "price_components"), '[')
		for j, c := range e.comps {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendStrField(b, "type", dimNames[c.dim])
			b = appendTrimmed(appendKey(b, "price"), c.price, 4)
			if c.hasVAT {
				b = appendInt(appendKey(b, "vat"), int64(c.vat))
			}
			b = appendInt(appendKey(b, "step_size"), c.step)
			b = append(b, '}')
		}
		b = append(b, ']')
		if e.restricted {
			b = appendRestrictions(appendKey(b, "restrictions"), &e.r)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if p.version == ocpi.V230 {
		b = appendStrField(b, "tax_included", t.taxIncluded)
	}
	if v.startDateTime != 0 {
		b = appendDateTime(appendKey(b, "start_date_time"), v.startDateTime)
	}
	b = appendDateTime(appendKey(b, "last_updated"), v.lastUpdated)
	return append(b, '}')
}

func appendLimit(b []byte, p *party, key string, l *priceLimit) []byte {
	if l == nil {
		return b
	}
	b = append(appendKey(b, key), '{')
	exclKey, inclKey := "excl_vat", "incl_vat"
	if p.version == ocpi.V230 {
		exclKey, inclKey = "before_taxes", "after_taxes"
	}
	b = appendTrimmed(appendKey(b, exclKey), l.excl, 4)
	b = appendTrimmed(appendKey(b, inclKey), l.incl, 4)
	return append(b, '}')
}

var dayNames = [7]string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}

func appendRestrictions(b []byte, r *restriction) []byte {
	b = append(b, '{')
	hhmm := func(b []byte, key string, m int) []byte {
		b = append(appendKey(b, key), '"')
		b = append2(append(append2(b, m/60), ':'), m%60)
		return append(b, '"')
	}
	if r.startMin >= 0 {
		b = hhmm(b, "start_time", r.startMin)
	}
	if r.endMin >= 0 {
		b = hhmm(b, "end_time", r.endMin)
	}
	if r.minDur >= 0 {
		b = appendInt(appendKey(b, "min_duration"), r.minDur)
	}
	if r.maxDur >= 0 {
		b = appendInt(appendKey(b, "max_duration"), r.maxDur)
	}
	if r.maxPowerW >= 0 {
		b = appendTrimmed(appendKey(b, "max_power"), r.maxPowerW, 3)
	}
	if r.days != 0 {
		b = append(appendKey(b, "day_of_week"), '[')
		first := true
		for d := range 7 {
			if r.days&(1<<d) != 0 {
				if !first {
					b = append(b, ',')
				}
				b = appendString(b, dayNames[d])
				first = false
			}
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// hours4 converts seconds to hours with 4 decimals, half up, as CPOs report
// time volumes (0.0001 h = 0.36 s, so whole seconds survive the trip).
func hours4(secs int64) int64 { return (secs*10000 + 1800) / 3600 }

// cdrMods are the deliberate defects of one CDR line.
type cdrMods struct {
	omitContract, omitCurrency, omitAddress, omitPeriods bool
	credit                                               bool
	tokenUID, contractID                                 string // overrides (unknown token)
	idSuffix                                             string
	lastUpdated                                          int64
}

// cdrMeta is what a CDR says besides the session and the amounts.
type cdrMeta struct {
	id          []byte
	tok         *token
	authMethod  string
	conn        *connector
	lastUpdated int64
}

// appendCDR writes one CDR line in the party's version.
func appendCDR(b []byte, p *party, t *tariff, s *session, m *cdrMeta, pr *priced, mod *cdrMods) []byte {
	v211 := p.version == ocpi.V211
	b = append(b, '{')
	if !v211 {
		b = appendStrField(b, "country_code", p.countryCode)
		b = appendStrField(b, "party_id", p.partyID)
	}
	b = append(appendKey(b, "id"), '"')
	b = append(b, m.id...)
	b = append(b, mod.idSuffix...)
	b = append(b, '"')
	b = appendDateTime(appendKey(b, "start_date_time"), s.start)
	uid, contract := m.tok.uid, m.tok.contractID
	if mod.tokenUID != "" {
		uid, contract = mod.tokenUID, mod.contractID
	}
	if v211 {
		b = appendDateTime(appendKey(b, "stop_date_time"), s.end)
		if !mod.omitContract {
			b = appendStrField(b, "auth_id", contract)
		}
	} else {
		b = appendDateTime(appendKey(b, "end_date_time"), s.end)
		b = append(appendKey(b, "session_id"), '"', 'S')
		b = append(b, m.id...)
		b = append(b, '"')
		b = append(appendKey(b, "cdr_token"), '{')
		b = appendStrField(b, "country_code", emspCountry)
		b = appendStrField(b, "party_id", emspParty)
		b = appendStrField(b, "uid", uid)
		b = appendStrField(b, "type", m.tok.typ)
		if !mod.omitContract {
			b = appendStrField(b, "contract_id", contract)
		}
		b = append(b, '}')
	}
	b = appendStrField(b, "auth_method", m.authMethod)
	b = append(b, ',')
	if mod.omitAddress {
		b = append(b, m.conn.noAddress...)
	} else {
		b = append(b, m.conn.snapshot...)
	}
	if !mod.omitCurrency {
		b = appendStrField(b, "currency", p.cur.code)
	}
	if !mod.omitPeriods {
		b = append(appendKey(b, "charging_periods"), '[')
		for i := range s.periods {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPeriod(b, p, t, &s.periods[i])
		}
		b = append(b, ']')
	}
	sign := int64(1)
	if mod.credit {
		sign = -1
	}
	b = appendPrice(appendKey(b, "total_cost"), p, pr.total, sign)
	if !v211 && t.has[dimFlat] {
		b = appendPrice(appendKey(b, "total_fixed_cost"), p, pr.sub[dimFlat], 1)
	}
	b = appendTrimmed(appendKey(b, "total_energy"), s.energy, 4)
	if !v211 && t.has[dimEnergy] {
		b = appendPrice(appendKey(b, "total_energy_cost"), p, pr.sub[dimEnergy], 1)
	}
	b = appendFixed(appendKey(b, "total_time"), hours4(s.end-s.start), 4)
	if !v211 && t.has[dimTime] {
		b = appendPrice(appendKey(b, "total_time_cost"), p, pr.sub[dimTime], 1)
	}
	b = appendFixed(appendKey(b, "total_parking_time"), hours4(s.parkSecs), 4)
	if !v211 && t.has[dimParking] {
		b = appendPrice(appendKey(b, "total_parking_cost"), p, pr.sub[dimParking], 1)
	}
	if mod.credit {
		b = append(appendKey(b, "credit"), "true"...)
		b = append(appendKey(b, "credit_reference_id"), '"')
		b = append(b, m.id...)
		b = append(b, '"')
	}
	lu := m.lastUpdated
	if mod.lastUpdated != 0 {
		lu = mod.lastUpdated
	}
	b = appendDateTime(appendKey(b, "last_updated"), lu)
	return append(b, '}', '\n')
}

func appendPeriod(b []byte, p *party, t *tariff, pr *period) []byte {
	b = append(b, '{')
	b = appendDateTime(appendKey(b, "start_date_time"), pr.start)
	b = append(appendKey(b, "dimensions"), '[')
	dim := func(b []byte, typ string, v int64, scale int, fixed bool) []byte {
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = append(b, `{"type":"`...)
		b = append(b, typ...)
		b = append(b, `","volume":`...)
		if fixed {
			b = appendFixed(b, v, scale)
		} else {
			b = appendTrimmed(b, v, scale)
		}
		return append(b, '}')
	}
	if pr.charging {
		b = dim(b, ocpi.DimEnergy, pr.energy, 4, false)
		b = dim(b, ocpi.DimTime, hours4(pr.secs), 4, true)
		if t.usesPower {
			b = dim(b, ocpi.DimMinPower, pr.powerW*95/100, 3, false)
			b = dim(b, ocpi.DimMaxPower, pr.powerW, 3, false)
		}
	} else {
		b = dim(b, ocpi.DimParkingTime, hours4(pr.secs), 4, true)
	}
	b = append(b, ']')
	if p.version != ocpi.V211 {
		b = appendStrField(b, "tariff_id", t.id)
	}
	return append(b, '}')
}

// appendPrice writes an amount: a bare number excluding VAT (2.1.1),
// Price{excl_vat, incl_vat} (2.2.1) or Price{before_taxes, taxes[]} (2.3.0).
func appendPrice(b []byte, p *party, m money, sign int64) []byte {
	minor := p.cur.minor
	switch p.version {
	case ocpi.V211:
		return appendFixed(b, sign*m.excl, minor)
	case ocpi.V221:
		b = append(b, `{"excl_vat":`...)
		b = appendFixed(b, sign*m.excl, minor)
		b = append(b, `,"incl_vat":`...)
		b = appendFixed(b, sign*m.incl, minor)
		return append(b, '}')
	}
	b = append(b, `{"before_taxes":`...)
	b = appendFixed(b, sign*m.excl, minor)
	if m.taxed {
		b = append(b, `,"taxes":[{"name":"VAT"`...)
		if m.rate >= 0 {
			b = appendInt(append(b, `,"percentage":`...), int64(m.rate))
		}
		b = append(b, `,"amount":`...)
		b = appendFixed(b, sign*(m.incl-m.excl), minor)
		b = append(b, '}', ']')
	}
	return append(b, '}')
}
