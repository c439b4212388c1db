// Package invoicing turns a partner's priced and reconciled CDRs of a
// settlement period into documents a finance team signs off: the
// provisional settlement statement, and the numbered invoices and credit
// notes, rendered as PDF, XLSX, JSON and UBL 2.1 (EN 16931).
//
// # Inputs
//
// settle feeds invoicing through a thin adapter: a Config (the parties,
// payment terms and document policy, from the configuration file), a
// Period, and one CDR per priced CDR of the period — its identity and body
// hash, location, tariff version, pricing policy, currency, energy, the
// charges per cost component before tax with their taxes, and, when it is
// not accepted, its Dispute with the evidence. The CDRs of one place or
// one tariff version may share their Location or TariffVersion (a month
// has millions of CDRs and a few thousand of each): invoicing only reads
// them, and a nil one reads as empty. Issuing documents goes through a
// Ledger, which the store implements (store/invoices.go).
//
// # Invariants
//
//   - Money is exact. Inputs are Amounts, int64 at 10 decimals (the
//     pricing kernel's scale); sums are 128-bit; every amount a document
//     states is Money, an int64 count of the currency's ISO 4217 minor
//     units. No arithmetic on an amount uses a float; renderers receive
//     amounts as exact decimal text (layout coordinates are floats). The
//     one float that carries an amount is a worksheet cell's, which is a
//     double in every spreadsheet: XLSXNumber hands one over only when it
//     writes back exactly the decimal's text, else the cell keeps the text.
//   - Rounding happens at three documented points, in Config.Rounding
//     (half up by default, or half even): each line's net amount is the
//     exact sum of its charges rounded once; each tax row of the breakdown
//     is its taxable base (the sum of its rounded lines) times the rate,
//     rounded once (TaxFromBase, EN 16931 BR-CO-17), or the exact sum of
//     the priced taxes rounded once (TaxFromLines, and for taxes without a
//     rate); each day of the chart is rounded once. So the lines sum to
//     the net total exactly, the breakdown to the tax total exactly, gross
//     is net plus tax, and a line's components (largest remainder) sum to
//     the line. Per-CDR and grouped lines may differ by rounding.
//   - A document depends only on its inputs: CDRs are sorted by identity,
//     lines by key, the issue date is an input (never the clock), and the
//     renderings fix every timestamp and ordering the libraries would vary
//     (PDF dates, zip entry times, excelize's map-ordered content types).
//     The same document renders to the same bytes, also after a round trip
//     through its stored JSON.
//   - Disputed CDRs are never charged: statements list them with their
//     evidence, invoices list them too when Config.Disputes says so.
//   - Issued documents never change (DESIGN invariant 4). Issue compares
//     the lines the CDRs charge now with the invoiced lines still open (by
//     key and digest) and issues a credit note for every line that changed
//     or vanished, referencing the invoice and line, and a new invoice for
//     every line that changed or is new; the same inputs again issue
//     nothing. Net amounts of the credit note and new invoice add up to
//     the difference exactly; taxes are per document (EN 16931), so they
//     may differ from the difference by a rounding per tax row.
//   - Numbering is gap-free per issuer and series (the number prefix): a
//     number is assigned inside the ledger transaction that stores the
//     document, so a failed issuance leaves no gap. Every issued document
//     states the SHA-256 of the issuer's previous one; Issue verifies the
//     whole chain first and refuses to go on when a document was changed,
//     removed or inserted (ErrChain).
//   - An issued document is stored with the snapshot of its inputs (one
//     InputRef per CDR and line: identity, body hash, tariff version,
//     pricing policy, exact amount; the disputed CDRs left out) and the
//     document policy, digested into its inputs_sha256.
//   - Renderers write to an io.Writer; whoever writes files makes them
//     atomic. The package imports ocpi, decimal, fpdf and excelize only.
//
// # Renderings
//
// PDF: A4, DejaVu Sans embedded (fonts/, with its licence) so that Polish,
// Czech, Greek and Turkish names print as written; text in Chinese,
// Japanese or Korean is set in a TrueType CJK font found on the system
// (CJKFontPaths, or PDFOptions.CJKFont), with a warning when there is none.
// Every page has "page N of M" in its footer. XLSX: Summary (with a chart
// of the net amount by day), Lines, Disputes (with the evidence) and Days
// sheets, number formats per currency minor units, frozen header rows and
// filters; a list longer than a worksheet holds (1,048,576 rows) goes on
// in "Lines (2)" and so on (ListWriter), never cut. JSON: the canonical document. UBL: Invoice or CreditNote with
// the EN 16931 core fields, checked by `make check-docs`.
package invoicing
