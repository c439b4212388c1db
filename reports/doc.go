// Package reports renders what a finance team and its partners read about
// a partner's settlement period beside the invoices: the dispute workbook
// (XLSX, with a CSV companion) that goes to the partner, and the KPI
// report (XLSX with charts, a PDF page, and its JSON).
//
// # Inputs
//
// settle assembles a Report from the stored rows of the period's newest
// re-pricing and reconciliation through its ReportSource (the store
// implements it): the Scope (partner, period, window and zone, and AsOf,
// when the newest CDR of the period was received), the Figures (counts,
// money per currency, latencies, days) and the Disputes (each disputed
// CDR with reasons, amounts, the periods where the difference arises with
// their priced lines, and the evidence). The Parquet exports for BI tools
// are written by the store (DuckDB's COPY); settle places them beside.
//
// # Invariants
//
//   - Money is exact: amounts are decimals, written as their exact text
//     (SetCellDefault in the workbooks, StringFixed in CSV, JSON and PDF),
//     at their currency's minor units with the number format of those
//     units ("#,##0.00", "#,##0" for JPY, "#,##0.000" for KWD); line
//     amounts keep their ten decimals. excelize's StreamWriter takes
//     numbers only as float64: a decimal reaches it as the float whose
//     shortest text is exactly the decimal's (number), checked for every
//     cell; an amount with more digits than that is refused, never
//     rounded. No arithmetic on floats touches an amount; chart geometry
//     is the only floating point.
//   - Amounts in different currencies are never added.
//   - A missing amount is absent, never 0: a CDR that states no incl_vat
//     or that could not be priced leaves its cells empty.
//   - Deterministic: a report depends only on its inputs. Lists are in
//     the order given (settle sorts by CDR identity), maps are rendered
//     sorted, the documents' dates are Scope.AsOf (never the clock), the
//     PDF is fpdf's with fixed metadata (invoicing.NewPDF) and the
//     workbooks are written through invoicing.NewWorkbook's canonical zip
//     (entries without times, content types and worksheets sorted). The
//     same inputs give the same bytes.
//   - The KPIs are reconcile's definitions (acceptance: verdict OK and no
//     error finding; disputes: the rest; priced with the version in
//     effect; time zone resolved among the priced), each shown with the
//     counts it comes from; a rate whose base is empty is "–", not 0.
//   - Renderers write to an io.Writer; whoever writes files makes them
//     atomic. The package imports ocpi, pricing, reconcile, invoicing,
//     decimal, fpdf and excelize only (DESIGN.md).
//
// # Files of a partner's period (Files)
//
//	disputes-CC-PID-PERIOD.xlsx  Summary, Disputes, Periods (frozen headers, filters;
//	                             a list past 1,048,576 rows goes on in "Periods (2)", ...)
//	disputes-CC-PID-PERIOD.csv   one row per disputed CDR, machine names
//	kpi-CC-PID-PERIOD.json       the figures and rates (decimal strings)
//	kpi-CC-PID-PERIOD.xlsx       KPIs (two charts) and Days
//	kpi-CC-PID-PERIOD.pdf        one A4 page: key figures, charts, tables
package reports
