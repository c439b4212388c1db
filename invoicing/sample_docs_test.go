package invoicing

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var sampleDocs = flag.String("sample-docs", "", "write the sample documents into this directory (make check-docs)")

// TestSampleDocuments writes the documents `make check-docs` checks with
// poppler, LibreOffice and the EN 16931 rules: the golden scenario, a
// statement of many pages with per-CDR lines, and an invoice with Japanese
// names (set in the system's CJK font). Without -sample-docs it is skipped.
func TestSampleDocuments(t *testing.T) {
	if *sampleDocs == "" {
		t.Skip("make check-docs passes -sample-docs DIR")
	}
	if err := os.MkdirAll(*sampleDocs, 0o755); err != nil {
		t.Fatal(err)
	}
	docs := goldenDocs(t)
	long := sampleConfig()
	long.Grouping = PerCDR
	st, err := Statements(long, samplePeriod(), sampleCDRs(600), sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	docs["long_statement_per_cdr"] = st[0]
	cjk := sampleConfig()
	cjk.Buyer.Name = "東京充電株式会社"
	cjk.Buyer.Address = Address{Street: "丸の内1-9-1", PostalCode: "100-0005", City: "東京都千代田区", Country: "JP"}
	cdrs := sampleCDRs(12)
	for i := range cdrs {
		cdrs[i].Location.Name = "八重洲口充電ステーション"
	}
	res := issue(t, &memLedger{}, cjk, cdrs, sampleIssueDate)
	docs["cjk_invoice"] = mustDoc(t, res.New[0])
	for name, d := range docs {
		err := Files(d, PDFOptions{Warn: func(m string) { t.Log(m) }}, func(file string, render func(io.Writer) error) error {
			f, err := os.Create(filepath.Join(*sampleDocs, name+"."+file[len(FileName(d, "")):]))
			if err != nil {
				return err
			}
			if err := render(f); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
