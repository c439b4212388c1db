package invoicing

import "github.com/roamsettle/roamsettle/internal/pdftext"

// pdfText extracts the text of an uncompressed PDF written by renderPDF,
// one string per page (internal/pdftext).
func pdfText(pdf []byte) ([]string, error) { return pdftext.Pages(pdf) }
