package ocpi

import (
	"fmt"
	"strings"
)

// Rule names a validation rule. The names are stable: they are stored in the
// rejects and findings tables and counted in summaries and metrics.
type Rule string

const (
	RuleSyntax         Rule = "syntax"           // not well-formed JSON
	RuleType           Rule = "type"             // a JSON value of the wrong type
	RuleRequired       Rule = "required"         // a required field is missing or empty
	RuleEnum           Rule = "enum"             // a value outside a closed enum
	RuleLength         Rule = "length"           // a string longer than OCPI allows
	RuleFormat         Rule = "format"           // a string that breaks the field's format (DateTime, HH:MM, ...)
	RuleNegative       Rule = "negative"         // a negative volume or amount where none is allowed
	RuleEndBeforeStart Rule = "end_before_start" // an end that is not after its start
	RuleOrder          Rule = "order"            // charging periods out of order or outside the session
	RuleCurrency       Rule = "currency"         // not an ISO 4217 currency code
	RuleTotals         Rule = "totals"           // totals that do not add up
	RulePrecision      Rule = "precision"        // a number with more digits than roamsettle stores
	RuleTooLarge       Rule = "too_large"        // a record or a number beyond the size limits
	RuleDepth          Rule = "depth"            // JSON nested deeper than the limit
	RuleKind           Rule = "kind"             // the object kind or version could not be told
	RuleOwner          Rule = "owner"            // no owner (country_code, party_id), or the wrong one
	RuleDuplicate      Rule = "duplicate"        // the same object again (acknowledged, nothing stored)
	RuleConflict       Rule = "conflict"         // a different body under an identity already stored
	RuleCredit         Rule = "credit"           // credit CDR fields inconsistent
	RuleEncoding       Rule = "encoding"         // text that is not valid UTF-8 (kept with each bad byte as \xHH)
)

// Problem is one thing wrong with a received object.
type Problem struct {
	// Path is the JSON field path, e.g. "charging_periods[2].dimensions[0].volume".
	// It is empty for problems with the record as a whole.
	Path string
	// Rule is the rule broken.
	Rule Rule
	// Message says what was found and what was expected.
	Message string
	// Blocking is true when the problem stops the object from being priced
	// (or, for tariffs and locations, from being used to price).
	Blocking bool
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	fmt.Fprintf(&b, " [%s", p.Rule)
	if p.Blocking {
		b.WriteString(", blocks pricing")
	}
	b.WriteString("]")
	return b.String()
}

// Problems is a list of problems found in one object.
type Problems []Problem

// Blocking reports whether any problem blocks pricing.
func (ps Problems) Blocking() bool {
	for _, p := range ps {
		if p.Blocking {
			return true
		}
	}
	return false
}

// Has reports whether a problem with the rule is present.
func (ps Problems) Has(r Rule) bool {
	for _, p := range ps {
		if p.Rule == r {
			return true
		}
	}
	return false
}

func (ps Problems) String() string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, "; ")
}
