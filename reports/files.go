package reports

import (
	"io"
	"strings"
)

// Report is everything rendered for one partner's period.
type Report struct {
	Scope    Scope
	Figures  Figures
	Disputes []Dispute
}

// File kinds, in the order Files writes them.
const (
	FileDisputesXLSX = "disputes.xlsx"
	FileDisputesCSV  = "disputes.csv"
	FileKPIJSON      = "kpi.json"
	FileKPIXLSX      = "kpi.xlsx"
	FileKPIPDF       = "kpi.pdf"
)

// FileKinds lists the kinds of file a report has, in the order written.
var FileKinds = []string{FileDisputesXLSX, FileDisputesCSV, FileKPIJSON, FileKPIXLSX, FileKPIPDF}

// FileName is the base name of one file of a partner's period:
// "disputes-NL-ABC-2026-10.xlsx", "kpi-NL-ABC-2026-10.pdf". Characters
// that do not belong in a file name become '-'.
func FileName(s *Scope, kind string) string {
	stem, ext, _ := strings.Cut(kind, ".")
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, stem+"-"+s.Partner+"-"+s.Period)
	return base + "." + ext
}

// Files calls write once per file of the report, in FileKinds order, with
// its name and a function that renders it. The caller chooses the folder
// and writes atomically.
func Files(r *Report, write func(name string, render func(io.Writer) error) error) error {
	k := &KPIReport{Scope: r.Scope, Figures: r.Figures}
	renders := map[string]func(io.Writer) error{
		FileDisputesXLSX: func(w io.Writer) error { return RenderDisputesXLSX(w, &r.Scope, r.Disputes) },
		FileDisputesCSV:  func(w io.Writer) error { return RenderDisputesCSV(w, &r.Scope, r.Disputes) },
		FileKPIJSON:      func(w io.Writer) error { return RenderKPIJSON(w, k) },
		FileKPIXLSX:      func(w io.Writer) error { return RenderKPIXLSX(w, k) },
		FileKPIPDF:       func(w io.Writer) error { return RenderKPIPDF(w, k) },
	}
	for _, kind := range FileKinds {
		if err := write(FileName(&r.Scope, kind), renders[kind]); err != nil {
			return err
		}
	}
	return nil
}
