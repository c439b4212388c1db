package pricing

import (
	"fmt"
	"strings"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// Reason is a stable code saying why a CDR cannot be priced with the tariffs
// it was given. Callers record it as the cause of "not priceable".
type Reason string

const (
	// ReasonCurrencyMismatch: a tariff is in another currency than the CDR
	// (or than another tariff of the CDR). Amounts in different currencies
	// are never compared, so the CDR is never reported as matching.
	ReasonCurrencyMismatch Reason = "currency_mismatch"
	// ReasonAmbiguousTariff: two copies of one tariff id that price
	// differently, so the engine cannot tell which one applies.
	ReasonAmbiguousTariff Reason = "ambiguous_tariff"
	// ReasonNoVersionInEffect: several versions of a tariff were given and
	// none was in effect at the session start (InEffect).
	ReasonNoVersionInEffect Reason = "no_version_in_effect"
	// ReasonNoTariffApplies: a period names no tariff_id while several
	// tariffs were given (a connector with two tariffs), or names one that
	// is not among several given: which tariff prices it cannot be told.
	ReasonNoTariffApplies Reason = "no_tariff_applies"
)

// NotPriceable is the error Price (and SelectVersions) return when the
// inputs cannot give an amount. Message is one line naming what is wrong.
type NotPriceable struct {
	Reason  Reason
	CDRID   string
	Message string
}

func (e *NotPriceable) Error() string {
	id := e.CDRID
	if id == "" {
		id = "(without id)"
	}
	return fmt.Sprintf("CDR %s not priceable (%s): %s", id, e.Reason, e.Message)
}

// CheckCurrency is the one currency rule of both pricing paths: a tariff
// prices only CDRs in its own currency (case-insensitive ISO 4217 codes). It
// returns nil when they match, or when the CDR states no currency (ocpi
// already blocks such a CDR), and otherwise a *NotPriceable naming both
// currencies and the tariff. It does not allocate when they match, so the
// batch path can call it per CDR (with Compiled.ID and Compiled.Currency).
func CheckCurrency(cdrID, cdrCurrency, tariffID, tariffCurrency string) error {
	cc, tc := strings.TrimSpace(cdrCurrency), strings.TrimSpace(tariffCurrency)
	if cc == "" || strings.EqualFold(cc, tc) {
		return nil
	}
	return &NotPriceable{Reason: ReasonCurrencyMismatch, CDRID: cdrID,
		Message: fmt.Sprintf("the CDR is in %s but tariff %s is in %s", strings.ToUpper(cc), tariffID, strings.ToUpper(tc))}
}

// distinctTariffs drops copies of a tariff id that price the same as an
// earlier copy (a CDR that embeds its tariff twice); copies under one id that
// differ make the CDR not priceable. It returns the tariffs to price with and
// whether it dropped any.
func distinctTariffs(cdrID string, tariffs []ocpi.Tariff) ([]ocpi.Tariff, bool, error) {
	dropped := false
	var out []ocpi.Tariff
	for i := range tariffs {
		dup := false
		for j := range out {
			if ocpi.Key(out[j].ID) != ocpi.Key(tariffs[i].ID) {
				continue
			}
			if !SamePricing(&out[j], &tariffs[i]) {
				return nil, false, &NotPriceable{Reason: ReasonAmbiguousTariff, CDRID: cdrID,
					Message: fmt.Sprintf("two different tariffs under id %s (last_updated %s and %s): which one applies cannot be told",
						tariffs[i].ID, ocpi.FormatDateTime(out[j].LastUpdated), ocpi.FormatDateTime(tariffs[i].LastUpdated))}
			}
			dup = true
		}
		if dup {
			dropped = true
			continue
		}
		out = append(out, tariffs[i])
	}
	if !dropped {
		return tariffs, false, nil
	}
	return out, true, nil
}

// SamePricing reports whether two tariffs price every CDR the same: equal
// currency, tax_included, version (which decides what an absent vat means),
// min/max price and elements, compared as values (2.0 equals 2.00).
// Identity, texts, validity window and last_updated are not compared.
func SamePricing(a, b *ocpi.Tariff) bool {
	if !strings.EqualFold(a.Currency, b.Currency) || !strings.EqualFold(a.TaxIncluded, b.TaxIncluded) ||
		versionClass(a.Version) != versionClass(b.Version) || !sameLimit(a.MinPrice, b.MinPrice) ||
		!sameLimit(a.MaxPrice, b.MaxPrice) || len(a.Elements) != len(b.Elements) {
		return false
	}
	for i := range a.Elements {
		ea, eb := &a.Elements[i], &b.Elements[i]
		if len(ea.PriceComponents) != len(eb.PriceComponents) || !sameRestrictions(ea.Restrictions, eb.Restrictions) {
			return false
		}
		for k := range ea.PriceComponents {
			pa, pb := &ea.PriceComponents[k], &eb.PriceComponents[k]
			if !strings.EqualFold(pa.Type, pb.Type) || !pa.Price.Equal(pb.Price) || !sameNull(pa.VAT, pb.VAT) ||
				max(pa.StepSize, 1) != max(pb.StepSize, 1) {
				return false
			}
		}
	}
	return true
}

// versionClass groups versions by what an absent vat means (§5.8).
func versionClass(v ocpi.Version) ocpi.Version {
	if v == ocpi.V211 || v == ocpi.V230 {
		return v
	}
	return ocpi.V221
}

func sameNull(a, b decimal.NullDecimal) bool {
	return a.Valid == b.Valid && (!a.Valid || a.Decimal.Equal(b.Decimal))
}

func sameLimit(a, b *ocpi.PriceLimit) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.ExclVAT.Equal(b.ExclVAT) && sameNull(a.InclVAT, b.InclVAT)
}

func sameRestrictions(a, b *ocpi.TariffRestrictions) bool {
	empty := ocpi.TariffRestrictions{}
	if a == nil {
		a = &empty
	}
	if b == nil {
		b = &empty
	}
	if a.StartTime != b.StartTime || a.EndTime != b.EndTime || a.StartDate != b.StartDate || a.EndDate != b.EndDate ||
		!strings.EqualFold(a.Reservation, b.Reservation) || !sameNull(a.MinKWh, b.MinKWh) || !sameNull(a.MaxKWh, b.MaxKWh) ||
		!sameNull(a.MinCurrent, b.MinCurrent) || !sameNull(a.MaxCurrent, b.MaxCurrent) ||
		!sameNull(a.MinPower, b.MinPower) || !sameNull(a.MaxPower, b.MaxPower) ||
		!sameInt(a.MinDuration, b.MinDuration) || !sameInt(a.MaxDuration, b.MaxDuration) || len(a.DayOfWeek) != len(b.DayOfWeek) {
		return false
	}
	for i := range a.DayOfWeek {
		if !strings.EqualFold(strings.TrimSpace(a.DayOfWeek[i]), strings.TrimSpace(b.DayOfWeek[i])) {
			return false
		}
	}
	return true
}

func sameInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
