package synth

import (
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// currency describes how a currency is written and how template prices,
// which are written in euro, translate into it.
type currency struct {
	code  string
	minor int   // ISO 4217 minor units (from ocpi.CurrencyMinorUnits)
	num   int64 // template price × num / den = local price
	den   int64
	gran  int64 // prices are multiples of gran / 10^4 (ISK and JPY prices are whole units)
}

// currencies are the ones the default parties use, with rough exchange
// rates that make the prices look local.
var currencies = map[string]currency{
	"EUR": {code: "EUR", num: 1, den: 1, gran: 10},
	"USD": {code: "USD", num: 11, den: 10, gran: 100},
	"ISK": {code: "ISK", num: 150, den: 1, gran: 10000},
	"JPY": {code: "JPY", num: 160, den: 1, gran: 10000},
	"JOD": {code: "JOD", num: 78, den: 100, gran: 10},
	"PLN": {code: "PLN", num: 43, den: 10, gran: 100},
	"SEK": {code: "SEK", num: 115, den: 10, gran: 100},
	"DKK": {code: "DKK", num: 746, den: 100, gran: 100},
	"CZK": {code: "CZK", num: 25, den: 1, gran: 1000},
	"NOK": {code: "NOK", num: 117, den: 10, gran: 100},
	"CHF": {code: "CHF", num: 94, den: 100, gran: 10},
}

func currencyOf(code string) (currency, error) {
	c, ok := currencies[code]
	minor, known := ocpi.CurrencyMinorUnits(code)
	if !ok || !known {
		return currency{}, fmt.Errorf("synth: no price table or ISO 4217 entry for currency %q", code)
	}
	c.minor = minor
	return c, nil
}

// city is a place locations are scattered around.
type city struct {
	name     string
	lat, lon int64 // micro-degrees
	postal   string
	streets  []string
}

// partySpec is the static description of one CPO party.
type partySpec struct {
	countryCode string
	partyID     string
	name        string
	version     ocpi.Version
	currency    string
	timeZone    string
	country3    string // ISO 3166-1 alpha-3 for addresses
	vat         int    // VAT percentage of the party's components; -1: no VAT field at all
	vatFlat     int    // VAT of FLAT components (-1: absent)
	vatParking  int    // VAT of PARKING_TIME components (-1: absent)
	taxIncluded string // 2.3.0 Tariff.tax_included
	weight      int    // share of the CDRs, out of the sum of all weights
	// omitTimeZone leaves time_zone out of 2.1.1 locations (optional there):
	// the engine must fall back to a per-partner zone, and for a zone at UTC
	// all year that fallback is exactly right.
	omitTimeZone bool
	connectorAC  string // ConnectorType of AC plugs
	connectorDC  string
	dcPowerW     int64
	cities       []city
}

// defaultParties covers the versions, currencies (0, 2 and 3 minor units),
// VAT rates (21, 19, 23, 16, 10, 0, absent), tax_included YES and NO, and
// time zones from UTC-4/-5 with DST to UTC+9 that a settlement engine meets.
var defaultParties = []partySpec{
	{countryCode: "NL", partyID: "EVB", name: "Elektrisch Vervoer Bureau", version: ocpi.V221, currency: "EUR",
		timeZone: "Europe/Amsterdam", country3: "NLD", vat: 21, vatFlat: 21, vatParking: 21, weight: 22,
		connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 150000,
		cities: []city{{"Amsterdam", 52370216, 4895168, "10", []string{"Damrak", "Prinsengracht", "Overtoom"}},
			{"Utrecht", 52090737, 5121420, "35", []string{"Oudegracht", "Biltstraat"}}}},
	{countryCode: "DE", partyID: "LDS", name: "Ladesaeulen Sued", version: ocpi.V230, currency: "EUR",
		timeZone: "Europe/Berlin", country3: "DEU", vat: 19, vatFlat: 19, vatParking: 19, taxIncluded: ocpi.TaxIncludedNo,
		weight: 22, connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 150000,
		cities: []city{{"Muenchen", 48137154, 11576124, "80", []string{"Leopoldstrasse", "Sonnenstrasse"}},
			{"Stuttgart", 48775846, 9182932, "70", []string{"Koenigstrasse", "Neckarstrasse"}}}},
	{countryCode: "IE", partyID: "ECH", name: "Eire Charge", version: ocpi.V221, currency: "EUR",
		timeZone: "Europe/Dublin", country3: "IRL", vat: 23, vatFlat: -1, vatParking: 23, weight: 8,
		connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 120000,
		cities: []city{{"Dublin", 53349805, -6260310, "D02", []string{"Grafton Street", "Dame Street"}},
			{"Cork", 51896892, -8486316, "T12", []string{"Patrick Street", "Oliver Plunkett Street"}}}},
	{countryCode: "IS", partyID: "HLD", name: "Hledsla Islands", version: ocpi.V211, currency: "ISK",
		timeZone: "Atlantic/Reykjavik", country3: "ISL", vat: -1, vatFlat: -1, vatParking: -1, weight: 4, omitTimeZone: true,
		connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 150000,
		cities: []city{{"Reykjavik", 64146582, -21942635, "10", []string{"Laugavegur", "Borgartun"}}}},
	{countryCode: "BE", partyID: "BLX", name: "Belux Laden", version: ocpi.V211, currency: "EUR",
		timeZone: "Europe/Brussels", country3: "BEL", vat: -1, vatFlat: -1, vatParking: -1, weight: 10,
		connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 150000,
		cities: []city{{"Brussel", 50850346, 4351721, "10", []string{"Rue Neuve", "Louizalaan"}},
			{"Antwerpen", 51219448, 4402464, "20", []string{"Meir", "Frankrijklei"}}}},
	{countryCode: "JP", partyID: "EVJ", name: "EV Japan Charge", version: ocpi.V230, currency: "JPY",
		timeZone: "Asia/Tokyo", country3: "JPN", vat: 10, vatFlat: 10, vatParking: 10, taxIncluded: ocpi.TaxIncludedYes,
		weight: 12, connectorAC: "IEC_62196_T1", connectorDC: "CHADEMO", dcPowerW: 90000,
		cities: []city{{"Tokyo", 35676191, 139650310, "100", []string{"Ginza", "Shibuya"}},
			{"Osaka", 34693738, 135502165, "530", []string{"Umeda", "Namba"}}}},
	{countryCode: "JO", partyID: "AMC", name: "Amman Charge", version: ocpi.V221, currency: "JOD",
		timeZone: "Asia/Amman", country3: "JOR", vat: 16, vatFlat: 16, vatParking: 0, weight: 6,
		connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 60000,
		cities: []city{{"Amman", 31953949, 35910635, "11", []string{"Zahran Street", "Rainbow Street"}}}},
	{countryCode: "US", partyID: "NYC", name: "Empire Charging", version: ocpi.V230, currency: "USD",
		timeZone: "America/New_York", country3: "USA", vat: -1, vatFlat: -1, vatParking: -1, taxIncluded: ocpi.TaxIncludedNo,
		weight: 16, connectorAC: "IEC_62196_T1", connectorDC: "IEC_62196_T1_COMBO", dcPowerW: 150000,
		cities: []city{{"New York", 40712776, -74005974, "100", []string{"Broadway", "West 42nd Street"}},
			{"Albany", 42652580, -73756233, "122", []string{"State Street", "Madison Avenue"}}}},
}

// moreParties are the parties after the first eight, in the order a larger
// Config.Parties takes them: twelve more European operators, with their own
// currencies (PLN, SEK, DKK, CZK, NOK, CHF), VAT rates and versions, so a
// settlement run meets twenty partners the way an eMSP of a continent does.
var moreParties = []partySpec{
	eu("FR", "RVF", "Recharge Ville de France", ocpi.V221, "EUR", "Europe/Paris", "FRA", 20, "",
		city{"Paris", 48856614, 2352222, "75", []string{"Rue de Rivoli", "Boulevard Haussmann"}},
		city{"Lyon", 45764043, 4835659, "69", []string{"Rue de la Republique", "Cours Lafayette"}}),
	eu("ES", "CRG", "Carga Iberica", ocpi.V230, "EUR", "Europe/Madrid", "ESP", 21, ocpi.TaxIncludedNo,
		city{"Madrid", 40416775, -3703790, "28", []string{"Gran Via", "Calle de Alcala"}},
		city{"Barcelona", 41385064, 2173403, "08", []string{"Passeig de Gracia", "La Rambla"}}),
	eu("IT", "RIC", "Ricarica Italia", ocpi.V221, "EUR", "Europe/Rome", "ITA", 22, "",
		city{"Milano", 45464204, 9189982, "20", []string{"Via Torino", "Corso Buenos Aires"}},
		city{"Roma", 41902784, 12496366, "00", []string{"Via del Corso", "Via Nazionale"}}),
	eu("AT", "SLA", "Stromladen Austria", ocpi.V211, "EUR", "Europe/Vienna", "AUT", -1, "",
		city{"Wien", 48208174, 16373819, "10", []string{"Mariahilfer Strasse", "Kaerntner Strasse"}}),
	eu("PL", "LAD", "Ladowarki Polskie", ocpi.V221, "PLN", "Europe/Warsaw", "POL", 23, "",
		city{"Warszawa", 52229676, 21012229, "00", []string{"Marszalkowska", "Nowy Swiat"}},
		city{"Krakow", 50064650, 19944980, "31", []string{"Florianska", "Grodzka"}}),
	eu("SE", "LDN", "Laddnatet Sverige", ocpi.V230, "SEK", "Europe/Stockholm", "SWE", 25, ocpi.TaxIncludedYes,
		city{"Stockholm", 59329323, 18068581, "111", []string{"Drottninggatan", "Sveavagen"}},
		city{"Goteborg", 57708870, 11974560, "411", []string{"Avenyn", "Linnegatan"}}),
	eu("DK", "OPL", "Opladning Danmark", ocpi.V221, "DKK", "Europe/Copenhagen", "DNK", 25, "",
		city{"Koebenhavn", 55676097, 12568337, "1", []string{"Stroget", "Norrebrogade"}}),
	eu("PT", "CAR", "Carregar Portugal", ocpi.V211, "EUR", "Europe/Lisbon", "PRT", -1, "",
		city{"Lisboa", 38722252, -9139337, "11", []string{"Avenida da Liberdade", "Rua Augusta"}},
		city{"Porto", 41157944, -8629105, "40", []string{"Rua de Santa Catarina", "Avenida dos Aliados"}}),
	eu("CZ", "NAB", "Nabijeni Cesko", ocpi.V221, "CZK", "Europe/Prague", "CZE", 21, "",
		city{"Praha", 50075538, 14437800, "11", []string{"Vaclavske namesti", "Narodni"}}),
	eu("FI", "LAT", "Lataus Suomi", ocpi.V230, "EUR", "Europe/Helsinki", "FIN", 24, ocpi.TaxIncludedNo,
		city{"Helsinki", 60169856, 24938379, "00", []string{"Mannerheimintie", "Aleksanterinkatu"}}),
	eu("NO", "LNO", "Lading Norge", ocpi.V221, "NOK", "Europe/Oslo", "NOR", 25, "",
		city{"Oslo", 59913869, 10752245, "01", []string{"Karl Johans gate", "Bogstadveien"}},
		city{"Bergen", 60391263, 5322054, "50", []string{"Torgallmenningen", "Bryggen"}}),
	eu("CH", "LCH", "Laden Schweiz", ocpi.V230, "CHF", "Europe/Zurich", "CHE", 8, ocpi.TaxIncludedNo,
		city{"Zuerich", 47376887, 8541694, "80", []string{"Bahnhofstrasse", "Langstrasse"}},
		city{"Geneve", 46204391, 6143158, "12", []string{"Rue du Rhone", "Rue de Lausanne"}}),
}

// eu describes a European CPO with Type 2 and CCS plugs, one VAT rate for
// every component (-1: no VAT field) and a share of 5 of the CDRs.
func eu(cc, id, name string, v ocpi.Version, cur, zone, country3 string, vat int, taxIncluded string, cities ...city) partySpec {
	return partySpec{countryCode: cc, partyID: id, name: name, version: v, currency: cur, timeZone: zone,
		country3: country3, vat: vat, vatFlat: vat, vatParking: vat, taxIncluded: taxIncluded, weight: 5,
		connectorAC: "IEC_62196_T2", connectorDC: "IEC_62196_T2_COMBO", dcPowerW: 150000, cities: cities}
}

// partySpecs returns the first n parties: the eight defaults, then moreParties.
func partySpecs(n int) ([]partySpec, error) {
	all := len(defaultParties) + len(moreParties)
	if n < 1 || n > all {
		return nil, fmt.Errorf("synth: parties must be between 1 and %d, got %d", all, n)
	}
	specs := make([]partySpec, 0, n)
	specs = append(specs, defaultParties[:min(n, len(defaultParties))]...)
	if n > len(defaultParties) {
		specs = append(specs, moreParties[:n-len(defaultParties)]...)
	}
	return specs, nil
}

// party is a CPO with everything built for the month.
type party struct {
	partySpec
	cur       currency
	loc       *time.Location
	zone      zoneTable
	tariffs   []*tariff
	locations []*location
	conns     []*connector
	rangeEnd  int64 // end of the range the zone table and clock boundaries cover
	// dayStart[d] is the Unix time of local midnight of day d of the month.
	dayStart []int64
}

// price converts a template price (euro, 4 decimals) to the party's currency,
// rounded half up to the currency's price granularity.
func (p *party) price(eurE4 int64) int64 {
	return roundToGran(eurE4*p.cur.num, p.cur.den, p.cur.gran)
}

func roundToGran(num, den, gran int64) int64 {
	q := (num + den*gran/2) / (den * gran)
	return q * gran
}

// vatFor returns the VAT percentage of a component of the dimension.
func (p *party) vatFor(dim int) (rate int, ok bool) {
	if p.version == ocpi.V211 {
		return 0, false // 2.1.1 has no VAT field
	}
	r := p.vat
	switch dim {
	case dimFlat:
		r = p.vatFlat
	case dimParking:
		r = p.vatParking
	}
	return r, r >= 0
}

func (p *party) dir() string { return p.countryCode + "-" + p.partyID }

func loadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("synth: time zone %q: %w", name, err)
	}
	return loc, nil
}
