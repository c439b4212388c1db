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
//     location zone is named in a warning. A time_zone that is not an IANA
//     name (nor "Local", which would be the machine's) is passed over to the
//     next source, never silently: ResolvedZone.Invalid names it and the
//     result warns (WarnZoneInvalid) with the zone used instead.
//   - Every reading the spec leaves open is in one catalogue (Readings, with
//     its digest section); a Result lists those its price depended on and
//     Explain names them. Where real partners differ, Policy selects.
//   - A CDR the tariffs cannot price is an error, never an amount: a
//     *NotPriceable with a stable Reason (a tariff in another currency than
//     the CDR, by CheckCurrency, the one rule of both paths; two different
//     tariffs under one id; a period none of several tariffs applies to).
//     Copies of a tariff that price the same are one.
//   - A side the tariffs do not let the engine compute (a tariff that states
//     no tax rate) is said so (Result.NotComputable, FlagInclUnknown,
//     FlagExclUnknown), never presented as computed.
//   - "Unverifiable" (a power/current restriction read as matching for want
//     of the period's dimension) is raised only where the element so chosen
//     bills a quantity in that period: a volume of its dimension, or the
//     phase's one FLAT. Elsewhere the missing data cannot change an amount.
//   - The kernel equals the reference on every input it accepts, totals,
//     sub-totals, flags and priced lines alike (property tests); inputs it
//     cannot represent exactly are refused with an error or a Status, never
//     approximated (a period with reservation time and charging volumes goes
//     to the reference). ArrowBuilder fills kernel batches from the store's
//     period records with the same conversions as BatchBuilder (a test
//     compares the two batches); after warm-up both allocate nothing per
//     row (tests), BatchBuilder by reading decimals through their
//     coefficient and exponent (scaledFast, hoursSecondsFast, which a
//     property test ties to the decimal conversions).
//   - Pricing is deterministic: the same inputs give the same result.
//   - The package imports ocpi, decimal, arrow and tzf (the offline
//     coordinates-to-zone lookup) only: no store, no net/http, no database
//     driver.
package pricing
