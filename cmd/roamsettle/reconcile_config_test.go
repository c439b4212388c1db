package main

import (
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/roamsettle/roamsettle/reconcile"
)

// An XLSX invoice is read from its first sheet as text rows, under the
// partner's column mapping, numbers as their raw values.
func TestReadInvoiceXLSX(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inv.xlsx")
	f := excelize.NewFile()
	rows := [][]any{{"Session", "Net", "Gross", "Cur"}, {"C1", 10.5, 12.71, "EUR"}, {"C2", "-0.50", "-0.61", "EUR"}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	pc := PartnerConfig{InvoiceColumns: &reconcile.Columns{CDRID: "Session", Excl: "Net", Incl: "Gross", Currency: "Cur"}}
	inv, err := readInvoice(path, pc.columns())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Lines) != 2 || inv.Lines[0].Amount.Excl != 10_500_000 || inv.Lines[0].Amount.Incl != 12_710_000 ||
		inv.Lines[1].Amount.Excl != -500_000 || inv.Lines[0].Line != 2 || inv.Lines[1].Currency != "EUR" {
		t.Fatalf("%+v", inv.Lines)
	}
	if _, err := readInvoice(path, reconcile.DefaultColumns()); err == nil {
		t.Fatal("the default layout read a file without its columns")
	}
}
