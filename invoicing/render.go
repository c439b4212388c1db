package invoicing

import (
	"fmt"
	"io"
	"strings"
)

// Format is one rendering of a document.
type Format string

const (
	FormatPDF  Format = "pdf"
	FormatXLSX Format = "xlsx"
	FormatJSON Format = "json"
	// FormatUBL is the EN 16931 UBL 2.1 e-invoice (issued documents only).
	FormatUBL Format = "ubl.xml"
)

// Formats lists every format, in the order they are written.
var Formats = []Format{FormatJSON, FormatPDF, FormatXLSX, FormatUBL}

// RenderJSON writes the canonical JSON (MarshalDocument): what is hashed,
// chained and stored.
func RenderJSON(w io.Writer, d *Document) error {
	return WriteDocument(w, d)
}

// Render writes the document in the format. The renderers take an
// io.Writer: whoever writes files makes them atomic (write to a temporary
// file, then rename).
func Render(w io.Writer, d *Document, f Format, pdf PDFOptions) error {
	switch f {
	case FormatPDF:
		return RenderPDF(w, d, pdf)
	case FormatXLSX:
		return RenderXLSX(w, d)
	case FormatJSON:
		return RenderJSON(w, d)
	case FormatUBL:
		return RenderUBL(w, d)
	}
	return fmt.Errorf("invoicing: unknown format %q", f)
}

// FormatsOf lists the formats a document has: a statement has no UBL.
func FormatsOf(d *Document) []Format {
	if d.Kind == Statement {
		return Formats[:3]
	}
	return Formats
}

// FileName is the base name of a rendering: the number for an issued
// document ("INV-000001.pdf"), "statement-<partner>-<period>-<currency>"
// for a statement. Characters that do not belong in a file name become
// '-'.
func FileName(d *Document, f Format) string {
	base := d.Number
	if base == "" {
		partner := d.Buyer.Key()
		if d.Billing == SelfBilling {
			partner = d.Seller.Key()
		}
		base = strings.Join([]string{"statement", partner, d.Period.Name, d.Currency}, "-")
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, base) + "." + string(f)
}

// Files calls write once per rendering of the document, in Formats order,
// with the file name and a function that renders it. The caller chooses
// the directory and writes atomically (internal/atomicfile.Write).
func Files(d *Document, pdf PDFOptions, write func(name string, render func(io.Writer) error) error) error {
	for _, f := range FormatsOf(d) {
		if err := write(FileName(d, f), func(w io.Writer) error { return Render(w, d, f, pdf) }); err != nil {
			return err
		}
	}
	return nil
}
