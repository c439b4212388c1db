package invoicing

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The UBL 2.1 rendering: an EN 16931 (core) invoice or credit note, written
// with encoding/xml. Checked against the CEN's business rules by
// `make check-docs` (../shared/tools/check-ubl).

// ErrUBL: the document cannot be expressed as an EN 16931 UBL invoice.
var ErrUBL = errors.New("not expressible in EN 16931 UBL")

const (
	ublInvoiceNS    = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
	ublCreditNoteNS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
	ublCACNS        = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	ublCBCNS        = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
	en16931         = "urn:cen.eu:en16931:2017"
)

// RenderUBL writes an invoice as a UBL 2.1 Invoice (type 380, or 389 when
// self-billed) and a credit note as a UBL CreditNote (381, or 261), with
// the EN 16931 core fields: parties with postal addresses, VAT and legal
// registration, the period, the credited invoices, payment means and
// terms, the VAT breakdown, the totals and the lines. Each line is one
// unit (C62) at its net amount, the sessions and energy in its description
// (a quantity times a price would not be exact). A statement is not an
// invoice; taxes other than VAT and currencies with more than two minor
// units cannot be expressed (ErrUBL).
func RenderUBL(w io.Writer, d *Document) error {
	doc, err := ublDocument(d)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("invoicing: ubl %s: %w", d.Number, err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}

type ublAmount struct {
	Currency string `xml:"currencyID,attr"`
	Value    string `xml:",chardata"`
}

type ublQuantity struct {
	Unit  string `xml:"unitCode,attr"`
	Value string `xml:",chardata"`
}

type ublID struct {
	SchemeID string `xml:"schemeID,attr,omitempty"`
	Value    string `xml:",chardata"`
}

type ublDocRef struct {
	ID        string `xml:"cbc:ID"`
	IssueDate string `xml:"cbc:IssueDate,omitempty"`
}

type ublBillingRef struct {
	Invoice ublDocRef `xml:"cac:InvoiceDocumentReference"`
}

type ublPeriod struct {
	Start string `xml:"cbc:StartDate,omitempty"`
	End   string `xml:"cbc:EndDate,omitempty"`
}

type ublTaxScheme struct {
	ID string `xml:"cbc:ID"`
}

type ublAddress struct {
	Street     string `xml:"cbc:StreetName,omitempty"`
	Additional string `xml:"cbc:AdditionalStreetName,omitempty"`
	City       string `xml:"cbc:CityName,omitempty"`
	PostalZone string `xml:"cbc:PostalZone,omitempty"`
	Region     string `xml:"cbc:CountrySubentity,omitempty"`
	Country    struct {
		Code string `xml:"cbc:IdentificationCode"`
	} `xml:"cac:Country"`
}

type ublPartyTaxScheme struct {
	CompanyID string       `xml:"cbc:CompanyID"`
	TaxScheme ublTaxScheme `xml:"cac:TaxScheme"`
}

type ublLegalEntity struct {
	RegistrationName string `xml:"cbc:RegistrationName"`
	CompanyID        string `xml:"cbc:CompanyID,omitempty"`
}

type ublContact struct {
	Email string `xml:"cbc:ElectronicMail,omitempty"`
}

type ublParty struct {
	Identification *struct {
		ID ublID `xml:"cbc:ID"`
	} `xml:"cac:PartyIdentification,omitempty"`
	Address     ublAddress         `xml:"cac:PostalAddress"`
	TaxScheme   *ublPartyTaxScheme `xml:"cac:PartyTaxScheme,omitempty"`
	LegalEntity ublLegalEntity     `xml:"cac:PartyLegalEntity"`
	Contact     *ublContact        `xml:"cac:Contact,omitempty"`
}

type ublPartyWrap struct {
	Party ublParty `xml:"cac:Party"`
}

type ublPaymentMeans struct {
	Code      string `xml:"cbc:PaymentMeansCode"`
	PaymentID string `xml:"cbc:PaymentID,omitempty"`
	Account   *struct {
		ID     string `xml:"cbc:ID"`
		Name   string `xml:"cbc:Name,omitempty"`
		Branch *struct {
			ID string `xml:"cbc:ID"`
		} `xml:"cac:FinancialInstitutionBranch,omitempty"`
	} `xml:"cac:PayeeFinancialAccount,omitempty"`
}

type ublPaymentTerms struct {
	Note string `xml:"cbc:Note"`
}

type ublTaxCategory struct {
	ID              string       `xml:"cbc:ID"`
	Percent         string       `xml:"cbc:Percent,omitempty"`
	ExemptionReason string       `xml:"cbc:TaxExemptionReason,omitempty"`
	TaxScheme       ublTaxScheme `xml:"cac:TaxScheme"`
}

type ublTaxSubtotal struct {
	Taxable  ublAmount      `xml:"cbc:TaxableAmount"`
	Tax      ublAmount      `xml:"cbc:TaxAmount"`
	Category ublTaxCategory `xml:"cac:TaxCategory"`
}

type ublTaxTotal struct {
	Tax       ublAmount        `xml:"cbc:TaxAmount"`
	Subtotals []ublTaxSubtotal `xml:"cac:TaxSubtotal"`
}

type ublMonetaryTotal struct {
	LineExtension ublAmount `xml:"cbc:LineExtensionAmount"`
	TaxExclusive  ublAmount `xml:"cbc:TaxExclusiveAmount"`
	TaxInclusive  ublAmount `xml:"cbc:TaxInclusiveAmount"`
	Payable       ublAmount `xml:"cbc:PayableAmount"`
}

type ublItem struct {
	Description string         `xml:"cbc:Description,omitempty"`
	Name        string         `xml:"cbc:Name"`
	TaxCategory ublTaxCategory `xml:"cac:ClassifiedTaxCategory"`
}

type ublPrice struct {
	Amount ublAmount `xml:"cbc:PriceAmount"`
}

type ublLine struct {
	ID            string       `xml:"cbc:ID"`
	Note          string       `xml:"cbc:Note,omitempty"`
	Invoiced      *ublQuantity `xml:"cbc:InvoicedQuantity,omitempty"`
	Credited      *ublQuantity `xml:"cbc:CreditedQuantity,omitempty"`
	LineExtension ublAmount    `xml:"cbc:LineExtensionAmount"`
	Period        *ublPeriod   `xml:"cac:InvoicePeriod,omitempty"`
	Item          ublItem      `xml:"cac:Item"`
	Price         ublPrice     `xml:"cac:Price"`
}

// ublDoc is both an Invoice and a CreditNote: the fields that differ are
// set for one kind only, and XMLName names the root.
type ublDoc struct {
	XMLName         xml.Name
	XMLNSCAC        string           `xml:"xmlns:cac,attr"`
	XMLNSCBC        string           `xml:"xmlns:cbc,attr"`
	CustomizationID string           `xml:"cbc:CustomizationID"`
	ID              string           `xml:"cbc:ID"`
	IssueDate       string           `xml:"cbc:IssueDate"`
	DueDate         string           `xml:"cbc:DueDate,omitempty"`
	InvoiceType     string           `xml:"cbc:InvoiceTypeCode,omitempty"`
	CreditNoteType  string           `xml:"cbc:CreditNoteTypeCode,omitempty"`
	Notes           []string         `xml:"cbc:Note"`
	Currency        string           `xml:"cbc:DocumentCurrencyCode"`
	BuyerReference  string           `xml:"cbc:BuyerReference,omitempty"`
	Period          ublPeriod        `xml:"cac:InvoicePeriod"`
	BillingRefs     []ublBillingRef  `xml:"cac:BillingReference"`
	Supplier        ublPartyWrap     `xml:"cac:AccountingSupplierParty"`
	Customer        ublPartyWrap     `xml:"cac:AccountingCustomerParty"`
	PaymentMeans    *ublPaymentMeans `xml:"cac:PaymentMeans,omitempty"`
	PaymentTerms    *ublPaymentTerms `xml:"cac:PaymentTerms,omitempty"`
	TaxTotal        ublTaxTotal      `xml:"cac:TaxTotal"`
	Totals          ublMonetaryTotal `xml:"cac:LegalMonetaryTotal"`
	InvoiceLines    []ublLine        `xml:"cac:InvoiceLine"`
	CreditNoteLines []ublLine        `xml:"cac:CreditNoteLine"`
}

func ublDocument(d *Document) (*ublDoc, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("invoicing: ubl %s: %w: "+format, append([]any{d.Number, ErrUBL}, args...)...)
	}
	if d.Kind == Statement {
		return nil, fail("a statement is not an invoice")
	}
	if d.MinorUnits > 2 {
		return nil, fail("%s has %d minor units; EN 16931 amounts have at most 2 decimals", d.Currency, d.MinorUnits)
	}
	amount := func(m Money) ublAmount { return ublAmount{Currency: d.Currency, Value: m.String()} }
	u := &ublDoc{XMLNSCAC: ublCACNS, XMLNSCBC: ublCBCNS, CustomizationID: en16931, ID: d.Number,
		IssueDate: d.IssueDate.String(), Currency: d.Currency, BuyerReference: d.Buyer.Key(),
		Period:   ublPeriod{Start: d.Period.Start.String(), End: d.Period.End.String()},
		Supplier: ublPartyWrap{toUBLParty(d.Seller)}, Customer: ublPartyWrap{toUBLParty(d.Buyer)}}
	selfBilled := d.Billing == SelfBilling
	switch d.Kind {
	case Invoice:
		u.XMLName = xml.Name{Space: ublInvoiceNS, Local: "Invoice"}
		u.InvoiceType = "380"
		if selfBilled {
			u.InvoiceType = "389"
		}
		if d.DueDate != nil {
			u.DueDate = d.DueDate.String()
		}
	case CreditNote:
		u.XMLName = xml.Name{Space: ublCreditNoteNS, Local: "CreditNote"}
		u.CreditNoteType = "381"
		if selfBilled {
			u.CreditNoteType = "261"
		}
	}
	u.Notes = append(u.Notes, "Settlement period "+d.Period.Name+" ("+d.Period.TimeZone+")")
	u.Notes = append(u.Notes, d.Notes...)
	for _, r := range d.Corrects {
		u.BillingRefs = append(u.BillingRefs, ublBillingRef{Invoice: ublDocRef{ID: r.Number, IssueDate: r.IssueDate.String()}})
	}
	if d.Kind == Invoice {
		if p := d.Payment; p.IBAN != "" {
			pm := &ublPaymentMeans{Code: "58", PaymentID: d.Number}
			pm.Account = &struct {
				ID     string `xml:"cbc:ID"`
				Name   string `xml:"cbc:Name,omitempty"`
				Branch *struct {
					ID string `xml:"cbc:ID"`
				} `xml:"cac:FinancialInstitutionBranch,omitempty"`
			}{ID: p.IBAN, Name: p.AccountName}
			if p.BIC != "" {
				pm.Account.Branch = &struct {
					ID string `xml:"cbc:ID"`
				}{ID: p.BIC}
			}
			u.PaymentMeans = pm
		}
		if d.Payment.Note != "" {
			u.PaymentTerms = &ublPaymentTerms{Note: d.Payment.Note}
		}
	}
	categories := map[string]bool{}
	for _, r := range d.TaxBreakdown {
		cat, err := ublCategory(r.Name, r.Category, r.Rate, r.Reason)
		if err != nil {
			return nil, fail("%v", err)
		}
		categories[cat.ID] = true
		u.TaxTotal.Subtotals = append(u.TaxTotal.Subtotals, ublTaxSubtotal{Taxable: amount(r.Base), Tax: amount(r.Tax), Category: cat})
	}
	if categories["O"] && len(categories) > 1 {
		return nil, fail("category O (not subject to VAT) cannot be combined with other VAT categories (BR-O-11)")
	}
	u.TaxTotal.Tax = amount(d.Totals.Tax)
	u.Totals = ublMonetaryTotal{LineExtension: amount(d.Totals.Net), TaxExclusive: amount(d.Totals.Net),
		TaxInclusive: amount(d.Totals.Gross), Payable: amount(d.Totals.Payable)}
	zone := d.zone()
	for _, l := range d.Lines {
		if len(l.Taxes) != 1 {
			return nil, fail("line %d has %d taxes; a UBL line has one VAT category", l.No, len(l.Taxes))
		}
		t := l.Taxes[0]
		cat, err := ublCategory(t.Name, t.Category, t.Rate, "")
		if err != nil {
			return nil, fail("line %d: %v", l.No, err)
		}
		// The item net price may not be negative (BR-27): a negative line
		// (a credit CDR) is one negative unit at a positive price.
		qty, price := "1", l.Net
		if l.Net.Units < 0 {
			qty, price = "-1", l.Net.Neg()
		}
		line := ublLine{ID: strconv.Itoa(l.No), LineExtension: amount(l.Net),
			Item:  ublItem{Name: l.Description, Description: ublLineDescription(l), TaxCategory: cat},
			Price: ublPrice{Amount: amount(price)}}
		if !l.From.IsZero() {
			line.Period = &ublPeriod{Start: DateOf(l.From.In(zone)).String(), End: DateOf(l.To.In(zone)).String()}
		}
		if l.Corrects != nil {
			line.Note = fmt.Sprintf("Credits invoice %s line %d", l.Corrects.Number, l.Corrects.Line)
		}
		q := &ublQuantity{Unit: "C62", Value: qty}
		if d.Kind == CreditNote {
			line.Credited = q
			u.CreditNoteLines = append(u.CreditNoteLines, line)
		} else {
			line.Invoiced = q
			u.InvoiceLines = append(u.InvoiceLines, line)
		}
	}
	if len(d.Lines) == 0 {
		return nil, fail("a document without lines")
	}
	return u, nil
}

func toUBLParty(p Party) ublParty {
	out := ublParty{LegalEntity: ublLegalEntity{RegistrationName: p.Name, CompanyID: p.RegistrationID}}
	out.Address = ublAddress{Street: p.Address.Street, Additional: p.Address.Additional, City: p.Address.City,
		PostalZone: p.Address.PostalCode, Region: p.Address.Region}
	out.Address.Country.Code = p.Address.Country
	if p.VATID != "" {
		out.TaxScheme = &ublPartyTaxScheme{CompanyID: p.VATID, TaxScheme: ublTaxScheme{ID: "VAT"}}
	}
	if p.Email != "" {
		out.Contact = &ublContact{Email: p.Email}
	}
	if p.CountryCode != "" {
		out.Identification = &struct {
			ID ublID `xml:"cbc:ID"`
		}{ID: ublID{Value: p.Key()}}
	}
	return out
}

// ublCategory maps a tax of the document to a UBL VAT category.
func ublCategory(name, category string, rate *Percent, reason string) (ublTaxCategory, error) {
	if name != "VAT" {
		return ublTaxCategory{}, fmt.Errorf("tax %q is not VAT", name)
	}
	c := ublTaxCategory{ID: category, TaxScheme: ublTaxScheme{ID: "VAT"}}
	switch category {
	case "S":
		if rate == nil {
			return c, errors.New("standard-rated VAT without a rate")
		}
		c.Percent = rate.String()
	case "Z", "E", "AE":
		c.Percent = "0"
		if category != "Z" {
			c.ExemptionReason = reason
		}
	case "O":
		c.ExemptionReason = reason
	default:
		return c, fmt.Errorf("VAT without a known category or rate")
	}
	return c, nil
}

func ublLineDescription(l Line) string {
	parts := []string{fmt.Sprintf("%d charging session(s), %s kWh", l.Sessions, l.Energy)}
	if l.CDR != nil {
		parts = append(parts, "CDR "+l.CDR.ID)
	}
	if l.Location.ID != "" {
		parts = append(parts, "location "+l.Location.ID)
	}
	if l.Tariff != "" {
		parts = append(parts, "tariff "+l.Tariff)
	}
	return strings.Join(parts, "; ")
}
