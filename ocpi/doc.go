// Package ocpi is roamsettle's version-neutral model of the OCPI objects that
// settlement needs (CDRs, tariffs, locations and 2.3.0 invoice reconciliation
// records), the decoders that turn OCPI 2.1.1, 2.2.1 and 2.3.0 JSON into that
// model, and validation with field paths.
//
// Invariants:
//
//   - Numbers are decoded exactly: every amount, volume and price is a
//     decimal.Decimal parsed from the JSON literal, never through float64.
//   - Every DateTime is kept in UTC. Input with or without a trailing "Z" and
//     with 0 to 9 fractional digits is accepted; numeric offsets are converted
//     and reported as a format problem.
//   - Decoding never stops at the first problem: a decoder returns the object
//     as far as it could be read plus every Problem found, each naming the
//     JSON field path (charging_periods[2].dimensions[0].volume), the rule it
//     broke and whether it blocks pricing.
//   - Identifiers keep the spelling they arrived with; Key() upper-cases the
//     case-insensitive ones (CiString) for identity and joins.
//   - The package imports only the standard library and shopspring/decimal.
package ocpi
