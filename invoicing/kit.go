package invoicing

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/xuri/excelize/v2"
)

// What other renderers (reports/) share with the documents here, so that a
// report and an invoice look alike and are deterministic the same way: the
// embedded DejaVu Sans, the fixed PDF metadata, the canonical XLSX zip and
// the number formats.

// PDFFont is the font family NewPDF registers: DejaVu Sans, regular ("")
// and bold ("B"), embedded from fonts/ (Latin, Greek, Cyrillic; no CJK).
const PDFFont = "dejavu"

// PDFMeta is what a PDF states about itself. At fixes its creation and
// modification dates: a document's bytes must not depend on the clock.
type PDFMeta struct {
	Title, Author, Subject string
	Creator                string // "roamsettle <renderer> <format version>"
	At                     time.Time
	// Landscape turns the A4 page.
	Landscape bool
}

// NewPDF is an A4 fpdf document in millimetres set up as the invoices
// are: DejaVu Sans registered as PDFFont, the metadata fixed to meta,
// the catalog sorted, no automatic page break, compression as asked (off
// for tests that read the content streams back).
func NewPDF(meta PDFMeta, compress bool) *fpdf.Fpdf {
	orientation := "P"
	if meta.Landscape {
		orientation = "L"
	}
	f := fpdf.New(orientation, "mm", "A4", "")
	f.SetCompression(compress)
	f.SetCatalogSort(true)
	f.SetCreationDate(meta.At)
	f.SetModificationDate(meta.At)
	f.SetProducer("roamsettle", false)
	f.SetCreator(meta.Creator, true)
	f.SetTitle(meta.Title, true)
	f.SetAuthor(meta.Author, true)
	if meta.Subject != "" {
		f.SetSubject(meta.Subject, true)
	}
	f.SetAutoPageBreak(false, 0)
	f.AddUTF8FontFromBytes(PDFFont, "", dejaVuSans)
	f.AddUTF8FontFromBytes(PDFFont, "B", dejaVuSansBold)
	return f
}

// NewWorkbook is an empty excelize workbook whose zip is written
// canonically (entries without times, the content types sorted, the
// worksheets in name order), so the same cells always give the same
// bytes, also with sheets written by excelize's StreamWriter (which it
// stores in map order). Fix its document properties with SetDocProps
// before writing.
func NewWorkbook() *excelize.File {
	f := excelize.NewFile()
	f.SetZipWriter(func(w io.Writer) excelize.ZipWriter {
		return &orderedZip{canonicalZip: canonicalZip{zw: zip.NewWriter(w)}}
	})
	return f
}

// orderedZip is canonicalZip that also orders the worksheets. excelize
// writes the streamed sheets first, in map order, then its other parts
// in reverse name order, which begin with the other worksheets: that
// first run of worksheet entries is held (deflated, in memory) and written
// sorted by name before the next entry.
type orderedZip struct {
	canonicalZip
	held    []*heldEntry
	started bool // an entry after the first run was created
}

const worksheetPrefix = "xl/worksheets/sheet"

type heldEntry struct {
	name string
	buf  bytes.Buffer
	fw   *flate.Writer
	crc  hash.Hash32
	size uint64
}

func (h *heldEntry) Write(p []byte) (int, error) {
	h.crc.Write(p)
	h.size += uint64(len(p))
	return h.fw.Write(p)
}

func (o *orderedZip) Create(name string) (io.Writer, error) {
	if !o.started && strings.HasPrefix(name, worksheetPrefix) {
		h := &heldEntry{name: name, crc: crc32.NewIEEE()}
		fw, err := flate.NewWriter(&h.buf, 5)
		if err != nil {
			return nil, err
		}
		h.fw = fw
		o.held = append(o.held, h)
		return h, nil
	}
	if err := o.release(); err != nil {
		return nil, err
	}
	return o.canonicalZip.Create(name)
}

// release writes the held worksheets in name order.
func (o *orderedZip) release() error {
	if o.started {
		return nil
	}
	o.started = true
	if err := o.canonicalZip.flush(); err != nil {
		return err
	}
	slices.SortFunc(o.held, func(a, b *heldEntry) int { return strings.Compare(a.name, b.name) })
	for _, h := range o.held {
		if err := h.fw.Close(); err != nil {
			return err
		}
		w, err := o.zw.CreateRaw(&zip.FileHeader{Name: h.name, Method: zip.Deflate, CRC32: h.crc.Sum32(),
			CompressedSize64: uint64(h.buf.Len()), UncompressedSize64: h.size})
		if err != nil {
			return err
		}
		if _, err := h.buf.WriteTo(w); err != nil {
			return err
		}
	}
	o.held = nil
	return nil
}

func (o *orderedZip) AddFS(fsys fs.FS) error {
	if err := o.release(); err != nil {
		return err
	}
	return o.canonicalZip.AddFS(fsys)
}

func (o *orderedZip) Close() error {
	if err := o.release(); err != nil {
		return err
	}
	return o.canonicalZip.Close()
}

// AmountFormat is the XLSX number format of amounts at a currency's minor
// units: "#,##0.00" for 2, "#,##0" for 0.
func AmountFormat(minorUnits int) string { return amountFormat(minorUnits) }

// Grouped writes a decimal string with thousands separators and at least
// minDigits decimals: "1234567.5" with 2 is "1,234,567.50".
func Grouped(s string, minDigits int) string { return grouped(s, minDigits) }
