package main

import (
	"fmt"
	"strings"
	"time"

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
