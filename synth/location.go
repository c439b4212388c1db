package synth

import (
	"fmt"
	"math/rand/v2"

	"github.com/roamsettle/roamsettle/ocpi"
)

type connector struct {
	id        string
	standard  string
	format    string
	powerType string
	voltage   int64
	amperage  int64
	maxPowerW int64
	dc        bool
	tariff    *tariff
	loc       *location
	evse      *evse
	// snapshot is the CDR's location part (2.2+ cdr_location, 2.1.1 location)
	// rendered once, with and without the address.
	snapshot, noAddress []byte
}

type evse struct {
	uid, evseID string
	connectors  []*connector
}

type location struct {
	id, name, address, city, postal string
	lat, lon                        string
	evses                           []*evse
	lastUpdated                     int64
}

// buildLocations scatters locations around the party's cities. About a
// third are DC sites; AC sites offer either the standard or the destination
// tariff. The connectors are returned flat for uniform picking.
func buildLocations(p *party, rng *rand.Rand, n int, monthStart int64) ([]*location, []*connector) {
	var locs []*location
	var conns []*connector
	for i := range n {
		c := p.cities[rng.IntN(len(p.cities))]
		l := &location{
			id:          fmt.Sprintf("LOC%04d", i+1),
			city:        c.name,
			address:     fmt.Sprintf("%s %d", c.streets[rng.IntN(len(c.streets))], 1+rng.IntN(180)),
			postal:      fmt.Sprintf("%s%02d", c.postal, rng.IntN(100)),
			lat:         microDegrees(c.lat + rng.Int64N(60000) - 30000),
			lon:         microDegrees(c.lon + rng.Int64N(90000) - 45000),
			lastUpdated: monthStart - int64(60+rng.IntN(300))*86400 - rng.Int64N(86400),
		}
		l.name = fmt.Sprintf("%s %s", c.name, l.address)
		dc := rng.IntN(3) == 0
		t := p.tariffs[0]
		if dc {
			t = p.tariffs[1]
		} else if rng.IntN(10) < 3 {
			t = p.tariffs[2]
		}
		nEVSE := 1 + rng.IntN(3)
		for j := range nEVSE {
			e := &evse{uid: fmt.Sprintf("%s-E%d", l.id, j+1)}
			e.evseID = fmt.Sprintf("%s*%s*E%04d%d", p.countryCode, p.partyID, i+1, j+1)
			nConn := 1
			if !dc && rng.IntN(2) == 0 {
				nConn = 2
			}
			for k := range nConn {
				cn := &connector{id: fmt.Sprint(k + 1), tariff: t, loc: l, evse: e, dc: dc}
				if dc {
					cn.standard, cn.format, cn.powerType = p.connectorDC, "CABLE", "DC"
					cn.voltage, cn.maxPowerW = 920, p.dcPowerW
					cn.amperage = p.dcPowerW / 920
				} else {
					cn.standard, cn.format, cn.powerType = p.connectorAC, "SOCKET", "AC_3_PHASE"
					cn.voltage, cn.amperage = 400, 16
					cn.maxPowerW = 11000
					if rng.IntN(3) == 0 {
						cn.amperage, cn.maxPowerW = 32, 22000
					}
				}
				e.connectors = append(e.connectors, cn)
				conns = append(conns, cn)
			}
			l.evses = append(l.evses, e)
		}
		locs = append(locs, l)
	}
	for _, cn := range conns {
		cn.snapshot = appendCDRLocation(nil, p, cn, true)
		cn.noAddress = appendCDRLocation(nil, p, cn, false)
	}
	return locs, conns
}

func microDegrees(v int64) string {
	return string(appendFixed(nil, v, 6))
}

// appendLocation writes a Location object in the party's version.
func appendLocation(b []byte, p *party, l *location) []byte {
	b = append(b, '{')
	if p.version != ocpi.V211 {
		b = appendStrField(b, "country_code", p.countryCode)
		b = appendStrField(b, "party_id", p.partyID)
	}
	b = appendStrField(b, "id", l.id)
	if p.version == ocpi.V211 {
		b = appendStrField(b, "type", "ON_STREET")
	} else {
		b = append(appendKey(b, "publish"), "true"...)
	}
	b = appendLocationAddress(b, p, l, true)
	b = append(appendKey(b, "evses"), '[')
	for _, e := range l.evses {
		b = appendEVSE(b, p, l, e, e.connectors)
	}
	b = append(b, ']')
	if !p.omitTimeZone {
		b = appendStrField(b, "time_zone", p.timeZone)
	}
	b = appendDateTime(appendKey(b, "last_updated"), l.lastUpdated)
	return append(b, '}')
}

func appendLocationAddress(b []byte, p *party, l *location, withAddress bool) []byte {
	b = appendStrField(b, "name", l.name)
	if withAddress {
		b = appendStrField(b, "address", l.address)
	}
	b = appendStrField(b, "city", l.city)
	b = appendStrField(b, "postal_code", l.postal)
	b = appendStrField(b, "country", p.country3)
	b = append(appendKey(b, "coordinates"), '{')
	b = appendStrField(b, "latitude", l.lat)
	b = appendStrField(b, "longitude", l.lon)
	return append(b, '}')
}

func appendEVSE(b []byte, p *party, l *location, e *evse, conns []*connector) []byte {
	if b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '{')
	b = appendStrField(b, "uid", e.uid)
	b = appendStrField(b, "evse_id", e.evseID)
	b = appendStrField(b, "status", "AVAILABLE")
	b = append(appendKey(b, "connectors"), '[')
	for i, c := range conns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendStrField(b, "id", c.id)
		b = appendStrField(b, "standard", c.standard)
		b = appendStrField(b, "format", c.format)
		b = appendStrField(b, "power_type", c.powerType)
		if p.version == ocpi.V211 {
			b = appendInt(appendKey(b, "voltage"), c.voltage)
			b = appendInt(appendKey(b, "amperage"), c.amperage)
			b = appendStrField(b, "tariff_id", c.tariff.id)
		} else {
			b = appendInt(appendKey(b, "max_voltage"), c.voltage)
			b = appendInt(appendKey(b, "max_amperage"), c.amperage)
			b = appendInt(appendKey(b, "max_electric_power"), c.maxPowerW)
			b = append(appendKey(b, "tariff_ids"), '[')
			b = appendString(b, c.tariff.id)
			b = append(b, ']')
		}
		b = appendDateTime(appendKey(b, "last_updated"), l.lastUpdated)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendDateTime(appendKey(b, "last_updated"), l.lastUpdated)
	return append(b, '}')
}

// appendCDRLocation renders what a CDR says about where it happened: the
// 2.2+ CdrLocation, or the 2.1.1 Location reduced to the EVSE and connector
// used. It starts with the field name.
func appendCDRLocation(b []byte, p *party, c *connector, withAddress bool) []byte {
	l := c.loc
	if p.version == ocpi.V211 {
		b = append(b, `"location":{`...)
		b = appendStrField(b, "id", l.id)
		b = appendStrField(b, "type", "ON_STREET")
		b = appendLocationAddress(b, p, l, withAddress)
		b = append(appendKey(b, "evses"), '[')
		b = appendEVSE(b, p, l, c.evse, []*connector{c})
		b = append(b, ']')
		if !p.omitTimeZone {
			b = appendStrField(b, "time_zone", p.timeZone)
		}
		b = appendDateTime(appendKey(b, "last_updated"), l.lastUpdated)
		return append(b, '}')
	}
	b = append(b, `"cdr_location":{`...)
	b = appendStrField(b, "id", l.id)
	b = appendLocationAddress(b, p, l, withAddress)
	b = appendStrField(b, "evse_uid", c.evse.uid)
	b = appendStrField(b, "evse_id", c.evse.evseID)
	b = appendStrField(b, "connector_id", c.id)
	b = appendStrField(b, "connector_standard", c.standard)
	b = appendStrField(b, "connector_format", c.format)
	b = appendStrField(b, "connector_power_type", c.powerType)
	return append(b, '}')
}
