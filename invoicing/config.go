package invoicing

import (
	"errors"
	"fmt"
	"strings"
)

// Billing says who issues the invoice.
type Billing string

const (
	// Direct: the seller (the CPO) invoices the buyer (the eMSP) for the
	// charges the buyer accepts.
	Direct Billing = "direct"
	// SelfBilling: the buyer issues the invoice on the seller's behalf
	// (self or reverse billing); the seller stays the supplier on it.
	SelfBilling Billing = "self_billing"
)

// Grouping says what one invoice line charges.
type Grouping string

const (
	// PerCDR: one line per CDR (and per tax set within it).
	PerCDR Grouping = "cdr"
	// ByLocationTariff: one line per location and tariff version (and tax
	// set); the CDRs behind each line are in the document's snapshot.
	ByLocationTariff Grouping = "location_tariff"
)

// DisputePolicy says what a document does with disputed CDRs. Either way
// they are never charged.
type DisputePolicy string

const (
	// ExcludeDisputes leaves them off invoices (statements list them).
	ExcludeDisputes DisputePolicy = "exclude"
	// ListDisputes lists them on invoices too, after the totals, uncharged.
	ListDisputes DisputePolicy = "list"
)

// TaxMethod says how a tax amount of the breakdown is computed.
type TaxMethod string

const (
	// TaxFromBase: per tax and rate, the taxable base (the sum of the
	// rounded line amounts) times the rate, rounded once (EN 16931
	// BR-CO-17). The default.
	TaxFromBase TaxMethod = "base"
	// TaxFromLines: per tax and rate, the exact sum of the taxes as priced
	// per CDR, rounded once; for partners whose contract sums the CDRs'
	// VAT. Taxes given without a rate are always summed this way.
	TaxFromLines TaxMethod = "lines"
)

// Address is a postal address. Country is ISO 3166-1 alpha-2 ("DE").
type Address struct {
	Street     string `json:"street,omitempty"`
	Additional string `json:"additional,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	Country    string `json:"country"`
}

// Party is a seller or buyer as printed on documents.
type Party struct {
	Name           string  `json:"name"` // legal (registration) name
	CountryCode    string  `json:"country_code"`
	PartyID        string  `json:"party_id"` // the OCPI party
	Address        Address `json:"address"`
	VATID          string  `json:"vat_id,omitempty"`          // with its country prefix, "DE123456789"
	RegistrationID string  `json:"registration_id,omitempty"` // company register number
	Email          string  `json:"email,omitempty"`
}

// Key returns the OCPI party "CC*PID", upper-cased.
func (p Party) Key() string {
	return strings.ToUpper(p.CountryCode) + "*" + strings.ToUpper(p.PartyID)
}

// Payment is how and when the invoice is paid.
type Payment struct {
	TermsDays   int    `json:"terms_days"`     // due date = issue date + TermsDays
	Note        string `json:"note,omitempty"` // printed as the payment terms
	IBAN        string `json:"iban,omitempty"` // the payee's account (credit transfer)
	BIC         string `json:"bic,omitempty"`
	AccountName string `json:"account_name,omitempty"`
}

// TaxCategory is the EN 16931 VAT category (UNCL5305) under which charges
// without any tax are invoiced, with the exemption reason the category
// requires: E (exempt, the default), AE (reverse charge), Z (zero rated),
// O (not subject to VAT; then no other category may appear).
type TaxCategory struct {
	Code   string `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// Config is the per-partner invoicing setup: the parties and the
// document policy. It comes from the configuration file through cmd.
type Config struct {
	Billing   Billing
	Seller    Party // the supplier of the charging (the CPO)
	Buyer     Party // the customer (the eMSP)
	Payment   Payment
	Grouping  Grouping
	Disputes  DisputePolicy
	Rounding  Rounding
	TaxMethod TaxMethod
	Untaxed   TaxCategory
	// InvoiceSeries and CreditNoteSeries prefix the numbers ("INV-",
	// "CN-"); each series of an issuer counts 1, 2, 3... without gaps. The
	// same prefix for both makes one shared sequence.
	InvoiceSeries    string
	CreditNoteSeries string
}

// DefaultConfig fills the document policy; the caller sets the parties and
// payment.
func DefaultConfig() Config {
	return Config{
		Billing: Direct, Grouping: ByLocationTariff, Disputes: ExcludeDisputes,
		Rounding: HalfUp, TaxMethod: TaxFromBase,
		Untaxed:       TaxCategory{Code: "E", Reason: "No VAT rate in the tariff (OCPI vat absent)"},
		InvoiceSeries: "INV-", CreditNoteSeries: "CN-",
	}
}

// Issuer is the party that issues (and numbers) the documents: the seller
// under direct billing, the buyer under self-billing.
func (c Config) Issuer() Party {
	if c.Billing == SelfBilling {
		return c.Buyer
	}
	return c.Seller
}

// Partner is the other party.
func (c Config) Partner() Party {
	if c.Billing == SelfBilling {
		return c.Seller
	}
	return c.Buyer
}

// ErrConfig: the configuration cannot produce documents.
var ErrConfig = errors.New("invalid invoicing configuration")

// Validate reports every missing or unknown setting at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch c.Billing {
	case Direct, SelfBilling:
	default:
		bad("billing %q: want %q or %q", c.Billing, Direct, SelfBilling)
	}
	switch c.Grouping {
	case PerCDR, ByLocationTariff:
	default:
		bad("grouping %q: want %q or %q", c.Grouping, PerCDR, ByLocationTariff)
	}
	switch c.Disputes {
	case ExcludeDisputes, ListDisputes:
	default:
		bad("disputes %q: want %q or %q", c.Disputes, ExcludeDisputes, ListDisputes)
	}
	switch c.Rounding {
	case HalfUp, HalfEven:
	default:
		bad("rounding %q: want %q or %q", c.Rounding, HalfUp, HalfEven)
	}
	switch c.TaxMethod {
	case TaxFromBase, TaxFromLines:
	default:
		bad("tax method %q: want %q or %q", c.TaxMethod, TaxFromBase, TaxFromLines)
	}
	switch c.Untaxed.Code {
	case "E", "AE", "O":
		if c.Untaxed.Reason == "" {
			bad("untaxed category %s needs an exemption reason", c.Untaxed.Code)
		}
	case "Z":
	default:
		bad("untaxed category %q: want E, AE, Z or O", c.Untaxed.Code)
	}
	for _, p := range []struct {
		role  string
		party Party
	}{{"seller", c.Seller}, {"buyer", c.Buyer}} {
		if p.party.Name == "" {
			bad("%s: name is required", p.role)
		}
		if p.party.CountryCode == "" || p.party.PartyID == "" {
			bad("%s: OCPI country_code and party_id are required", p.role)
		}
		if p.party.Address.City == "" || len(p.party.Address.Country) != 2 {
			bad("%s: address needs a city and an ISO 3166-1 alpha-2 country", p.role)
		}
	}
	if c.Seller.Key() == c.Buyer.Key() && c.Seller.PartyID != "" {
		bad("seller and buyer are the same party %s", c.Seller.Key())
	}
	if c.Payment.TermsDays < 0 {
		bad("payment terms_days %d is negative", c.Payment.TermsDays)
	}
	if c.InvoiceSeries == "" || c.CreditNoteSeries == "" {
		bad("invoice and credit note series (number prefixes) are required")
	}
	return errors.Join(errs...)
}

// policy names every setting that shapes a document's amounts and lines:
// it is part of the input snapshot.
func (c Config) policy() string {
	return fmt.Sprintf("billing=%s grouping=%s disputes=%s rounding=%s tax=%s untaxed=%s",
		c.Billing, c.Grouping, c.Disputes, c.Rounding, c.TaxMethod, c.Untaxed.Code)
}
