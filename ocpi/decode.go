package ocpi

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Hint tells Decode what is already known about a payload from where it
// arrived: the endpoint (kind), the negotiated version, and the party of the
// connection or of the importing partner. Empty fields are detected from the
// body.
type Hint struct {
	Kind    Kind
	Version Version
	// CountryCode and PartyID own 2.1.1 objects, which carry no owner
	// fields. For 2.2+ objects they must match the body's owner.
	CountryCode, PartyID string
	// PriceOnly says the object is priced and never stored (roamsettle
	// price): the id identifies nothing, so an object without one is decoded,
	// its missing id a problem that does not block, instead of rejected.
	PriceOnly bool
}

// Decoded is the result of decoding one payload.
type Decoded struct {
	Kind    Kind
	Version Version
	// Exactly one is set unless Rejected.
	CDR      *CDR
	Tariff   *Tariff
	Location *Location
	Invoice  *InvoiceReconciliationRecord
	// Problems holds every problem found, decoding and validation alike.
	Problems Problems
	// Rejected is true when the payload cannot be stored as an object: it is
	// not JSON, not an object, of an unknown kind, too large or too deep, or
	// it has no id or no owner. Problems then says why.
	Rejected bool
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// Decode decodes and validates one OCPI object of any supported version.
//
// It never stops at the first problem: a payload that can be identified
// (kind, id and owner known) is decoded as far as possible, and every problem
// is listed with its field path, its rule and whether it blocks pricing.
func Decode(raw []byte, hint Hint) Decoded {
	var out Decoded
	out.Kind, out.Version = hint.Kind, hint.Version
	if len(raw) > MaxRecordBytes {
		out.reject("", RuleTooLarge, "payload of "+strconv.Itoa(len(raw))+" bytes is over the "+
			strconv.Itoa(MaxRecordBytes)+"-byte limit for one object")
		return out
	}
	d := decoderPool.Get().(*decoder)
	defer func() {
		d.raw, d.src, d.probs, d.path = nil, "", nil, d.path[:0]
		if cap(d.sc.nodes) <= 1<<16 {
			d.sc.data = nil
			decoderPool.Put(d)
		}
	}()
	if err := d.sc.parse(raw); err != nil {
		out.reject("", err.rule, err.Error())
		return out
	}
	if d.sc.nodes[0].kind != nodeObject {
		out.reject("", RuleType, "expected a JSON object, got "+d.sc.nodes[0].kind.String())
		return out
	}
	d.raw, d.src = raw, string(raw)
	d.rawValid = utf8.Valid(raw)
	d.probs = nil
	d.path = d.path[:0]

	keys := d.topKeys()
	if out.Kind == "" {
		out.Kind = keys.kind()
		if out.Kind == "" {
			msg := "cannot tell the kind of object from its fields (expected a CDR, tariff, location or invoice reconciliation record)"
			if keys.has(keyKWh) {
				msg = "a Session, not a CDR, tariff, location or invoice reconciliation record"
			}
			out.reject("", RuleKind, msg)
			return out
		}
	}
	switch out.Kind {
	case KindCDR, KindTariff, KindLocation, KindInvoice:
	default:
		out.reject("", RuleKind, "unknown object kind "+strconv.Quote(string(out.Kind)))
		return out
	}
	if out.Version == "" {
		out.Version = d.detectVersion(out.Kind, keys)
	}
	switch out.Version {
	case V211, V221, V230:
	default:
		out.reject("", RuleKind, "unsupported OCPI version "+strconv.Quote(string(out.Version)))
		return out
	}
	d.version = out.Version

	var owner *[2]*string
	var id string
	switch out.Kind {
	case KindCDR:
		c := d.cdr(0)
		out.CDR = c
		owner, id = &[2]*string{&c.CountryCode, &c.PartyID}, c.ID
	case KindTariff:
		t := d.tariff(0)
		out.Tariff = t
		owner, id = &[2]*string{&t.CountryCode, &t.PartyID}, t.ID
	case KindLocation:
		l := d.location(0)
		out.Location = l
		owner, id = &[2]*string{&l.CountryCode, &l.PartyID}, l.ID
	case KindInvoice:
		r := d.invoice(0)
		out.Invoice = r
		owner, id = &[2]*string{&r.CountryCode, &r.PartyID}, r.ID
	}
	decodeProblems := len(d.probs)
	d.resolveOwner(owner, hint, &out)
	if id == "" && !hint.PriceOnly {
		if !hasPath(d.probs, "id") {
			d.reportAt("id", RuleRequired, true, "the object has no id")
		}
		out.Rejected = true
	}
	if out.Rejected {
		// The reason of the refusal (owner, id) comes first: it is what a
		// one-line summary shows.
		out.Problems = append(append(Problems{}, d.probs[decodeProblems:]...), d.probs[:decodeProblems]...)
		out.CDR, out.Tariff, out.Location, out.Invoice = nil, nil, nil, nil
		return out
	}

	// Validation sees the model only; drop what it finds on a path the
	// decoder already reported (a field of the wrong type is also "missing").
	v := validator{problemSink: problemSink{path: d.path[:0]}}
	switch out.Kind {
	case KindCDR:
		v.cdr(out.CDR)
	case KindTariff:
		v.tariff(out.Tariff)
	case KindLocation:
		v.location(out.Location)
	case KindInvoice:
		v.invoice(out.Invoice)
	}
	d.path = v.path
	probs := d.probs
	unreadablePeriods := false
	for _, p := range probs[:decodeProblems] {
		unreadablePeriods = unreadablePeriods || strings.HasPrefix(p.Path, "charging_periods")
	}
	for _, p := range v.probs {
		// Sums over periods whose volumes could not be read say nothing.
		if p.Rule == RuleTotals && unreadablePeriods {
			continue
		}
		if !hasPath(probs[:decodeProblems], p.Path) {
			probs = append(probs, p)
		}
	}
	out.Problems = probs
	return out
}

func hasPath(ps Problems, path string) bool {
	for i := range ps {
		if ps[i].Path == path {
			return true
		}
	}
	return false
}

func (out *Decoded) reject(path string, rule Rule, msg string) {
	out.Rejected = true
	out.Problems = append(out.Problems, Problem{Path: path, Rule: rule, Message: msg, Blocking: true})
}

// resolveOwner settles the object's (country_code, party_id) from the body
// and the hint, and rejects the payload when no owner is known or the body
// claims another party than the connection's.
func (d *decoder) resolveOwner(owner *[2]*string, hint Hint, out *Decoded) {
	cc, pid := owner[0], owner[1]
	hasBody := *cc != "" || *pid != ""
	hasHint := hint.CountryCode != "" || hint.PartyID != ""
	switch {
	case hasBody && hasHint && (Key(*cc) != Key(hint.CountryCode) || Key(*pid) != Key(hint.PartyID)):
		d.report(RuleOwner, true, "the object belongs to "+PartyKey(*cc, *pid)+
			" but arrived for "+PartyKey(hint.CountryCode, hint.PartyID))
		out.Rejected = true
	case !hasBody && hasHint:
		*cc, *pid = hint.CountryCode, hint.PartyID
		if out.Version != V211 {
			d.report(RuleOwner, false, "no country_code/party_id in the object; owner "+
				PartyKey(hint.CountryCode, hint.PartyID)+" taken from the connection")
		}
	case !hasBody:
		d.report(RuleOwner, true, "no owner: the object has no country_code/party_id and none was given by the connection")
		out.Rejected = true
	}
}

// topKeys notes which of the fields that tell kinds and versions apart are
// present at the top level, in one pass.
type keySet uint32

const (
	keyChargingPeriods keySet = 1 << iota
	keyCdrToken
	keyStopDateTime
	keyAuthID
	keyTotalCost
	keyElements
	keyEvses
	keyCoordinates
	keyInvoiceID
	keyLocation
	keyCdrLocation
	keyCountryCode
	keyPartyID
	keyTaxIncluded
	keyKWh
	keyEndDateTime
)

func (k keySet) has(f keySet) bool { return k&f != 0 }

func (k keySet) kind() Kind {
	switch {
	case k.has(keyKWh):
		return "" // a Session
	case k.has(keyChargingPeriods | keyCdrToken | keyStopDateTime | keyAuthID | keyTotalCost):
		return KindCDR
	case k.has(keyInvoiceID):
		return KindInvoice
	case k.has(keyElements):
		return KindTariff
	case k.has(keyEvses | keyCoordinates):
		return KindLocation
	}
	return ""
}

func (d *decoder) topKeys() keySet {
	var k keySet
	for m := d.firstMember(0); m >= 0; m = d.nextMember(0, m) {
		switch d.text(m) {
		case "charging_periods":
			k |= keyChargingPeriods
		case "cdr_token":
			k |= keyCdrToken
		case "stop_date_time":
			k |= keyStopDateTime
		case "auth_id":
			k |= keyAuthID
		case "total_cost":
			k |= keyTotalCost
		case "elements":
			k |= keyElements
		case "evses":
			k |= keyEvses
		case "coordinates":
			k |= keyCoordinates
		case "invoice_id":
			k |= keyInvoiceID
		case "location":
			k |= keyLocation
		case "cdr_location":
			k |= keyCdrLocation
		case "country_code":
			k |= keyCountryCode
		case "party_id":
			k |= keyPartyID
		case "tax_included":
			k |= keyTaxIncluded
		case "kwh":
			k |= keyKWh
		case "end_date_time":
			k |= keyEndDateTime
		}
	}
	return k
}

// priceShape tells a 2.2.1 Price/PriceLimit from a 2.3.0 one by its fields.
func (d *decoder) priceShape(v int32) Version {
	if v < 0 || d.node(v).kind != nodeObject {
		return ""
	}
	for m := d.firstMember(v); m >= 0; m = d.nextMember(v, m) {
		switch d.text(m) {
		case "before_taxes", "taxes", "after_taxes":
			return V230
		case "excl_vat", "incl_vat":
			return V221
		}
	}
	return ""
}

func (d *decoder) detectVersion(kind Kind, k keySet) Version {
	switch kind {
	case KindInvoice:
		return V230
	case KindLocation:
		if !k.has(keyCountryCode | keyPartyID) {
			return V211
		}
		return V221
	case KindTariff:
		if k.has(keyTaxIncluded) {
			return V230
		}
		for _, f := range []string{"min_price", "max_price"} {
			if s := d.priceShape(d.member(0, f)); s != "" {
				return s
			}
		}
		if !k.has(keyCountryCode | keyPartyID) {
			return V211
		}
		return V221
	}
	// CDR
	if k.has(keyStopDateTime|keyAuthID) || (k.has(keyLocation) && !k.has(keyCdrLocation)) {
		return V211
	}
	for _, f := range []string{"total_cost", "total_time_cost", "total_energy_cost", "total_fixed_cost", "total_parking_cost", "total_reservation_cost"} {
		v := d.member(0, f)
		if v < 0 {
			continue
		}
		switch d.node(v).kind {
		case nodeNumber, nodeString:
			return V211
		}
		if s := d.priceShape(v); s != "" {
			return s
		}
	}
	if t := d.member(0, "tariffs"); t >= 0 && d.node(t).kind == nodeArray {
		for e := d.firstElement(t); e >= 0; e = d.nextElement(t, e) {
			if d.node(e).kind == nodeObject && d.member(e, "tax_included") >= 0 {
				return V230
			}
		}
	}
	if !k.has(keyCountryCode|keyPartyID|keyCdrToken|keyCdrLocation|keyEndDateTime) && k.has(keyChargingPeriods) {
		return V211
	}
	return V221
}

// DecodeReceived decodes r.Raw and fills r in place: Kind, Version, the
// decoded object, Problems and Rejected. It computes r.SHA256 when unset.
// Receivers and importers share this one path.
func DecodeReceived(r *Received, hint Hint) {
	if r.SHA256 == ([32]byte{}) {
		r.SHA256 = sha256.Sum256(r.Raw)
	}
	out := Decode(r.Raw, hint)
	r.Kind, r.Version = out.Kind, out.Version
	r.CDR, r.Tariff, r.Location, r.Invoice = out.CDR, out.Tariff, out.Location, out.Invoice
	r.Problems = out.Problems
	r.Rejected = out.Rejected
}
