package invoicing

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// disputedSample is the sample month with n of its CDRs disputed: every
// third for PRICE (billed 10.00, recomputed 9.995), the others for
// TARIFF_VERSION (sampleCDRs' 12.40 and 11.90).
func disputedSample(n int) []CDR {
	cdrs := sampleCDRs(n + 50)
	for i := range n {
		c := &cdrs[i]
		if i%3 == 0 {
			c.Dispute = &Dispute{Verdict: "MISMATCH", Status: "raised", Reasons: []string{"PRICE", "TARIFF_VERSION"},
				Billed: &Price{Excl: MustAmount("10.00"), Incl: MustAmount("12.30")}, Recomputed: &Price{Excl: MustAmount("9.995"), Incl: MustAmount("12.29")}, Evidence: fmt.Sprintf("evidence of CDR %d", i)}
			continue
		}
		c.Dispute = &Dispute{Verdict: "MISMATCH", Status: "raised", Reasons: []string{"TARIFF_VERSION"},
			Billed: &Price{Excl: MustAmount("12.40"), Incl: MustAmount("15.25")}, Recomputed: &Price{Excl: MustAmount("11.90"), Incl: MustAmount("14.64")}, Evidence: fmt.Sprintf("evidence of CDR %d", i)}
	}
	return cdrs
}

func statementPDFText(t *testing.T, cdrs []CDR) string {
	t.Helper()
	docs, err := Statements(sampleConfig(), samplePeriod(), cdrs, DateOf(samplePeriod().To))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d statements, want 1", len(docs))
	}
	var buf bytes.Buffer
	if err := renderPDF(&buf, docs[0], PDFOptions{}, false); err != nil {
		t.Fatal(err)
	}
	pages, err := pdfText(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(pages, "\n")
}

// A PDF lists up to PDFDisputeList disputed CDRs one by one with their
// evidence; more are summarised by most likely reason, each sum exact and
// rounded once (67 × -0.005 = -0.335 shows as -0.34 half up, not 67 ×
// -0.01), and the XLSX and JSON keep the list.
func TestPDFSummarisesManyDisputes(t *testing.T) {
	listed := statementPDFText(t, disputedSample(PDFDisputeList))
	for _, want := range []string{"PL*LLD*CDR-00000", "evidence of CDR 99", "Disputed CDRs (not charged)"} {
		if !strings.Contains(listed, want) {
			t.Errorf("with %d disputes the PDF lacks %q", PDFDisputeList, want)
		}
	}
	if strings.Contains(listed, "Most likely reason") {
		t.Errorf("with %d disputes the PDF summarises them", PDFDisputeList)
	}

	n := 2 * PDFDisputeList // 67 PRICE (i%3 == 0), 133 TARIFF_VERSION
	summary := statementPDFText(t, disputedSample(n))
	for _, want := range []string{
		fmt.Sprintf("%d disputed CDRs, by most likely reason", n),
		"Most likely reason | CDRs | Billed | Recomputed | Difference",
		"TARIFF_VERSION | 133 | 1,649.20 | 1,582.70 | -66.50",
		"PRICE | 67 | 670.00 | 669.67 | -0.34",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	for _, not := range []string{"PL*LLD*CDR-00000", "evidence of CDR"} {
		if strings.Contains(summary, not) {
			t.Errorf("the summarised PDF still lists %q", not)
		}
	}
	if i, j := strings.Index(summary, "TARIFF_VERSION | 133"), strings.Index(summary, "PRICE | 67"); i < 0 || j < i {
		t.Errorf("reasons not ordered by count")
	}
}
