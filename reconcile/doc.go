// Package reconcile compares what a CPO billed with what roamsettle
// recomputed. Today it holds the one billed-versus-computed comparison that
// `price` (one CDR) and settle (a whole run) both call; validation rules,
// tolerances, reason hypotheses, dispute records and partner invoice
// matching build on it here.
//
// # Invariants
//
//   - Missing is not zero. A CDR that states no amount for a total has no
//     billed amount (NoBilled), never a billed 0.00; a CDR that states 0 has
//     billed 0. A CDR that could not be priced has no computed amount
//     (NotPriced). Neither outcome ever contributes a difference.
//   - Amounts are compared at the currency's minor units: both sides are
//     rounded half away from zero to the minor units the computed amount was
//     rounded to (the pricing policy's), then compared exactly. A billed
//     12.284 EUR and a computed 12.28 EUR are Equal; the difference of a
//     Different comparison is computed - billed at those minor units.
//   - Excl. VAT is always compared; incl. VAT only when the CDR states it
//     (2.1.1 CDRs and 2.2.1 CDRs without incl_vat state none).
//   - Money is exact: amounts are int64 millionths of the currency unit
//     (Scale, the store's DECIMAL(18,6)), converted from decimals without
//     float64; no amount is ever added across currencies here.
//   - The package imports ocpi and pricing (and decimal) only: no store, no
//     database driver, no net/http.
package reconcile
