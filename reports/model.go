package reports

import (
	"time"

	"github.com/shopspring/decimal"
)

// The inputs the reports are rendered from. settle fills them from the
// stored rows through its ReportSource (the store implements it); nothing
// here knows the store.

// Scope is one partner's settlement period, as every report states it.
type Scope struct {
	// Partner is the CDR owner, "CC-PID" upper-cased.
	Partner string
	// Period is the period's name ("2026-10", or "2026-10-01..2026-10-15").
	Period string
	// From and To are the period's window [From, To): its first and last
	// midnight in Zone (DESIGN invariant 7).
	From, To time.Time
	// Zone is the zone the partner's periods are read in (UTC unless its
	// policy names one): the days of the charts and the local times shown.
	Zone *time.Location
	// AsOf is when the newest CDR of the period was received: the date a
	// report states and its files' metadata carry. It is an input, never
	// the clock, so the same inputs give the same bytes.
	AsOf time.Time
}

func (s *Scope) zone() *time.Location {
	if s.Zone == nil {
		return time.UTC
	}
	return s.Zone
}

// ZoneName is the IANA name of the scope's zone.
func (s *Scope) ZoneName() string { return s.zone().String() }

// Amount is a total before and after tax; a side that is not stated (a
// CDR without incl_vat, a CDR that could not be priced) is absent, never 0.
type Amount struct {
	Excl, Incl       decimal.Decimal
	HasExcl, HasIncl bool
}

// Dispute is one disputed CDR of the period, with its evidence.
type Dispute struct {
	CDRID      string
	Start, End time.Time
	LocationID string
	EVSEUID    string
	Currency   string
	MinorUnits int
	// Verdict is reconcile's (MISMATCH, NOT_VERIFIABLE; OK with an error
	// finding); Reasons its reason codes, most likely first; Codes the
	// error findings; State the dispute's lifecycle state.
	Verdict string
	Reasons []string
	Codes   []string
	State   string
	// Billed is what the partner billed (total_cost); Recomputed what
	// roamsettle computed with the tariff version in effect; Difference is
	// recomputed − billed; InDispute what the eMSP refuses to pay. All at
	// the currency's minor units.
	Billed, Recomputed, Difference, InDispute Amount
	// Periods are the charging periods where the difference arises (under
	// the hypothesis that explains the billed amount), with their lines.
	Periods []Period
	// Evidence is reconcile's account: both computations, the tariff
	// versions, each hypothesis tried, the findings.
	Evidence string
}

// Period is one charging period of a disputed CDR where the difference
// arises, with what roamsettle priced in it.
type Period struct {
	// Index is the period's position among the CDR's periods sorted by
	// start, 0 first (as the evidence names it).
	Index int
	Start time.Time
	Lines []Line
}

// Line is one priced dimension of a period, as the tariff version in
// effect prices it. Amounts are exact (10 decimals), not rounded.
type Line struct {
	Dimension      string // ENERGY, TIME, PARKING_TIME, FLAT, RESERVATION_TIME
	Quantity       decimal.Decimal
	BilledQuantity decimal.Decimal // with the step-size extra
	UnitPrice      decimal.Decimal // per kWh, per hour or per session
	VAT            *decimal.Decimal
	Excl, Incl     decimal.Decimal
}

// Figures are one partner's period counted from the stored rows of its
// newest re-pricing and reconciliation: what the KPI report shows.
type Figures struct {
	// CDRs are the period's CDRs by the one period rule; Reconciled those
	// with a reconciliation result (fewer: the results are stale).
	CDRs, Reconciled int64
	// Verdicts of the reconciliation.
	OK, Mismatch, NotVerifiable int64
	// Disputed are the CDRs with a verdict other than OK or an error
	// finding (reconcile's rule); the rest are accepted.
	Disputed int64
	// ByReason counts the CDRs by reason code (a CDR may have several).
	ByReason map[string]int64
	// Findings counts the CDRs with each finding code, errors and warnings.
	Findings []FindingCount
	// Priced counts the CDRs re-priced; InEffect those priced with the
	// published tariff version in effect at the session start, Embedded
	// those priced only with the tariff the CDR embeds.
	Priced, InEffect, Embedded int64
	// ZoneSources counts the priced CDRs by where their local time zone
	// came from (location, embedded, country, coordinates, unresolved).
	ZoneSources map[string]int64
	// SpanPriceChange counts the CDRs with a charging period a tariff
	// boundary falls inside (PERIOD_NOT_SPLIT): priced at one rate though
	// the price changed within it.
	SpanPriceChange int64
	// Currencies sums the money per currency (never across).
	Currencies []CurrencyFigures
	// States counts the period's disputes by lifecycle state.
	States map[string]int64
	// IssueDelay is the CDR's own last_updated minus its end; Delivery the
	// first receipt over OCPI (push or pull) minus the end: files say
	// nothing about when a partner delivered.
	IssueDelay, Delivery Latency
	// Days are the period's days in the scope's zone.
	Days []Day
}

// FindingCount is how many CDRs have a finding code.
type FindingCount struct {
	Code     string
	Severity string // error or warning
	CDRs     int64
}

// CurrencyFigures are the money of one currency, excl. VAT, at its minor
// units.
type CurrencyFigures struct {
	// Currency is the ISO 4217 code; "" for CDRs that state none.
	Currency   string
	MinorUnits int
	CDRs       int64
	// Billed sums what the partner billed over the BilledCDRs that state
	// an amount; Recomputed what roamsettle computed over the
	// RecomputedCDRs it could price (none: no sum, not 0).
	Billed, Recomputed         decimal.Decimal
	BilledCDRs, RecomputedCDRs int64
	// Disputes is the number of dispute records and InDispute the amount
	// they claim back.
	Disputes  int64
	InDispute decimal.Decimal
}

// Latency is a distribution of delays in whole seconds.
type Latency struct {
	// CDRs have a known delay; Unknown do not (no last_updated, or
	// received from a file).
	CDRs, Unknown      int64
	P50, P90, P99, Max int64
	// Buckets count the delays up to 1 h, 24 h, 72 h, 7 days and beyond.
	Buckets [5]int64
}

// LatencyBuckets names Latency.Buckets.
var LatencyBuckets = [5]string{"≤ 1 h", "1–24 h", "1–3 days", "3–7 days", "> 7 days"}

// Day is one day of the period in the scope's zone.
type Day struct {
	Date                        time.Time // midnight UTC of the calendar day
	CDRs                        int64
	OK, Mismatch, NotVerifiable int64
	Disputed                    int64
}
