package main

import (
	"errors"
	"fmt"

	"github.com/roamsettle/roamsettle/invoicing"
	"github.com/roamsettle/roamsettle/settle"
)

// InvoicingConfig is the [invoicing] section: who we are on documents and
// the document policy. Without it the whole job writes no statements or
// invoices; a partner without its own [partners.invoicing] details gets
// none either.
//
//	[invoicing]
//	billing            = "self_billing"  # or "direct" (the CPO is the issuer; the default)
//	grouping           = "location_tariff" # or "cdr": one line per CDR
//	disputes           = "exclude"       # or "list": disputed CDRs listed on invoices too
//	rounding           = "half_up"       # or "half_even"
//	tax_method         = "base"          # or "lines"
//	invoice_series     = "INV-"
//	credit_note_series = "CN-"
//	payment_terms_days = 30
//	[invoicing.self]                     # our party, the eMSP (the buyer)
//	legal_name = "Roam Settle B.V."
//	country_code = "NL"
//	party_id = "RSM"
//	street = "Keizersgracht 1"
//	postal_code = "1015 CJ"
//	city = "Amsterdam"
//	country = "NL"                       # ISO 3166-1 alpha-2
//	vat_id = "NL123456789B01"
type InvoicingConfig struct {
	Billing          string       `toml:"billing"`
	Grouping         string       `toml:"grouping"`
	Disputes         string       `toml:"disputes"`
	Rounding         string       `toml:"rounding"`
	TaxMethod        string       `toml:"tax_method"`
	UntaxedCategory  string       `toml:"untaxed_category"`
	UntaxedReason    string       `toml:"untaxed_reason"`
	InvoiceSeries    string       `toml:"invoice_series"`
	CreditNoteSeries string       `toml:"credit_note_series"`
	PaymentTermsDays int          `toml:"payment_terms_days"`
	PaymentNote      string       `toml:"payment_note"`
	Self             PartyDetails `toml:"self"`
}

// PartyDetails are a party's legal details as documents print them
// ([invoicing.self], and [partners.invoicing] for a partner, whose OCPI
// identity is its country_code and party_id).
type PartyDetails struct {
	LegalName      string `toml:"legal_name"`
	CountryCode    string `toml:"country_code"`
	PartyID        string `toml:"party_id"`
	Street         string `toml:"street"`
	Additional     string `toml:"additional"`
	PostalCode     string `toml:"postal_code"`
	City           string `toml:"city"`
	Region         string `toml:"region"`
	Country        string `toml:"country"`
	VATID          string `toml:"vat_id"`
	RegistrationID string `toml:"registration_id"`
	Email          string `toml:"email"`
	IBAN           string `toml:"iban"`
	BIC            string `toml:"bic"`
}

func (d PartyDetails) party(name, cc, pid string) invoicing.Party {
	if d.LegalName != "" {
		name = d.LegalName
	}
	return invoicing.Party{Name: name, CountryCode: cc, PartyID: pid, VATID: d.VATID, RegistrationID: d.RegistrationID, Email: d.Email,
		Address: invoicing.Address{Street: d.Street, Additional: d.Additional, PostalCode: d.PostalCode, City: d.City, Region: d.Region, Country: d.Country}}
}

// invoicingConfig is the partner's invoicing.Config; ok is false when the
// config has no [invoicing] section or no details for the partner.
func (c Config) invoicingConfig(p settle.Party) (invoicing.Config, bool, error) {
	if c.Invoicing == nil {
		return invoicing.Config{}, false, nil
	}
	pc := c.partner(p.CountryCode, p.PartyID)
	if pc.Invoicing == nil {
		return invoicing.Config{}, false, nil
	}
	ic := c.Invoicing
	cfg := invoicing.DefaultConfig()
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set((*string)(&cfg.Billing), ic.Billing)
	set((*string)(&cfg.Grouping), ic.Grouping)
	set((*string)(&cfg.Disputes), ic.Disputes)
	set((*string)(&cfg.Rounding), ic.Rounding)
	set((*string)(&cfg.TaxMethod), ic.TaxMethod)
	set(&cfg.Untaxed.Code, ic.UntaxedCategory)
	set(&cfg.Untaxed.Reason, ic.UntaxedReason)
	set(&cfg.InvoiceSeries, ic.InvoiceSeries)
	set(&cfg.CreditNoteSeries, ic.CreditNoteSeries)
	cfg.Seller = pc.Invoicing.party(pc.Name, p.CountryCode, p.PartyID)
	cfg.Buyer = ic.Self.party("", ic.Self.CountryCode, ic.Self.PartyID)
	// The seller (the CPO) is paid, under either billing.
	cfg.Payment = invoicing.Payment{TermsDays: ic.PaymentTermsDays, Note: ic.PaymentNote, IBAN: pc.Invoicing.IBAN,
		BIC: pc.Invoicing.BIC, AccountName: cfg.Seller.Name}
	if err := cfg.Validate(); err != nil {
		return cfg, false, fmt.Errorf("invoicing of %s: %w", p, err)
	}
	return cfg, true, nil
}

// validateInvoicing checks the document setup of every partner that has
// invoicing details, so that a mistake is a start-up error.
func (c *Config) validateInvoicing() error {
	if c.Invoicing == nil {
		for i, p := range c.Partners {
			if p.Invoicing != nil {
				return fmt.Errorf("partners[%d].invoicing: the config has no [invoicing] section (our own party and the document policy)", i)
			}
		}
		return nil
	}
	var errs []error
	for i, p := range c.Partners {
		if p.Invoicing == nil {
			continue
		}
		if _, _, err := c.invoicingConfig(settle.NewParty(p.CountryCode, p.PartyID)); err != nil {
			errs = append(errs, fmt.Errorf("partners[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
