// Package ocpi is roamsettle's version-neutral model of the OCPI objects that
// settlement needs (CDRs, tariffs, locations and 2.3.0 invoice reconciliation
// records), the decoders that turn OCPI 2.1.1, 2.2.1 and 2.3.0 JSON into that
// model, and validation with field paths.
//
// Entry points: Decode(raw, Hint) for one JSON object, DecodeReceived to fill
// a Received in place (receivers and importers share it; tariffs and invoice
// reconciliation records are validated there), ValidateCDR /
// ValidateLocation for objects built elsewhere, ParseDateTime /
// FormatDateTime, and CurrencyMinorUnits.
//
// Invariants:
//
//   - Numbers are decoded exactly: every amount, volume and price is a
//     decimal.Decimal built from the JSON literal, never through float64.
//     Numbers quoted as strings ("2.00", as 2.1.1 examples do) are read and
//     reported (RuleFormat, not blocking). Exponents beyond ±100 and more
//     than MaxNumberIntegerDigits integer digits are RuleTooLarge; more than
//     MaxNumberScale decimals is RulePrecision (kept exactly in the model;
//     storage never rounds: its column holds NULL, see store/numbers.go).
//   - Every DateTime is kept in UTC. Input with or without a trailing "Z" and
//     with 1 to 9 fractional digits is accepted, and the CDR chapter's
//     malformed 1970 sentinel "1970-1-1T00:00:00Z" equals the proper one;
//     numeric offsets are converted and reported as a format problem.
//   - Decoding never stops at the first problem: a decoder returns the object
//     as far as it could be read plus every Problem found, each naming the
//     JSON field path with indices (charging_periods[2].dimensions[0].volume),
//     the rule it broke and whether it blocks pricing. A field that already
//     has a decoding problem gets no second, validation problem.
//   - A payload is rejected (kept only as a reject, with at least one
//     Problem) when it is over MaxRecordBytes (not parsed), not JSON, nested
//     deeper than MaxDepth (checked before recursing), not an object, of a
//     kind that cannot be told, without an id (unless Hint.PriceOnly: an
//     object priced and never stored), or without an owner - or when
//     a 2.2+ body names another owner than the connection's hint. Everything
//     else is an identified billing claim and is kept with its problems.
//   - Unknown fields are ignored, never an error. Fields of another version
//     (stop_date_time in a 2.2.1 CDR) are unknown fields.
//   - Decoded strings never alias the caller's buffer, and are valid UTF-8
//     (DuckDB refuses anything else, and would fail a whole group commit
//     for one byte): a string that is not keeps each invalid byte spelt
//     \xHH (ValidText; distinct inputs stay distinct) and gets a
//     RuleEncoding problem at its path, blocking where a wrong type of that
//     field blocks. The raw payload keeps the bytes as sent.
//   - Identifiers keep the spelling they arrived with; Key() upper-cases the
//     case-insensitive ones (CiString) for identity and joins.
//   - The package imports only the standard library and shopspring/decimal;
//     JSON is scanned by a small hand-written tape scanner (jsontree.go) that
//     accepts exactly what encoding/json accepts (a fuzz target checks it).
//
// What blocks pricing (Problem.Blocking):
//
//   - CDR: unreadable or missing start/end (and the 1970 "unknown" sentinel),
//     end before start, missing or non-ISO currency, missing, empty or
//     unreadable charging periods, period start, dimension type or volume, a
//     dimension type OCPI does not know (it may be a misspelt ENERGY), a
//     negative TIME/PARKING_TIME/RESERVATION_TIME volume (and negative ENERGY
//     in 2.1.1; 2.2+ allows it for export), periods out of order or outside
//     the session, and blocking problems of an embedded tariff.
//   - Not blocking for a CDR: owner taken from the connection, token and
//     location snapshot fields (real platforms omit address and token party;
//     the time zone comes from the stored Location or a configured default),
//     auth_method, lengths, coordinates, last_updated, a missing or
//     unreadable total_cost or other totals (that is the claim being
//     reconciled, not an input of pricing), totals that do not add up, credit
//     CDR inconsistencies, session-only dimensions (ignored).
//   - Tariff: missing or non-ISO currency, no elements or price components,
//     unknown or missing dimension type, unreadable price, vat or step_size,
//     negative step_size, malformed HH:MM or YYYY-MM-DD restrictions, unknown
//     day_of_week or reservation, unreadable restriction bounds,
//     min_price above max_price, a validity window that ends before it
//     starts, an unknown tax_included. A missing 2.3.0 tax_included does not
//     block (the 2.3.0 spec's own CDR example omits it; pricing then reads
//     prices as excluding taxes), nor do restrictions that merely never apply
//     (min above max, end_date not after start_date), negative prices or VAT,
//     nor an unknown tariff type (pricing does not read it).
//   - A CDR's id is required by storage, not by pricing: Hint.PriceOnly
//     decodes a CDR or tariff without one (the price command).
//   - Location: only a missing EVSE uid or connector id (the connector cannot
//     be matched to a CDR) and unreadable EVSE/connector lists or tariff ids.
//     A missing 2.2+ time_zone is reported but does not block.
//   - Invoice reconciliation records are never priced: nothing blocks.
//
// Totals are checked within a tolerance: volumes carry about 4 decimals and
// CPOs round to 3, so a declared total may differ from the sum of n period
// volumes by (n+1)/1000; cost sub-totals may differ from total_cost by one
// minor unit per sub-total. Sub-totals are compared only when fixed, energy,
// time and parking costs are all present, never for credit CDRs (digest 3.5).
// total_energy is compared only when the CDR has ENERGY dimensions, and
// total_time / total_parking_time only when it has TIME or PARKING_TIME ones.
package ocpi
