// Package reconcile says, for one partner's period, what is wrong with the
// CDRs it billed, how much it is worth and why: the one billed-versus-
// computed comparison (compare.go) that `price` and settle call, the
// validation rules (rules.go, one stable Code each), the verdict per CDR
// with tolerances as data (evaluate.go), the reason hypotheses tried by
// re-pricing (hypothesis.go), partner invoice matching (invoice.go),
// disputes with their lifecycle (dispute.go), and the report whose JSON is
// `reconcile --json` (report.go). Reconcile (run.go) is the whole of it over
// inputs the caller loads; cmd wires the store in.
//
// # Invariants
//
//   - Missing is not zero. A CDR that states no amount for a total has no
//     billed amount (NoBilled), never a billed 0.00; a CDR that states 0 has
//     billed 0. A CDR that could not be priced has no computed amount
//     (NotPriced). Neither outcome ever contributes a difference; a CDR
//     without a billed total_cost is NOT_VERIFIABLE with MISSING_DATA.
//   - Amounts are compared at the currency's minor units: both sides are
//     rounded half away from zero to the minor units the computed amount was
//     rounded to (the pricing policy's), then compared exactly. A billed
//     12.284 EUR and a computed 12.28 EUR are Equal; the difference of a
//     Different comparison is computed - billed at those minor units.
//   - Excl. VAT is always compared; incl. VAT only when the CDR states it
//     (2.1.1 CDRs and 2.2.1 CDRs without incl_vat state none) and the
//     computed side knows it: when the tariff states no tax rate (pricing's
//     Result.NotComputable) the stated taxes are not verifiable
//     (TaxesNotVerifiable), never a difference.
//   - Money is exact: amounts are int64 millionths of the currency unit
//     (Scale, the store's DECIMAL(18,6)), converted from decimals without
//     float64; no amount is ever added across currencies here.
//   - Never a silent pass: every CDR ends with one verdict, OK, MISMATCH
//     or NOT_VERIFIABLE. The default tolerance is exact (a one-cent
//     difference is found and explained); a tolerance is data, per partner
//     and currency.
//   - A reason is a claim that was checked: a hypothesis gives its reason
//     only when re-pricing under it reproduces every billed amount that
//     differs; otherwise the reason is PRICE. Hypotheses are tried only for
//     CDRs that differ, each only where it can change the amount.
//   - Rules are pure functions of the CDR and its Context; a rule whose
//     context is missing (no token list, no published locations) is not
//     checked rather than guessed.
//   - Deterministic: the same inputs give the same report (everything is
//     sorted by CDR identity and rule order), whether the CDRs come at once
//     or chunk by chunk (Input.Chunks), on any number of workers.
//   - Stoppable: ReconcileContext looks at its context before every CDR it
//     evaluates and every chunk it pulls.
//   - The screen (bulk.go) is conservative: it accepts a CDR from columns
//     only when the whole evaluation would find it OK with no finding; a
//     restriction boundary counts only where the reference flags one (an
//     element that can price the period, whose restrictions change there),
//     or more.
//   - The package imports ocpi and pricing (and decimal) only: no store, no
//     database driver, no net/http, no excelize (cmd reads XLSX rows).
package reconcile
