package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// The body hash of a stored object is the SHA-256 of a canonical encoding of
// its decoded model, not of the raw bytes. Two payloads that say the same
// thing - whitespace, key order, 4.40 versus 4.4, a "Z" or not, pulled or
// pushed - are the same object; anything that changes a value is a
// different one. The encoding:
//
//   - covers every field of the model except Version (a transport property:
//     the same CDR re-sent after a version upgrade is not a conflict when its
//     content reads the same);
//   - writes the identity (country_code, party_id, id) of the object, and of
//     the tariffs embedded in a CDR, as its key (ocpi.Key: upper case,
//     trimmed): identities are CiString, so "cdr-1" and "CDR-1" are the same
//     CDR, and the same CDR again in another case is a duplicate, not a
//     conflict (issue 12 item 11). Other identifiers keep their spelling.
//     Bodies stored before that (version 1 of this encoding) spelled the
//     identity as sent: spelledHash gives that hash, so that the same bytes
//     re-sent still match them;
//   - writes decimals by value (trailing zeros do not count), times as Unix
//     nanoseconds, JSON fragments (signed_data, energy_mix) compacted;
//   - length-prefixes strings and lists and tags optional values, so no two
//     different models encode alike.
//
// TestCanonicalCoversEveryField changes every leaf of each model in turn and
// checks the hash changes: a field added to the model without being added
// here fails it.
type canon struct {
	buf     []byte
	spelled bool // version 1: identities as sent
}

func (c *canon) reset() { c.buf = c.buf[:0] }

func (c *canon) sum() [32]byte { return sha256.Sum256(c.buf) }

func (c *canon) u64(v uint64) { c.buf = binary.LittleEndian.AppendUint64(c.buf, v) }

func (c *canon) i64(v int64) { c.u64(uint64(v)) }

func (c *canon) tag(b byte) { c.buf = append(c.buf, b) }

func (c *canon) boolean(v bool) {
	if v {
		c.tag(1)
	} else {
		c.tag(0)
	}
}

func (c *canon) str(s string) {
	c.buf = binary.AppendUvarint(c.buf, uint64(len(s)))
	c.buf = append(c.buf, s...)
}

// ident writes an identity field: its key, or as sent in version 1.
func (c *canon) ident(s string) {
	if !c.spelled {
		s = ocpi.Key(s)
	}
	c.str(s)
}

func (c *canon) strs(ss []string) {
	if ss == nil {
		c.tag(0)
		return
	}
	c.tag(1)
	c.u64(uint64(len(ss)))
	for _, s := range ss {
		c.str(s)
	}
}

func (c *canon) dec(d decimal.Decimal) {
	if v, ok := scaled(d); ok {
		c.tag('d')
		c.i64(v)
		return
	}
	c.tag('D')
	c.str(d.String()) // String drops trailing zeros: value-canonical
}

func (c *canon) nullDec(d decimal.NullDecimal) {
	if !d.Valid {
		c.tag(0)
		return
	}
	c.tag(1)
	c.dec(d.Decimal)
}

func (c *canon) time(t time.Time) {
	if t.IsZero() {
		c.tag(0)
		return
	}
	c.tag(1)
	c.i64(t.UnixNano())
}

func (c *canon) optTime(t *time.Time) {
	if t == nil {
		c.tag(2)
		return
	}
	c.time(*t)
}

func (c *canon) optInt(v *int64) {
	if v == nil {
		c.tag(0)
		return
	}
	c.tag(1)
	c.i64(*v)
}

func (c *canon) optBool(v *bool) {
	if v == nil {
		c.tag(2)
		return
	}
	c.boolean(*v)
}

func (c *canon) rawJSON(m json.RawMessage) {
	if m == nil {
		c.tag(0)
		return
	}
	c.tag(1)
	if bytes.IndexAny(m, " \t\r\n") < 0 {
		c.str(string(m)) // already compact (the usual case): skip the copy
		return
	}
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		c.str(string(m)) // not JSON: hash it as it is
		return
	}
	c.str(b.String())
}

func (c *canon) price(p ocpi.Price) {
	c.dec(p.ExclVAT)
	c.nullDec(p.InclVAT)
	c.u64(uint64(len(p.Taxes)))
	for _, t := range p.Taxes {
		c.str(t.Name)
		c.str(t.AccountNumber)
		c.nullDec(t.Percentage)
		c.dec(t.Amount)
	}
}

func orZeroPrice(p *ocpi.Price) ocpi.Price {
	if p == nil {
		return ocpi.Price{}
	}
	return *p
}

func (c *canon) optPrice(p *ocpi.Price) {
	if p == nil {
		c.tag(0)
		return
	}
	c.tag(1)
	c.price(*p)
}

func (c *canon) priceLimit(p *ocpi.PriceLimit) {
	if p == nil {
		c.tag(0)
		return
	}
	c.tag(1)
	c.dec(p.ExclVAT)
	c.nullDec(p.InclVAT)
}

func (c *canon) cdr(r *ocpi.CDR) {
	c.tag('C')
	c.ident(r.CountryCode)
	c.ident(r.PartyID)
	c.ident(r.ID)
	c.time(r.StartDateTime)
	c.time(r.EndDateTime)
	c.str(r.SessionID)
	t := &r.Token
	c.str(t.CountryCode)
	c.str(t.PartyID)
	c.str(t.UID)
	c.str(t.Type)
	c.str(t.ContractID)
	c.str(r.AuthMethod)
	c.str(r.AuthorizationReference)
	l := &r.Location
	for _, s := range []string{l.ID, l.Name, l.Address, l.City, l.PostalCode, l.State, l.Country,
		l.Coordinates.Latitude, l.Coordinates.Longitude, l.EVSEUID, l.EVSEID, l.ConnectorID,
		l.ConnectorStandard, l.ConnectorFormat, l.ConnectorPowerType, l.TimeZone} {
		c.str(s)
	}
	c.strs(l.TariffIDs)
	c.str(r.MeterID)
	c.str(r.Currency)
	c.u64(uint64(len(r.Tariffs)))
	for i := range r.Tariffs {
		c.tariff(&r.Tariffs[i])
	}
	c.u64(uint64(len(r.ChargingPeriods)))
	for _, p := range r.ChargingPeriods {
		c.time(p.StartDateTime)
		c.str(p.TariffID)
		c.u64(uint64(len(p.Dimensions)))
		for _, d := range p.Dimensions {
			c.str(d.Type)
			c.dec(d.Volume)
		}
	}
	c.rawJSON(r.SignedData)
	// A missing total_cost encodes as the zero price it was read as before
	// it became optional, so that bodies stored by earlier builds keep their
	// hash (a re-send is a duplicate, not a conflict). The price of it: a
	// CDR without total_cost and the same CDR with a bare zero are one body.
	c.price(orZeroPrice(r.TotalCost))
	c.optPrice(r.TotalFixedCost)
	c.dec(r.TotalEnergy)
	c.optPrice(r.TotalEnergyCost)
	c.dec(r.TotalTime)
	c.optPrice(r.TotalTimeCost)
	c.nullDec(r.TotalParkingTime)
	c.optPrice(r.TotalParkingCost)
	c.optPrice(r.TotalReservationCost)
	c.str(r.Remark)
	c.str(r.InvoiceReferenceID)
	c.boolean(r.Credit)
	c.str(r.CreditReferenceID)
	c.boolean(r.HomeChargingCompensation)
	c.time(r.LastUpdated)
}

func (c *canon) tariff(t *ocpi.Tariff) {
	c.tag('T')
	c.ident(t.CountryCode)
	c.ident(t.PartyID)
	c.ident(t.ID)
	c.str(t.Currency)
	c.str(t.Type)
	c.u64(uint64(len(t.AltText)))
	for _, d := range t.AltText {
		c.str(d.Language)
		c.str(d.Text)
	}
	c.str(t.AltURL)
	c.priceLimit(t.MinPrice)
	c.priceLimit(t.MaxPrice)
	c.u64(uint64(len(t.Elements)))
	for _, e := range t.Elements {
		c.u64(uint64(len(e.PriceComponents)))
		for _, pc := range e.PriceComponents {
			c.str(pc.Type)
			c.dec(pc.Price)
			c.nullDec(pc.VAT)
			c.i64(pc.StepSize)
		}
		r := e.Restrictions
		if r == nil {
			c.tag(0)
			continue
		}
		c.tag(1)
		c.str(r.StartTime)
		c.str(r.EndTime)
		c.str(r.StartDate)
		c.str(r.EndDate)
		c.nullDec(r.MinKWh)
		c.nullDec(r.MaxKWh)
		c.nullDec(r.MinCurrent)
		c.nullDec(r.MaxCurrent)
		c.nullDec(r.MinPower)
		c.nullDec(r.MaxPower)
		c.optInt(r.MinDuration)
		c.optInt(r.MaxDuration)
		c.strs(r.DayOfWeek)
		c.str(r.Reservation)
	}
	c.str(t.TaxIncluded)
	c.optTime(t.StartDateTime)
	c.optTime(t.EndDateTime)
	c.rawJSON(t.EnergyMix)
	c.time(t.LastUpdated)
}

func (c *canon) location(l *ocpi.Location) {
	c.tag('L')
	c.ident(l.CountryCode)
	c.ident(l.PartyID)
	c.ident(l.ID)
	c.optBool(l.Publish)
	for _, s := range []string{l.Name, l.Address, l.City, l.PostalCode, l.State, l.Country,
		l.Coordinates.Latitude, l.Coordinates.Longitude, l.TimeZone} {
		c.str(s)
	}
	c.u64(uint64(len(l.EVSEs)))
	for _, e := range l.EVSEs {
		c.str(e.UID)
		c.str(e.EVSEID)
		c.str(e.Status)
		c.time(e.LastUpdated)
		c.u64(uint64(len(e.Connectors)))
		for _, k := range e.Connectors {
			c.str(k.ID)
			c.str(k.Standard)
			c.str(k.Format)
			c.str(k.PowerType)
			c.i64(k.MaxVoltage)
			c.i64(k.MaxAmperage)
			c.optInt(k.MaxElectricPower)
			c.strs(k.TariffIDs)
			c.time(k.LastUpdated)
		}
	}
	c.time(l.LastUpdated)
}

func (c *canon) invoice(r *ocpi.InvoiceReconciliationRecord) {
	c.tag('I')
	c.ident(r.CountryCode)
	c.ident(r.PartyID)
	c.ident(r.ID)
	c.str(r.InvoiceID)
	c.strs(r.CDRs)
	c.time(r.LastUpdated)
}

// canonicalHash returns the body hash of the object carried by r.
func canonicalHash(c *canon, r *ocpi.Received) [32]byte {
	c.reset()
	switch {
	case r.CDR != nil:
		c.cdr(r.CDR)
	case r.Tariff != nil:
		c.tariff(r.Tariff)
	case r.Location != nil:
		c.location(r.Location)
	case r.Invoice != nil:
		c.invoice(r.Invoice)
	}
	return c.sum()
}

// spelledHash returns the version 1 body hash of r's object (identities as
// sent), and whether it can differ from canonicalHash: false when every
// identity is already spelled as its key.
func spelledHash(c *canon, r *ocpi.Received) ([32]byte, bool) {
	keyed := func(ss ...string) bool {
		for _, s := range ss {
			if s != ocpi.Key(s) {
				return false
			}
		}
		return true
	}
	same := true
	switch {
	case r.CDR != nil:
		same = keyed(r.CDR.CountryCode, r.CDR.PartyID, r.CDR.ID)
		for i := range r.CDR.Tariffs {
			t := &r.CDR.Tariffs[i]
			same = same && keyed(t.CountryCode, t.PartyID, t.ID)
		}
	case r.Tariff != nil:
		same = keyed(r.Tariff.CountryCode, r.Tariff.PartyID, r.Tariff.ID)
	case r.Location != nil:
		same = keyed(r.Location.CountryCode, r.Location.PartyID, r.Location.ID)
	case r.Invoice != nil:
		same = keyed(r.Invoice.CountryCode, r.Invoice.PartyID, r.Invoice.ID)
	}
	if same {
		return [32]byte{}, false
	}
	c.spelled = true
	defer func() { c.spelled = false }()
	return canonicalHash(c, r), true
}

func tariffHash(c *canon, t *ocpi.Tariff) [32]byte {
	c.reset()
	c.tariff(t)
	return c.sum()
}
