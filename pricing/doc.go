// Package pricing recomputes OCPI CDRs from tariffs: tariff selection,
// restriction evaluation in local time, step size, FLAT per phase,
// reservations, min/max price, taxes and rounding (digest §5), as an exact
// decimal reference per CDR (Price, with Explain) and as a compiled,
// vectorised int64 fixed-point kernel over struct-of-arrays batches.
//
// Invariants:
//
//   - Money is exact. The reference uses shopspring/decimal; the kernel uses
//     int64 at a documented fixed scale with overflow checks that return
//     errors. Every line amount is computed at 10 decimals (half away from
//     zero) in both; rounding to the currency's ISO 4217 minor units happens
//     only where the Policy says (per line or per total) in the Policy's mode.
//   - Restrictions are evaluated at the start of each period in the
//     location's local time; a CDR whose zone cannot be resolved is priced in
//     UTC and says so (WarnZoneUnresolved). A restriction boundary strictly
//     inside a period is flagged (WarnBoundaryInPeriod), never re-priced.
//   - Zones come from the caller's chain: the stored Location's time_zone
//     (LocationZones, which falls back to the 2.1.1 embedded time_zone),
//     then a single-zone country, then the coordinates (CoordinateZones) -
//     the order both price and settle use; every source but a given or
//     location zone is named in a warning.
//   - Every reading the spec leaves open is named (digest §5.13) and, where
//     real partners differ, selectable in Policy.
//   - The kernel equals the reference on every input it accepts (property
//     tests); inputs it cannot represent exactly are refused with an error,
//     never approximated. ArrowBuilder fills kernel batches from the store's
//     period records with the same conversions as BatchBuilder (a test
//     compares the two batches) and allocates nothing per row.
//   - Pricing is deterministic: the same inputs give the same result.
//   - The package imports ocpi, decimal, arrow and tzf (the offline
//     coordinates-to-zone lookup) only: no store, no net/http, no database
//     driver.
package pricing
