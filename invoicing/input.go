package invoicing

import (
	"time"
)

// The inputs invoicing receives. settle fills them from its priced and
// reconciled rows through a thin adapter; nothing here knows the store.

// CDR is one priced CDR of a partner's period, accepted or disputed.
//
// Charges are the amounts to invoice for an accepted CDR (settle decides
// whether that is the recomputed or the billed amount; Dispute.Billed and
// Dispute.Recomputed keep both for a disputed one). A CDR with a non-nil
// Dispute is never charged: it is left out of the lines or listed beside
// them (Config.Disputes), whatever its dispute status; a dispute that ended
// with the billed amount accepted (written off) comes back as an accepted
// CDR without Dispute.
type CDR struct {
	// Identity, upper-cased as the store keys it.
	CountryCode, PartyID, ID string
	// BodySHA256 is the stored CDR's canonical body hash (store/canonical.go):
	// the snapshot proves which CDR was invoiced.
	BodySHA256 [32]byte
	Start, End time.Time
	// Location is where the session took place (nil: not stated). A month's
	// CDRs at one place may share it: a document never changes it.
	Location *Location
	// Tariff is the tariff version the charges were priced with; nil (or
	// zero) when none applies (amounts accepted as billed, no tariff). The
	// CDRs priced with one version may share it.
	Tariff *TariffVersion
	// PricingPolicy names the pricing policy of the amounts
	// (priced_tariffs.policy, e.g. "half_up/total/2.2.1-d2").
	PricingPolicy string
	Currency      string // ISO 4217
	Energy        Quantity
	// Credit marks an OCPI credit CDR (negative amounts); CreditReference
	// is the id of the CDR it credits.
	Credit          bool
	CreditReference string
	Charges         []Charge
	Dispute         *Dispute
}

// place is the CDR's location, an empty one when it states none.
func (c *CDR) place() *Location {
	if c.Location == nil {
		return &noLocation
	}
	return c.Location
}

// tariff is the CDR's tariff version, zero when none applies.
func (c *CDR) tariff() TariffVersion {
	if c.Tariff == nil {
		return TariffVersion{}
	}
	return *c.Tariff
}

var noLocation Location

// Key returns the CDR's identity "CC*PID*ID".
func (c *CDR) Key() string { return c.CountryCode + "*" + c.PartyID + "*" + c.ID }

// Location is where the session took place, as the CDR states it.
type Location struct {
	ID, Name, Address, City, PostalCode, Country string // Country: ISO 3166-1 alpha-3 as in OCPI
	EVSEID                                       string
}

// TariffVersion identifies one stored version of a tariff.
type TariffVersion struct {
	CountryCode, PartyID, ID string
	LastUpdated              time.Time
}

// IsZero reports whether no tariff is named.
func (t TariffVersion) IsZero() bool { return t.ID == "" }

// Key returns "CC*PID*ID@last_updated" (RFC 3339 UTC), or "" when zero.
func (t TariffVersion) Key() string {
	if t.IsZero() {
		return ""
	}
	return t.CountryCode + "*" + t.PartyID + "*" + t.ID + "@" + t.LastUpdated.UTC().Format(time.RFC3339)
}

// Component is the cost component a charge belongs to (the CDR's
// total_*_cost sub-totals, plus the min/max and rounding adjustment).
type Component string

const (
	Energy      Component = "energy"
	Time        Component = "time"
	Parking     Component = "parking"
	Fixed       Component = "fixed"
	Reservation Component = "reservation"
	// Adjustment is total_cost minus the sum of the sub-totals: the min/max
	// price clamp and the rounding residue (pricing.Totals.Adjustment).
	Adjustment Component = "adjustment"
)

// Components lists the components in the order documents show them.
var Components = []Component{Energy, Time, Parking, Fixed, Reservation, Adjustment}

// componentIndex is c's position in Components, -1 when unknown (a
// switch: it runs once per charge).
func componentIndex(c Component) int {
	switch c {
	case Energy:
		return 0
	case Time:
		return 1
	case Parking:
		return 2
	case Fixed:
		return 3
	case Reservation:
		return 4
	case Adjustment:
		return 5
	}
	return -1
}

// Charge is one cost component of a CDR before tax, with the taxes on it.
// No taxes means none applies (OCPI vat absent); it is invoiced under
// Config.Untaxed. A 0 % VAT is a Tax with HasRate and Rate 0.
type Charge struct {
	Component Component
	Excl      Amount
	Taxes     []Tax
}

// Tax is one tax on a charge: VAT for 2.1.1 and 2.2.1 (incl_vat − excl_vat
// of the component), or one 2.3.0 TaxAmount.
type Tax struct {
	Name    string // "VAT", or the 2.3.0 name ("GST", "QST")
	Rate    Percent
	HasRate bool // false: a 2.3.0 tax given as an amount only
	// Amount is the tax as priced. It is what the document states when the
	// rate is unknown or Config.TaxMethod is TaxFromLines.
	Amount Amount
}

// Dispute is why a CDR is not accepted, with the evidence for the partner.
type Dispute struct {
	Verdict    string   // MISMATCH or NOT_VERIFIABLE (reconcile's verdicts)
	Status     string   // lifecycle: raised, sent, accepted, declined, revised, written_off
	Reasons    []string // reason codes, most likely first (TARIFF_VERSION, PRICE, ...)
	Billed     *Price   // what the partner billed; nil when it sent no amount
	Recomputed *Price   // what roamsettle computed; nil when it could not
	Periods    []int    // charging periods where the difference arises
	Evidence   string   // one paragraph: the hypothesis that explains the billed amount
}

// Price is a total before and after tax.
type Price struct {
	Excl Amount `json:"excl_vat"`
	Incl Amount `json:"incl_vat"`
}

// Period is the settlement period: CDRs whose end falls in [From, To). Its
// zone (From's location) dates the days of the chart and the period shown.
type Period struct {
	Name     string // "2026-10"
	From, To time.Time
}
