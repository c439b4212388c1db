package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
)

// partner returns the partner's config (the zero one when not listed).
func (c *Config) partner(cc, pid string) PartnerConfig {
	for _, p := range c.Partners {
		if ocpi.PartyKey(p.CountryCode, p.PartyID) == ocpi.PartyKey(cc, pid) {
			return p
		}
	}
	return PartnerConfig{}
}

func (p PartnerConfig) tolerance() reconcile.Tolerance {
	return reconcile.Tolerance{Minor: p.ToleranceMinor, PPM: p.TolerancePPM}
}

func (p PartnerConfig) limits() reconcile.Limits {
	l := reconcile.DefaultLimits()
	if p.MaxSessionHours > 0 {
		l.MaxSession = time.Duration(p.MaxSessionHours) * time.Hour
	}
	return l
}

// columns is the partner's invoice layout over the default one.
func (p PartnerConfig) columns() reconcile.Columns {
	c := reconcile.DefaultColumns()
	if m := p.InvoiceColumns; m != nil {
		for _, f := range []struct {
			dst *string
			v   string
		}{{&c.CDRID, m.CDRID}, {&c.Excl, m.Excl}, {&c.Incl, m.Incl}, {&c.Currency, m.Currency}} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
		c.DecimalComma = m.DecimalComma
	}
	return c
}

// readXLSXRows reads the first sheet of an XLSX file as text rows (the
// reconcile room reads rows, not files: excelize stays in cmd).
func readXLSXRows(path string) ([][]string, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, fmt.Errorf("no sheet")
	}
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("sheet %s: %w", sheets[0], err)
	}
	for _, r := range rows {
		for i := range r {
			r[i] = strings.TrimSpace(r[i])
		}
	}
	return rows, nil
}

func loadTokens(path string) (*reconcile.Tokens, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--tokens: %w", err)
	}
	defer f.Close()
	return reconcile.ReadTokens(f)
}

// loadInvoices reads each invoice file and the invoice total.
func loadInvoices(in *reconcile.Input, files []string, cols reconcile.Columns, total string) error {
	for _, f := range files {
		inv, err := readInvoice(f, cols)
		if err != nil {
			return err
		}
		in.Invoices = append(in.Invoices, inv)
	}
	if total != "" {
		d, err := decimal.NewFromString(strings.TrimSpace(total))
		if err != nil {
			return fmt.Errorf("--invoice-total %q: not an amount", total)
		}
		in.InvoiceTotal = &d
	}
	return nil
}

func readInvoice(path string, cols reconcile.Columns) (*reconcile.Invoice, error) {
	name := filepath.Base(path)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx":
		rows, err := readXLSXRows(path)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", name, err)
		}
		return reconcile.InvoiceFromRows(rows, name, cols)
	case ".json":
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		d := ocpi.Decode(raw, ocpi.Hint{Kind: ocpi.KindInvoice})
		if d.Rejected || d.Invoice == nil {
			return nil, fmt.Errorf("invoice %s: not an invoice reconciliation record: %v", name, d.Problems)
		}
		return reconcile.InvoiceFromIRR(d.Invoice, name), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return reconcile.ReadInvoiceCSV(f, name, cols)
}
