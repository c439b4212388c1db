package ocpi

import (
	"github.com/shopspring/decimal"
)

// The walkers below convert one object each, version by version. Each takes
// the tape index of an object node, reads its members in order (unknown
// members are skipped), and reports type problems itself. Required numbers
// and objects are checked here because the model cannot tell 0 from absent;
// everything else is left to validation, which sees only the model.
//
// The second argument of every reader says whether a value of the wrong type
// there blocks pricing; doc.go lists the reasoning.

// objectsOf decodes each object of the array v with each, the element's
// index entered in the path. A null element is reported missing as what
// (when what is set); capHint presizes the result for the common length.
func objectsOf[T any](d *decoder, v int32, blocking bool, what string, capHint int, each func(int32) T) []T {
	if !d.array(v, blocking) {
		return nil
	}
	// Present means non-nil, even when empty: validation tells "missing"
	// from "empty" by it.
	out := make([]T, 0, capHint)
	k := 0
	for e := d.firstElement(v); e >= 0; e = d.nextElement(v, e) {
		mark := d.index(k)
		if d.object(e, blocking) {
			out = append(out, each(e))
		} else if what != "" && d.isNull(e) {
			d.report(RuleRequired, blocking, what+" is null")
		}
		d.leave(mark)
		k++
	}
	return out
}

func (d *decoder) requireNumber(seen bool, field string, blocking bool) {
	if !seen {
		d.reportAt(field, RuleRequired, blocking, "required field is missing")
	}
}

func (d *decoder) cdr(obj int32) *CDR {
	c := &CDR{Version: d.version}
	v211 := d.version == V211
	var hasCost, hasEnergy, hasTime bool
	otherEnd := int32(-1) // the other version's name of the session end
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "country_code":
			c.CountryCode = d.str(v, false)
		case "party_id":
			c.PartyID = d.str(v, false)
		case "id":
			c.ID = d.str(v, false)
		case "start_date_time":
			c.StartDateTime = d.dateTime(v, true)
		case "end_date_time":
			if !v211 {
				c.EndDateTime = d.dateTime(v, true)
			} else {
				otherEnd = m
			}
		case "stop_date_time":
			if v211 {
				c.EndDateTime = d.dateTime(v, true)
			} else {
				otherEnd = m
			}
		case "session_id":
			c.SessionID = d.str(v, false)
		case "auth_id":
			if v211 {
				c.Token.ContractID = d.str(v, false)
			}
		case "cdr_token":
			if !v211 && d.object(v, false) {
				c.Token = d.cdrToken(v)
			}
		case "auth_method":
			c.AuthMethod = d.str(v, false)
		case "authorization_reference":
			c.AuthorizationReference = d.str(v, false)
		case "cdr_location":
			if !v211 && d.object(v, false) {
				c.Location = d.cdrLocation(v)
			}
		case "location":
			if v211 && d.object(v, false) {
				d.advisory++
				c.Location = cdrLocationOf(d.location(v))
				d.advisory--
			}
		case "meter_id":
			c.MeterID = d.str(v, false)
		case "currency":
			c.Currency = d.str(v, true)
		case "tariffs":
			c.Tariffs = objectsOf(d, v, true, "", 0, func(e int32) Tariff { return *d.tariff(e) })
		case "charging_periods":
			c.ChargingPeriods = objectsOf(d, v, true, "charging period", 0, d.chargingPeriod)
		case "signed_data":
			if !v211 && d.object(v, false) {
				c.SignedData = d.rawJSON(v)
			}
		case "total_cost":
			hasCost = !d.isNull(v)
			c.TotalCost = d.price(v, false)
		case "total_fixed_cost":
			c.TotalFixedCost = d.price(v, false)
		case "total_energy":
			hasEnergy = !d.isNull(v)
			c.TotalEnergy, _ = d.num(v, false)
		case "total_energy_cost":
			c.TotalEnergyCost = d.price(v, false)
		case "total_time":
			hasTime = !d.isNull(v)
			c.TotalTime, _ = d.num(v, false)
		case "total_time_cost":
			c.TotalTimeCost = d.price(v, false)
		case "total_parking_time":
			c.TotalParkingTime = d.nullNum(v, false)
		case "total_parking_cost":
			c.TotalParkingCost = d.price(v, false)
		case "total_reservation_cost":
			c.TotalReservationCost = d.price(v, false)
		case "remark":
			c.Remark = d.str(v, false)
		case "invoice_reference_id":
			c.InvoiceReferenceID = d.str(v, false)
		case "credit":
			c.Credit, _ = d.boolean(v, false)
		case "credit_reference_id":
			c.CreditReferenceID = d.str(v, false)
		case "home_charging_compensation":
			c.HomeChargingCompensation, _ = d.boolean(v, false)
		case "last_updated":
			c.LastUpdated = d.dateTime(v, false)
		}
		d.leave(mark)
	}
	// Implementations mix the versions' names of the session end (a 2.1.1
	// CDR with the 2.2 end_date_time): read the other one when the
	// version's own is absent.
	if otherEnd >= 0 && c.EndDateTime.IsZero() {
		own, other := pick(v211, "stop_date_time", "end_date_time"), d.text(otherEnd)
		mark := d.enter(other)
		if c.EndDateTime = d.dateTime(otherEnd+1, true); !c.EndDateTime.IsZero() {
			d.report(RuleFormat, false, other+" is not a "+string(d.version)+" field: read as "+own)
		}
		d.leave(mark)
	}
	// total_cost is the claim being reconciled, not an input of pricing:
	// a CDR without it can still be priced (and then disputed).
	d.requireNumber(hasCost, "total_cost", false)
	d.requireNumber(hasEnergy, "total_energy", false)
	d.requireNumber(hasTime, "total_time", false)
	return c
}

func (d *decoder) cdrToken(obj int32) CDRToken {
	var t CDRToken
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "country_code":
			t.CountryCode = d.str(v, false)
		case "party_id":
			t.PartyID = d.str(v, false)
		case "uid":
			t.UID = d.str(v, false)
		case "type":
			t.Type = d.str(v, false)
		case "contract_id":
			t.ContractID = d.str(v, false)
		}
		d.leave(mark)
	}
	return t
}

func (d *decoder) cdrLocation(obj int32) CDRLocation {
	var l CDRLocation
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "id":
			l.ID = d.str(v, false)
		case "name":
			l.Name = d.str(v, false)
		case "address":
			l.Address = d.str(v, false)
		case "city":
			l.City = d.str(v, false)
		case "postal_code":
			l.PostalCode = d.str(v, false)
		case "state":
			l.State = d.str(v, false)
		case "country":
			l.Country = d.str(v, false)
		case "coordinates":
			if d.object(v, false) {
				l.Coordinates = d.geo(v)
			}
		case "evse_uid":
			l.EVSEUID = d.str(v, false)
		case "evse_id":
			l.EVSEID = d.str(v, false)
		case "connector_id":
			l.ConnectorID = d.str(v, false)
		case "connector_standard":
			l.ConnectorStandard = d.str(v, false)
		case "connector_format":
			l.ConnectorFormat = d.str(v, false)
		case "connector_power_type":
			l.ConnectorPowerType = d.str(v, false)
		}
		d.leave(mark)
	}
	return l
}

// cdrLocationOf reduces a 2.1.1 CDR's embedded Location (which holds only the
// EVSE and connector used) to the CDR's location snapshot, keeping the time
// zone and the connector's tariff id that 2.2+ CdrLocation lacks.
func cdrLocationOf(l *Location) CDRLocation {
	c := CDRLocation{
		ID: l.ID, Name: l.Name, Address: l.Address, City: l.City, PostalCode: l.PostalCode,
		State: l.State, Country: l.Country, Coordinates: l.Coordinates, TimeZone: l.TimeZone,
	}
	if len(l.EVSEs) > 0 {
		e := l.EVSEs[0]
		c.EVSEUID, c.EVSEID = e.UID, e.EVSEID
		if len(e.Connectors) > 0 {
			k := e.Connectors[0]
			c.ConnectorID, c.ConnectorStandard, c.ConnectorFormat, c.ConnectorPowerType = k.ID, k.Standard, k.Format, k.PowerType
			c.TariffIDs = k.TariffIDs
		}
	}
	return c
}

func (d *decoder) geo(obj int32) GeoLocation {
	var g GeoLocation
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "latitude":
			g.Latitude = d.str(v, false)
		case "longitude":
			g.Longitude = d.str(v, false)
		}
		d.leave(mark)
	}
	return g
}

func (d *decoder) chargingPeriod(obj int32) ChargingPeriod {
	var p ChargingPeriod
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "start_date_time":
			p.StartDateTime = d.dateTime(v, true)
		case "tariff_id":
			p.TariffID = d.str(v, false)
		case "dimensions":
			p.Dimensions = objectsOf(d, v, true, "dimension", 4, d.dimension)
		}
		d.leave(mark)
	}
	return p
}

func (d *decoder) dimension(obj int32) CDRDimension {
	var x CDRDimension
	seen := false
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "type":
			x.Type = d.str(v, true)
		case "volume":
			x.Volume, seen = d.num(v, true)
			if !seen && !d.isNull(v) {
				seen = true // reported as a type problem already
			}
		}
		d.leave(mark)
	}
	d.requireNumber(seen, "volume", true)
	return x
}

// price reads a cost field: a bare number in 2.1.1, Price{excl_vat,
// incl_vat} in 2.2.1, Price{before_taxes, taxes} in 2.3.0. It returns nil when
// the field is null or unreadable. The other versions' shapes are read too,
// each reported (a 2.2.1 Price in a CDR imported as 2.3.0 keeps its amount).
func (d *decoder) price(v int32, blocking bool) *Price {
	switch d.node(v).kind {
	case nodeNumber, nodeString:
		if d.version != V211 {
			x, ok := d.num(v, blocking)
			if !ok {
				return nil
			}
			d.report(RuleFormat, false, "a bare number is the 2.1.1 shape of a price: read as the amount before taxes")
			return &Price{ExclVAT: x}
		}
		x, ok := d.num(v, blocking)
		if !ok {
			return nil
		}
		return &Price{ExclVAT: x}
	}
	if !d.object(v, blocking) {
		return nil
	}
	own := [2]string{"excl_vat", "incl_vat"}
	if d.version == V230 {
		own = [2]string{"before_taxes", "taxes"}
	}
	var p Price
	var exclAt, inclAt, taxesAt int32 = -1, -1, -1
	var exclOwn bool
	for m := d.firstMember(v); m >= 0; m = d.nextMember(v, m) {
		switch key := d.text(m); key {
		case "excl_vat", "before_taxes":
			if exclAt < 0 || key == own[0] {
				exclAt, exclOwn = m, key == own[0]
			}
		case "incl_vat":
			inclAt = m
		case "taxes":
			taxesAt = m
		}
	}
	other := func(m int32, what string) {
		if d.version != V211 && d.text(m) != own[0] && d.text(m) != own[1] {
			d.reportAt(d.text(m), RuleFormat, false, d.text(m)+" is not a "+string(d.version)+" field: read as "+what)
		}
	}
	if d.version == V211 {
		d.report(RuleFormat, false, "a Price object is the 2.2+ shape of a 2.1.1 cost: read its amount before taxes")
	}
	seen, readable := false, false
	if exclAt >= 0 {
		mark := d.enter(d.text(exclAt))
		p.ExclVAT, readable = d.num(exclAt+1, blocking)
		seen = readable || !d.isNull(exclAt+1)
		d.leave(mark)
		if !exclOwn {
			other(exclAt, "the amount before taxes")
		}
	}
	if inclAt >= 0 {
		mark := d.enter("incl_vat")
		p.InclVAT = d.nullNum(inclAt+1, blocking)
		d.leave(mark)
		other(inclAt, "the amount after taxes")
	}
	if taxesAt >= 0 {
		mark := d.enter("taxes")
		p.Taxes = objectsOf(d, taxesAt+1, blocking, "", 0, func(e int32) TaxAmount { return d.taxAmount(e, blocking) })
		d.leave(mark)
		other(taxesAt, "the tax lines")
	}
	if !seen {
		d.reportAt(own[0], RuleRequired, blocking, "required number is missing")
		return nil
	}
	if !readable {
		return nil // reported by num: an unreadable amount is no amount, not 0
	}
	if len(p.Taxes) > 0 && !p.InclVAT.Valid {
		sum := p.ExclVAT
		for _, t := range p.Taxes {
			sum = sum.Add(t.Amount)
		}
		p.InclVAT = decimal.NullDecimal{Decimal: sum, Valid: true}
	}
	if d.version != V230 {
		p.Taxes = nil // 2.3.0 lines only; a 2.2.1 incl_vat is the total after taxes
	}
	return &p
}

func (d *decoder) taxAmount(obj int32, blocking bool) TaxAmount {
	var t TaxAmount
	seen := false
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "name":
			t.Name = d.str(v, false)
		case "account_number":
			t.AccountNumber = d.str(v, false)
		case "percentage":
			t.Percentage = d.nullNum(v, false)
		case "amount":
			t.Amount, seen = d.num(v, blocking)
			seen = seen || !d.isNull(v)
		}
		d.leave(mark)
	}
	d.requireNumber(seen, "amount", blocking)
	return t
}

// priceLimit reads a tariff's min_price/max_price: Price{excl_vat,
// incl_vat} in 2.2.1, PriceLimit{before_taxes, after_taxes} in 2.3.0; the
// other version's names are read too, each reported.
func (d *decoder) priceLimit(v int32) *PriceLimit {
	if !d.object(v, true) {
		return nil
	}
	excl, incl := "excl_vat", "incl_vat"
	oexcl, oincl := "before_taxes", "after_taxes"
	if d.version == V230 {
		excl, incl, oexcl, oincl = oexcl, oincl, excl, incl
	}
	var p PriceLimit
	seen, seenOwn, inclOwn := false, false, false
	for m := d.firstMember(v); m >= 0; m = d.nextMember(v, m) {
		key, val := d.text(m), m+1
		isExcl, isIncl := key == excl || key == oexcl, key == incl || key == oincl
		if !isExcl && !isIncl || isExcl && seenOwn && key == oexcl || isIncl && inclOwn && key == oincl {
			continue
		}
		mark := d.enter(key)
		if key == oexcl || key == oincl {
			d.report(RuleFormat, false, key+" is not a "+string(d.version)+" field: read as "+pick(isExcl, excl, incl))
		}
		if isExcl {
			p.ExclVAT, seen = d.num(val, true)
			seen = seen || !d.isNull(val)
			seenOwn = seenOwn || key == excl
		} else {
			p.InclVAT = d.nullNum(val, true)
			inclOwn = inclOwn || key == incl
		}
		d.leave(mark)
	}
	if !seen {
		d.reportAt(excl, RuleRequired, true, "required number is missing")
		return nil
	}
	return &p
}

func (d *decoder) tariff(obj int32) *Tariff {
	t := &Tariff{Version: d.version}
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "country_code":
			t.CountryCode = d.str(v, false)
		case "party_id":
			t.PartyID = d.str(v, false)
		case "id":
			t.ID = d.str(v, false)
		case "currency":
			t.Currency = d.str(v, true)
		case "type":
			t.Type = d.str(v, true)
		case "tariff_alt_text":
			t.AltText = d.displayTexts(v)
		case "tariff_alt_url":
			t.AltURL = d.str(v, false)
		case "min_price":
			if d.version != V211 {
				t.MinPrice = d.priceLimit(v)
			}
		case "max_price":
			if d.version != V211 {
				t.MaxPrice = d.priceLimit(v)
			}
		case "elements":
			t.Elements = objectsOf(d, v, true, "tariff element", 0, d.tariffElement)
		case "tax_included":
			if d.version == V230 {
				t.TaxIncluded = d.str(v, true)
			}
		case "start_date_time":
			if d.version != V211 {
				t.StartDateTime = d.dateTimePtr(v, true)
			}
		case "end_date_time":
			if d.version != V211 {
				t.EndDateTime = d.dateTimePtr(v, true)
			}
		case "energy_mix":
			if d.object(v, false) {
				t.EnergyMix = d.rawJSON(v)
			}
		case "last_updated":
			t.LastUpdated = d.dateTime(v, false)
		}
		d.leave(mark)
	}
	return t
}

func (d *decoder) displayTexts(v int32) []DisplayText {
	if !d.array(v, false) {
		return nil
	}
	var out []DisplayText
	k := 0
	for e := d.firstElement(v); e >= 0; e = d.nextElement(v, e) {
		em := d.index(k)
		if d.object(e, false) {
			var t DisplayText
			for m := d.firstMember(e); m >= 0; m = d.nextMember(e, m) {
				key, val := d.text(m), m+1
				mark := d.enter(key)
				switch key {
				case "language":
					t.Language = d.str(val, false)
				case "text":
					t.Text = d.str(val, false)
				}
				d.leave(mark)
			}
			out = append(out, t)
		}
		d.leave(em)
		k++
	}
	return out
}

func (d *decoder) tariffElement(obj int32) TariffElement {
	var el TariffElement
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "price_components":
			el.PriceComponents = objectsOf(d, v, true, "price component", 0, d.priceComponent)
		case "restrictions":
			if d.object(v, true) {
				el.Restrictions = d.restrictions(v)
			}
		}
		d.leave(mark)
	}
	return el
}

func (d *decoder) priceComponent(obj int32) PriceComponent {
	var pc PriceComponent
	var seenPrice, seenStep bool
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "type":
			pc.Type = d.str(v, true)
		case "price":
			pc.Price, seenPrice = d.num(v, true)
			seenPrice = seenPrice || !d.isNull(v)
		case "vat":
			pc.VAT = d.nullNum(v, true)
		case "step_size":
			pc.StepSize, seenStep = d.integer(v, true)
			seenStep = seenStep || !d.isNull(v)
		}
		d.leave(mark)
	}
	d.requireNumber(seenPrice, "price", true)
	d.requireNumber(seenStep, "step_size", true)
	return pc
}

func (d *decoder) restrictions(obj int32) *TariffRestrictions {
	r := &TariffRestrictions{}
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "start_time":
			r.StartTime = d.str(v, true)
		case "end_time":
			r.EndTime = d.str(v, true)
		case "start_date":
			r.StartDate = d.str(v, true)
		case "end_date":
			r.EndDate = d.str(v, true)
		case "min_kwh":
			r.MinKWh = d.nullNum(v, true)
		case "max_kwh":
			r.MaxKWh = d.nullNum(v, true)
		case "min_current":
			r.MinCurrent = d.nullNum(v, true)
		case "max_current":
			r.MaxCurrent = d.nullNum(v, true)
		case "min_power":
			r.MinPower = d.nullNum(v, true)
		case "max_power":
			r.MaxPower = d.nullNum(v, true)
		case "min_duration":
			if x, ok := d.integer(v, true); ok {
				r.MinDuration = &x
			}
		case "max_duration":
			if x, ok := d.integer(v, true); ok {
				r.MaxDuration = &x
			}
		case "day_of_week":
			r.DayOfWeek = d.strList(v, true)
		case "reservation":
			r.Reservation = d.str(v, true)
		}
		d.leave(mark)
	}
	return r
}

func (d *decoder) location(obj int32) *Location {
	l := &Location{Version: d.version}
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "country_code":
			l.CountryCode = d.str(v, false)
		case "party_id":
			l.PartyID = d.str(v, false)
		case "id":
			l.ID = d.str(v, false)
		case "publish":
			if b, ok := d.boolean(v, false); ok {
				l.Publish = &b
			}
		case "name":
			l.Name = d.str(v, false)
		case "address":
			l.Address = d.str(v, false)
		case "city":
			l.City = d.str(v, false)
		case "postal_code":
			l.PostalCode = d.str(v, false)
		case "state":
			l.State = d.str(v, false)
		case "country":
			l.Country = d.str(v, false)
		case "coordinates":
			if d.object(v, false) {
				l.Coordinates = d.geo(v)
			}
		case "time_zone":
			l.TimeZone = d.str(v, false)
		case "evses":
			l.EVSEs = objectsOf(d, v, true, "", 0, d.evse)
		case "last_updated":
			l.LastUpdated = d.dateTime(v, false)
		}
		d.leave(mark)
	}
	return l
}

func (d *decoder) evse(obj int32) EVSE {
	var e EVSE
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "uid":
			e.UID = d.str(v, true)
		case "evse_id":
			e.EVSEID = d.str(v, false)
		case "status":
			e.Status = d.str(v, false)
		case "connectors":
			e.Connectors = objectsOf(d, v, true, "", 0, d.connector)
		case "last_updated":
			e.LastUpdated = d.dateTime(v, false)
		}
		d.leave(mark)
	}
	return e
}

func (d *decoder) connector(obj int32) Connector {
	var c Connector
	voltage, amperage := "max_voltage", "max_amperage"
	if d.version == V211 {
		voltage, amperage = "voltage", "amperage"
	}
	var seenV, seenA bool
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "id":
			c.ID = d.str(v, true)
		case "standard":
			c.Standard = d.str(v, false)
		case "format":
			c.Format = d.str(v, false)
		case "power_type":
			c.PowerType = d.str(v, false)
		case voltage:
			c.MaxVoltage, seenV = d.integer(v, false)
			seenV = seenV || !d.isNull(v)
		case amperage:
			c.MaxAmperage, seenA = d.integer(v, false)
			seenA = seenA || !d.isNull(v)
		case "max_electric_power":
			if d.version != V211 {
				if x, ok := d.integer(v, false); ok {
					c.MaxElectricPower = &x
				}
			}
		case "tariff_ids":
			if d.version != V211 {
				c.TariffIDs = d.strList(v, true)
			}
		case "tariff_id":
			if d.version == V211 {
				if s := d.str(v, true); s != "" {
					c.TariffIDs = []string{s}
				}
			}
		case "last_updated":
			c.LastUpdated = d.dateTime(v, false)
		}
		d.leave(mark)
	}
	d.requireNumber(seenV, voltage, false)
	d.requireNumber(seenA, amperage, false)
	return c
}

func (d *decoder) invoice(obj int32) *InvoiceReconciliationRecord {
	r := &InvoiceReconciliationRecord{Version: d.version}
	for m := d.firstMember(obj); m >= 0; m = d.nextMember(obj, m) {
		key, v := d.text(m), m+1
		mark := d.enter(key)
		switch key {
		case "country_code":
			r.CountryCode = d.str(v, false)
		case "party_id":
			r.PartyID = d.str(v, false)
		case "id":
			r.ID = d.str(v, false)
		case "invoice_id":
			r.InvoiceID = d.str(v, false)
		case "cdrs":
			// The spec types cdrs as a list of ids; its diagrams send
			// {"id": ...} objects. Both are accepted.
			if d.array(v, false) {
				k := 0
				for e := d.firstElement(v); e >= 0; e = d.nextElement(v, e) {
					em := d.index(k)
					switch d.node(e).kind {
					case nodeObject:
						idm := d.enter("id")
						if iv := d.member(e, "id"); iv >= 0 {
							if s := d.str(iv, false); s != "" {
								r.CDRs = append(r.CDRs, s)
							}
						} else {
							d.report(RuleRequired, false, "CDR reference without an id")
						}
						d.leave(idm)
					default:
						if s := d.str(e, false); s != "" {
							r.CDRs = append(r.CDRs, s)
						}
					}
					d.leave(em)
					k++
				}
			}
		case "last_updated":
			r.LastUpdated = d.dateTime(v, false)
		}
		d.leave(mark)
	}
	return r
}
