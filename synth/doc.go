// Package synth generates deterministic synthetic OCPI data for a month of
// EV-charging roaming: several CPO parties, each speaking one OCPI version
// (2.1.1, 2.2.1 or 2.3.0), with tariffs (and mid-month tariff versions),
// locations and CDRs, plus the eMSP's token list and a ground truth of the
// billing errors deliberately injected into a known share of the CDRs, so
// that dispute detection can be measured for precision and recall.
//
// Output (see Generate):
//
//	<out>/manifest.json                 parties, counts, files (Summary)
//	<out>/tokens.ndjson                 the eMSP's tokens (2.2.1 Token shape)
//	<out>/ground_truth.csv              one row per injected error
//	<out>/<CC>-<PID>/tariffs.ndjson     every tariff version, oldest first
//	<out>/<CC>-<PID>/locations.ndjson
//	<out>/<CC>-<PID>/cdrs.ndjson        CDRs, credit CDRs, duplicates, conflicts
//	<out>/<CC>-<PID>/invoice.csv        the party's invoice: one line per CDR sent (invoice.go)
//	<out>/invoice_truth.csv             the class each invoice line must get, and the CDRs left out
//
// Invariants:
//
//   - Determinism: one math/rand/v2 PCG stream seeded from Config.Seed drives
//     every choice, in a fixed order; no map iteration, no wall clock. The
//     same Config gives byte-identical files on any machine (time zone rules
//     come from the system's or Go's tz database: a change of a zone's rules
//     changes the data, as it should).
//   - Memory is flat in Config.CDRs: CDRs stream through one bufio.Writer per
//     party; only a handful of copies awaiting re-emission are held.
//   - Money is exact. No float anywhere. Prices carry 4 decimals (10^-4
//     units); energy is counted in 0.1 Wh (10^-4 kWh), time in whole
//     seconds. Every line amount is an exact integer count of 1/den units of
//     the currency, den = 3600·10^8 (see price.go), and amounts after VAT a
//     further factor 100, so VAT percentages must be whole numbers.
//   - Numbers are written as exact decimal literals: amounts with the
//     currency's ISO 4217 minor digits (EUR 2, JOD 3, ISK and JPY 0), energy
//     in kWh with up to 4 decimals, time in hours with exactly 4 decimals
//     (seconds × 10^4 / 3600, half up: 0.0001 h = 0.36 s, so converting the
//     hours back to the nearest whole second returns the exact seconds),
//     power in kW. DateTimes are UTC with a trailing Z.
//
// Periods. A session is charging segments of constant power followed by
// optional parking. It is cut into charging periods at every segment change,
// at every instant at which a time-of-day or weekday restriction of the tariff
// changes in the location's local time (found by walking the local clock
// minute by minute, which handles wrap-around windows and DST), and at every
// min/max_duration threshold: within a period every restriction is constant.
// A period is wholly charging (ENERGY, TIME, and MIN_POWER/MAX_POWER when the
// tariff has a power restriction) or wholly parking (PARKING_TIME). 2.2+
// periods carry the tariff_id.
//
// Locations carry time_zone, except those of the 2.1.1 Icelandic party
// (optional in 2.1.1): an engine must fall back to the partner's zone from
// its settings (manifest.json lists it), which for Atlantic/Reykjavik, UTC all
// year, is exactly right.
//
// Pricing policy for the RIGHT amounts (the OCPI digest's §5 readings):
//
//   - Tariff version: the latest version whose last_updated is not after the
//     session start (2.2+ versions after the first also carry that instant as
//     start_date_time). Versions differ in prices only.
//   - Per dimension, the first element (in list order) that has a component
//     of the dimension and whose restrictions all match at the period start:
//     local time of day and weekday, seconds since session start, and the
//     period's MAX_POWER (a period without MAX_POWER matches a power
//     restriction). end_time before start_time wraps past midnight, 00:00 as
//     end_time is the end of the day.
//   - FLAT: once per session, from the first charging period in which a FLAT
//     component is active; booked in total_fixed_cost.
//   - step_size once per session: ENERGY over the periods with an active
//     ENERGY component (step of the last of them, in Wh); TIME and
//     PARKING_TIME together with the step of the last period having a
//     billable time component, rounding only the parking total when that
//     period is parking, else only the charging total. The extra is billed in
//     that last period at its price. Step 0 counts as 1.
//   - VAT per line: net × (100 + vat) / 100; a component without vat adds
//     no tax. 2.3.0 tax_included YES: prices are gross; the gross total is
//     rounded and the net total is gross × 100 / (100 + vat) rounded (such
//     tariffs use one VAT rate and no min/max price).
//   - min_price / max_price clamp the exact session total, net and gross
//     separately; sub-totals stay unclamped.
//   - Rounding: each reported total (total_cost and every total_*_cost) is
//     rounded on its own, half up, from the exact amount to the currency's
//     minor units. So sub-totals need not add up to total_cost to the last
//     minor unit. 2.3.0 taxes[0].amount = rounded gross − rounded net, with
//     the percentage when one rate applies.
//   - Credit CDRs (2.2+): id + "-C", credit true, credit_reference_id, only
//     total_cost negated (the letter of the spec).
//
// Injected errors (Config.ErrorPerMille of the sessions, kinds drawn
// uniformly; a kind that would not change the claimed amount for this CDR
// passes to the next kind, so every ground-truth row is a real difference):
// wrong_tariff_version, wrong_price, rounding, vat, time_zone,
// missing_fields, duplicate, conflict, unknown_token. ground_truth.csv has one
// row per injected error: country_code, party_id, cdr_id, error_kind, field,
// billed_value, correct_value, note. Clean CDRs, including credit CDRs, are
// not listed. Duplicates and conflicting copies follow their original within
// the next 20 sessions of the same party.
//
// Not generated: reservations, kWh and current restrictions, tariffs
// embedded in CDRs, multi-tariff sessions, negative energy.
package synth
