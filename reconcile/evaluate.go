package reconcile

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// Verdict is the one conclusion per CDR: never a silent pass.
type Verdict string

const (
	VerdictOK            Verdict = "OK"             // the billed amounts are the recomputed ones, within tolerance
	VerdictMismatch      Verdict = "MISMATCH"       // a billed amount differs beyond tolerance
	VerdictNotVerifiable Verdict = "NOT_VERIFIABLE" // an input is missing: the amount cannot be checked
)

// Reason is a stable reason code (the interface of issue 13).
type Reason string

const (
	ReasonTariffVersion      Reason = "TARIFF_VERSION"      // another version of the tariff (or the CDR's embedded copy) explains the amount
	ReasonPrice              Reason = "PRICE"               // the amount differs under the same tariff and no hypothesis explains it
	ReasonRounding           Reason = "ROUNDING"            // another rounding (half-even, truncation, per line) explains it
	ReasonStepSize           Reason = "STEP_SIZE"           // no step size, or the other step reading, explains it
	ReasonTax                Reason = "TAX"                 // another VAT rate explains it
	ReasonTimeZone           Reason = "TIME_ZONE"           // restrictions evaluated in UTC explain it
	ReasonMissingTariff      Reason = "MISSING_TARIFF"      // no tariff (in the CDR's currency) to price with
	ReasonMissingData        Reason = "MISSING_DATA"        // no billed amount, or an input pricing needs is missing
	ReasonTotalsInconsistent Reason = "TOTALS_INCONSISTENT" // the CDR's own sub-totals do not add up
	ReasonDuplicate          Reason = "DUPLICATE"           // the CDR was received more than once
	ReasonConflict           Reason = "CONFLICT"            // a different CDR under the same id was refused
)

// Reasons lists every reason code in its order of precedence among
// hypotheses that explain an amount equally well.
var Reasons = []Reason{ReasonRounding, ReasonTax, ReasonTariffVersion, ReasonTimeZone, ReasonStepSize, ReasonPrice,
	ReasonMissingTariff, ReasonMissingData, ReasonTotalsInconsistent, ReasonDuplicate, ReasonConflict}

func reasonRank(r Reason) int {
	for i, x := range Reasons {
		if x == r {
			return i
		}
	}
	return len(Reasons)
}

// Case is everything one CDR's evaluation needs.
type Case struct {
	CDR *ocpi.CDR
	// Tariffs are the versions in effect that priced the CDR (what
	// pricing.Price was given); nil when none was found.
	Tariffs []ocpi.Tariff
	// Versions are every stored version of the tariffs the CDR uses, by
	// upper-cased tariff id, oldest first (TARIFF_VERSION tries them).
	Versions map[string][]ocpi.Tariff
	// Options are those of the default recomputation (zone chain, policy).
	Options pricing.Options
	// Result is the default recomputation; nil when the CDR was not
	// priced, with PriceError saying why.
	Result     *pricing.Result
	PriceError error
	// Findings are the validation findings of the CDR (Validate).
	Findings  Findings
	Tolerance Tolerance
	// NoHypotheses skips re-pricing under the hypotheses (a summary that
	// only needs verdicts).
	NoHypotheses bool
	// kernel, when set, prices the hypotheses with the compiled kernel
	// where it can (kernel.go): Tariffs are stored versions.
	kernel *kernelCache
}

// TariffVersion names one tariff version: id and last_updated.
type TariffVersion struct {
	ID          string    `json:"id"`
	LastUpdated time.Time `json:"last_updated"`
	Embedded    bool      `json:"embedded,omitempty"`
}

func (v TariffVersion) String() string {
	s := v.ID + " of " + ocpi.FormatDateTime(v.LastUpdated)
	if v.Embedded {
		s += " (embedded in the CDR)"
	}
	return s
}

func versionsOf(ts []ocpi.Tariff, embedded bool) []TariffVersion {
	out := make([]TariffVersion, len(ts))
	for i := range ts {
		out[i] = TariffVersion{ID: ts[i].ID, LastUpdated: ts[i].LastUpdated, Embedded: embedded}
	}
	return out
}

// Trial is one hypothesis tried on a CDR that differs: the evidence.
type Trial struct {
	Reason Reason
	// Name says what was changed ("VAT 19 %", "restrictions in UTC
	// instead of Europe/Amsterdam", "tariff T1 of 2026-09-01T00:00:00Z").
	Name     string
	Versions []TariffVersion
	// Totals are the amounts under the hypothesis, at the currency's
	// minor units; Priced false when re-pricing failed (Error says why).
	Totals Totals
	Priced bool
	Error  string
	// Explains: every billed amount that differs from the recomputation
	// is the hypothesis' amount. Agree counts the other stated amounts it
	// also reproduces (the more, the likelier).
	Explains bool
	Agree    int
	// Periods are the charging periods whose lines the hypothesis prices
	// differently from the recomputation: where the difference arises
	// (empty: at the totals, e.g. rounding).
	Periods []int
}

// Evaluation is one CDR's reconciliation: the verdict, its reasons and
// the evidence (both computations, the tariff versions, every hypothesis
// tried).
type Evaluation struct {
	CountryCode, PartyID, ID string
	Currency                 string
	MinorUnits               int
	Credit                   bool
	Verdict                  Verdict
	Reasons                  []Reason
	// Billed and Recomputed are the CDR's totals (HasExcl false: none).
	Billed, Recomputed Totals
	Comparison         Comparison
	// Beyond marks the (field, excl/incl) pairs that differ beyond the
	// tolerance.
	Beyond    [NumFields][2]bool
	Tolerance Tolerance
	Versions  []TariffVersion
	Zone      string
	Trials    []Trial
	// Note says why a CDR is NOT_VERIFIABLE.
	Note string
	// InvoiceReferenceID is the partner invoice the CDR names (2.2+).
	InvoiceReferenceID string
	Findings           Findings
	// Result is the recomputation itself (its Explain tells it period by
	// period); nil when not priced.
	Result *pricing.Result
}

// Difference is recomputed - billed of total_cost (excl, incl), in
// millionths at minor units; zero when either side is missing.
func (e *Evaluation) Difference() Amount {
	d := e.Comparison[TotalCost]
	if d.Outcome != Equal && d.Outcome != Different {
		return Amount{}
	}
	return Amount{Excl: d.Excl, Incl: d.Incl, HasExcl: true, HasIncl: d.HasIncl}
}

// Disputed reports whether the CDR raises a dispute: a verdict other than
// OK, or an error finding.
func (e *Evaluation) Disputed() bool { return e.Verdict != VerdictOK || e.Findings.Errors() }

// Evaluate reconciles one CDR: its verdict, reasons and evidence.
func Evaluate(cs *Case) *Evaluation {
	c := cs.CDR
	ev := &Evaluation{CountryCode: c.CountryCode, PartyID: c.PartyID, ID: c.ID, Currency: strings.ToUpper(c.Currency),
		Credit: c.Credit, Tolerance: cs.Tolerance, Findings: cs.Findings, Versions: versionsOf(cs.Tariffs, false),
		InvoiceReferenceID: c.InvoiceReferenceID}
	ev.MinorUnits, _ = pricing.CurrencyMinorUnits(c.Currency)
	if cs.Result != nil {
		ev.MinorUnits = cs.Result.MinorUnits
		ev.Zone = cs.Result.Zone.Name
	}
	ev.Billed = BilledTotals(c, ev.MinorUnits)
	ev.Recomputed = ComputedTotals(cs.Result)
	ev.Comparison = CompareTotals(&ev.Billed, &ev.Recomputed, ev.MinorUnits)
	defer func() { ev.Reasons = append(ev.Reasons, dataReasons(cs.Findings, ev.Verdict)...) }()

	if why, r := notVerifiable(cs); why != "" {
		ev.Verdict, ev.Note, ev.Reasons = VerdictNotVerifiable, why, []Reason{r}
		if cs.Findings.Blocking() {
			// What was priced lacked an input (periods built from the
			// totals, no currency): it is no recomputation.
			ev.Recomputed = Totals{}
			ev.Comparison = CompareTotals(&ev.Billed, &ev.Recomputed, ev.MinorUnits)
		}
		return ev
	}
	differs := false
	for f := range ev.Comparison {
		d := &ev.Comparison[f]
		if d.Outcome != Different {
			continue
		}
		if !cs.Tolerance.Allows(d.Excl, d.Computed.Excl, ev.MinorUnits) {
			ev.Beyond[f][0], differs = true, true
		}
		if d.HasIncl && !cs.Tolerance.Allows(d.Incl, d.Computed.Incl, ev.MinorUnits) {
			ev.Beyond[f][1], differs = true, true
		}
	}
	if !differs {
		ev.Verdict = VerdictOK
		return ev
	}
	ev.Verdict = VerdictMismatch
	if !cs.NoHypotheses {
		ev.Trials = tryHypotheses(cs, ev)
	}
	var explaining []*Trial
	for i := range ev.Trials {
		if ev.Trials[i].Explains {
			explaining = append(explaining, &ev.Trials[i])
		}
	}
	sort.SliceStable(explaining, func(i, j int) bool {
		if explaining[i].Agree != explaining[j].Agree {
			return explaining[i].Agree > explaining[j].Agree
		}
		return reasonRank(explaining[i].Reason) < reasonRank(explaining[j].Reason)
	})
	for _, t := range explaining {
		if !hasReason(ev.Reasons, t.Reason) {
			ev.Reasons = append(ev.Reasons, t.Reason)
		}
	}
	if len(ev.Reasons) == 0 {
		if cs.Result.HasWarning(pricing.WarnUnverifiable) {
			ev.Verdict, ev.Note, ev.Reasons = VerdictNotVerifiable, unverifiableNote, []Reason{ReasonMissingData}
			return ev
		}
		ev.Reasons = []Reason{ReasonPrice}
	}
	return ev
}

func hasReason(rs []Reason, r Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// notVerifiable returns why the CDR's amount cannot be checked, if so.
func notVerifiable(cs *Case) (string, Reason) {
	for _, f := range cs.Findings {
		if f.Blocking {
			r := ReasonMissingData
			if f.Code == CodeCurrencyMismatch {
				r = ReasonMissingTariff
			}
			field := f.Field
			if field != "" {
				field += ": "
			}
			return field + f.Message, r
		}
	}
	switch {
	case cs.CDR.TotalCost == nil:
		return "the CDR states no total_cost: there is no billed amount to check", ReasonMissingData
	case len(cs.Tariffs) == 0:
		why := "no tariff in effect at the session start, and none embedded in the CDR"
		if cs.PriceError != nil {
			why += ": " + cs.PriceError.Error()
		}
		return why, ReasonMissingTariff
	case cs.Result == nil:
		why := "not priced"
		if cs.PriceError != nil {
			why = "not priced: " + cs.PriceError.Error()
		}
		return why, ReasonMissingData
	}
	return "", ""
}

// unverifiableNote is why a CDR that differs is NOT_VERIFIABLE when a
// restriction could not be checked: the partner may have read the missing
// dimension otherwise, so the difference proves nothing. A CDR that
// matches under the reading that treats the restriction as matching is OK.
const unverifiableNote = "a power or current restriction that could change the amount cannot be checked (the CDR lacks the dimension), and no hypothesis explains the difference"

// dataReasons are the reasons the findings give, whatever the amounts say.
func dataReasons(fs Findings, v Verdict) []Reason {
	var out []Reason
	add := func(r Reason) {
		if !hasReason(out, r) {
			out = append(out, r)
		}
	}
	for _, f := range fs {
		switch f.Code {
		case CodeTotalsInconsistent:
			if v == VerdictMismatch {
				add(ReasonTotalsInconsistent)
			}
		case CodeDuplicate:
			add(ReasonDuplicate)
		case CodeConflict:
			add(ReasonConflict)
		}
	}
	return out
}

var errNoResult = errors.New("no result")

// sides yields the (field, side) pairs both totals state: side 0 excl, 1 incl.
func sides(b, h *Totals, fn func(f Field, side int, bv, hv int64)) {
	for f := range NumFields {
		if b[f].HasExcl && h[f].HasExcl {
			fn(f, 0, b[f].Excl, h[f].Excl)
		}
		if b[f].HasIncl && h[f].HasIncl {
			fn(f, 1, b[f].Incl, h[f].Incl)
		}
	}
}

// judge says whether a hypothesis' totals explain the billed ones: every
// pair beyond tolerance equals the hypothesis' (at minor units), and how
// many other pairs it also reproduces.
func judge(ev *Evaluation, h *Totals) (explains bool, agree int) {
	explains = true
	var covered [NumFields][2]bool
	sides(&ev.Billed, h, func(f Field, s int, bv, hv int64) {
		covered[f][s] = true
		same := RoundMicro(bv, ev.MinorUnits) == RoundMicro(hv, ev.MinorUnits)
		switch {
		case ev.Beyond[f][s] && !same:
			explains = false
		case !ev.Beyond[f][s] && same:
			agree++
		}
	})
	for f := range ev.Beyond {
		for s := range 2 {
			if ev.Beyond[f][s] && !covered[f][s] {
				explains = false
			}
		}
	}
	return explains, agree
}

// String is a one-line account of the evaluation.
func (e *Evaluation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", ocpi.PartyKey(e.CountryCode, e.PartyID)+" "+e.ID, e.Verdict)
	if len(e.Reasons) > 0 {
		rs := make([]string, len(e.Reasons))
		for i, r := range e.Reasons {
			rs[i] = string(r)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(rs, ", "))
	}
	if e.Note != "" {
		b.WriteString(": " + e.Note)
	}
	return b.String()
}
