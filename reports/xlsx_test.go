package reports

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// number carries every amount of up to 15 significant digits to excelize
// as a float whose shortest text is the decimal's exact text.
func TestNumberIsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		coef := rapid.Int64Range(-999_999_999_999_999, 999_999_999_999_999).Draw(t, "coefficient")
		exp := rapid.Int32Range(-10, 0).Draw(t, "exponent")
		d := decimal.New(coef, exp)
		f, err := number(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if got := decimal.NewFromFloat(f); !got.Equal(d) {
			t.Fatalf("%s carried as %v", d, got)
		}
	})
}

// An amount no float carries exactly is refused, not rounded.
func TestNumberRefusesWhatItCannotCarry(t *testing.T) {
	for _, s := range []string{"12345678901234567.89", "0.12345678901234567", "9007199254740993"} {
		if _, err := number(decimal.RequireFromString(s)); err == nil {
			t.Errorf("%s was accepted", s)
		}
	}
	r := sampleReport()
	r.Disputes[0].Billed.Excl = decimal.RequireFromString("12345678901234567.89")
	if err := RenderDisputesXLSX(io.Discard, &r.Scope, r.Disputes); err == nil || !strings.Contains(err.Error(), "12345678901234567.89") {
		t.Errorf("workbook with an amount it cannot hold: %v", err)
	}
}

// The XML of a streamed sheet holds the amounts' exact text.
func TestStreamedAmountsExactInXML(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := RenderDisputesXLSX(&b, &r.Scope, r.Disputes); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range z.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/sheet") {
			rc, _ := f.Open()
			x, _ := io.ReadAll(rc)
			all.Write(x)
		}
	}
	for _, want := range []string{"<v>12.28</v>", "<v>-1.18</v>", "<v>4.5375</v>", "<v>0.123</v>", "<v>1235</v>"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("sheets lack %s", want)
		}
	}
}
