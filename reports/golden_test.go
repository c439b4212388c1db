package reports

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/roamsettle/roamsettle/internal/pdftext"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return "(same lines, different bytes)"
}

// xlsxCells reads every cell of every sheet back with excelize: the raw
// value (amounts show their exact decimals) and, for a cell with a custom
// number format, the format in brackets.
func xlsxCells(t *testing.T, data []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	for _, sheet := range f.GetSheetList() {
		out.WriteString("=== " + sheet + "\n")
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			cells := make([]string, len(row))
			for c, v := range row {
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				id, err := f.GetCellStyle(sheet, ref)
				if err != nil {
					t.Fatal(err)
				}
				cells[c] = v
				if st, err := f.GetStyle(id); err == nil && st.CustomNumFmt != nil && v != "" {
					cells[c] += " [" + *st.CustomNumFmt + "]"
				}
			}
			out.WriteString(strings.Join(cells, " | ") + "\n")
		}
	}
	return out.String()
}

func render(t *testing.T, r *Report, kind string) []byte {
	t.Helper()
	var b bytes.Buffer
	k := &KPIReport{Scope: r.Scope, Figures: r.Figures}
	var err error
	switch kind {
	case FileDisputesXLSX:
		err = RenderDisputesXLSX(&b, &r.Scope, r.Disputes)
	case FileDisputesCSV:
		err = RenderDisputesCSV(&b, &r.Scope, r.Disputes)
	case FileKPIJSON:
		err = RenderKPIJSON(&b, k)
	case FileKPIXLSX:
		err = RenderKPIXLSX(&b, k)
	case FileKPIPDF:
		err = renderKPIPDF(&b, k, false)
	}
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return b.Bytes()
}

func TestGoldenDisputeWorkbook(t *testing.T) {
	r := sampleReport()
	golden(t, "disputes.xlsx.txt", []byte(xlsxCells(t, render(t, r, FileDisputesXLSX))))
	golden(t, "disputes.csv", render(t, r, FileDisputesCSV))
}

func TestGoldenKPIReport(t *testing.T) {
	r := sampleReport()
	golden(t, "kpi.json", render(t, r, FileKPIJSON))
	golden(t, "kpi.xlsx.txt", []byte(xlsxCells(t, render(t, r, FileKPIXLSX))))
	pages, err := pdftext.Pages(render(t, r, FileKPIPDF))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for i, p := range pages {
		out.WriteString("=== page " + strconv.Itoa(i+1) + "\n" + p + "\n")
	}
	golden(t, "kpi.pdf.txt", []byte(out.String()))
}

// An empty period still gives every file: a partner learns that nothing
// is disputed.
func TestEmptyPeriod(t *testing.T) {
	r := &Report{Scope: sampleScope()}
	for _, kind := range FileKinds {
		if len(render(t, r, kind)) == 0 {
			t.Errorf("%s is empty", kind)
		}
	}
	golden(t, "empty-kpi.json", render(t, r, FileKPIJSON))
}

// TestByteIdentical: every file rendered again gives the same bytes
// (excelize and fpdf hold maps: the loop gives their iteration order a
// chance to vary), and none carries today's date.
func TestByteIdentical(t *testing.T) {
	today := []string{time.Now().UTC().Format("20060102"), time.Now().UTC().Format("2006-01-02")}
	files := func() map[string][]byte {
		out := map[string][]byte{}
		err := Files(sampleReport(), func(name string, rend func(io.Writer) error) error {
			var b bytes.Buffer
			if err := rend(&b); err != nil {
				return err
			}
			out[name] = b.Bytes()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := files()
	if len(first) != len(FileKinds) {
		t.Fatalf("%d files", len(first))
	}
	for i := range 5 {
		for name, b := range files() {
			if !bytes.Equal(first[name], b) {
				t.Fatalf("%s: rendering %d differs", name, i+2)
			}
		}
	}
	for name, b := range first {
		for _, d := range today {
			if bytes.Contains(b, []byte(d)) {
				t.Errorf("%s carries today's date %s", name, d)
			}
		}
	}
}
