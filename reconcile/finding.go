package reconcile

import (
	"fmt"
	"sort"
)

// Severity grades a finding. Errors are the partner's to answer for: each
// raises a dispute. Warnings are data quality the finance team should see;
// infos only explain.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Code is a validation rule's stable code: it is stored, printed in the
// JSON of `reconcile` and counted in KPIs. Never rename one.
type Code string

// The validation rules (issue 13.1), one code each.
const (
	CodeMissingField         Code = "MISSING_FIELD"         // a required field is absent (ids, token, location, periods, totals)
	CodeCurrencyMismatch     Code = "CURRENCY_MISMATCH"     // the CDR's currency is not its tariff's
	CodeTaxInconsistent      Code = "TAX_INCONSISTENT"      // incl below excl, or VAT outside the tariff's component rates
	CodeTotalsInconsistent   Code = "TOTALS_INCONSISTENT"   // the cost sub-totals do not add up to total_cost
	CodeVolumesInconsistent  Code = "VOLUMES_INCONSISTENT"  // dimension volumes do not add up to total_energy/time/parking_time, or exceed their period
	CodePeriodsOrder         Code = "PERIODS_ORDER"         // periods out of order or outside the session
	CodePeriodNotSplit       Code = "PERIOD_NOT_SPLIT"      // a tariff boundary falls strictly inside a period
	CodeSessionTooLong       Code = "SESSION_TOO_LONG"      // longer than the plausible maximum
	CodeOutsidePeriod        Code = "OUTSIDE_PERIOD"        // the CDR belongs to another settlement period
	CodeDuplicate            Code = "DUPLICATE"             // the same CDR was received more than once
	CodeConflict             Code = "CONFLICT"              // a different CDR under the same id was refused
	CodeCreditUnreferenced   Code = "CREDIT_UNREFERENCED"   // a credit CDR whose credit_reference_id names no CDR we hold
	CodeCreditAmount         Code = "CREDIT_AMOUNT"         // a credit CDR whose total_cost is not minus the credited CDR's
	CodeUnknownToken         Code = "UNKNOWN_TOKEN"         // the token is not one the eMSP issued
	CodeUnknownLocation      Code = "UNKNOWN_LOCATION"      // the location was never published to us
	CodeUnknownEVSE          Code = "UNKNOWN_EVSE"          // the EVSE is not in the published location
	CodeRestrictionUnchecked Code = "RESTRICTION_UNCHECKED" // a power or current restriction could change the amount, and the CDR lacks the data
)

// Finding is one thing a rule found in a CDR. Field is the JSON path in the
// CDR as its version spells it ("cdr_token.contract_id", "auth_id",
// "charging_periods[2].start_date_time"); empty for the CDR as a whole.
// Blocking findings leave the CDR NOT_VERIFIABLE: its amount cannot be
// checked without what is missing.
type Finding struct {
	CountryCode string   `json:"country_code"`
	PartyID     string   `json:"party_id"`
	CDRID       string   `json:"cdr_id"`
	Code        Code     `json:"code"`
	Severity    Severity `json:"severity"`
	Field       string   `json:"field"`
	Message     string   `json:"message"`
	Blocking    bool     `json:"blocking,omitempty"`
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s", f.Severity, f.Code)
	if f.Field != "" {
		s += " at " + f.Field
	}
	return s + ": " + f.Message
}

// Findings is what the rules found in one CDR, in rule order.
type Findings []Finding

// Has reports whether a finding with the code is present.
func (fs Findings) Has(c Code) bool {
	for _, f := range fs {
		if f.Code == c {
			return true
		}
	}
	return false
}

// Blocking reports whether any finding blocks the verdict.
func (fs Findings) Blocking() bool {
	for _, f := range fs {
		if f.Blocking {
			return true
		}
	}
	return false
}

// Errors reports whether any finding is an error (a dispute).
func (fs Findings) Errors() bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// SortFindings orders findings by CDR identity, then rule order, field and
// message, so that output never depends on scan order.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.CountryCode != b.CountryCode {
			return a.CountryCode < b.CountryCode
		}
		if a.PartyID != b.PartyID {
			return a.PartyID < b.PartyID
		}
		if a.CDRID != b.CDRID {
			return a.CDRID < b.CDRID
		}
		if ra, rb := codeRank(a.Code), codeRank(b.Code); ra != rb {
			return ra < rb
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
}

func codeRank(c Code) int {
	for i, r := range Rules {
		if r.Code == c {
			return i
		}
	}
	return len(Rules)
}
