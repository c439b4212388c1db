package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
)

// The CDRs reconcile loads whole through Arrow are the ones the one-CDR
// read (database/sql) gives: every field, the periods and embedded
// tariffs, the decimals at the same exponent (their text is evidence),
// over a full CDR, a sparse one, one with taxes and a credit.
func TestWholeCDRsAreTheSQLRead(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	full := sampleCDR("FULL")
	sparse := sampleCDR("sparse-1")
	sparse.Token, sparse.Location.Name, sparse.Location.State, sparse.Location.Coordinates = ocpi.CDRToken{}, "", "", ocpi.GeoLocation{}
	sparse.MeterID, sparse.Remark, sparse.InvoiceReferenceID, sparse.SessionID = "", "", "", ""
	sparse.TotalFixedCost, sparse.TotalParkingCost, sparse.TotalParkingTime = nil, nil, decimal.NullDecimal{}
	sparse.TotalCost = &ocpi.Price{ExclVAT: d("0")}
	taxed := sampleCDR("TAXED")
	taxed.Version = ocpi.V230
	taxed.TotalCost.Taxes = []ocpi.TaxAmount{{Name: "VAT", AccountNumber: "NL1", Percentage: nd("21"), Amount: d("2.58")}}
	taxed.Credit, taxed.CreditReferenceID = true, "FULL"
	taxed.TotalEnergy = d("123456789012.123456")
	save(t, s, recvCDR(full, "f", 1), recvCDR(sparse, "s", 2), recvCDR(taxed, "t", 3))
	keys, err := s.int64s(ctx, `SELECT cdr_key FROM cdrs ORDER BY cdr_key`)
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys %v %v", keys, err)
	}
	var got map[int64]*ocpi.CDR
	err = s.withKeys(ctx, keys, func(q *sql.Conn, filter keyFilter) (err error) {
		got, err = loadWholeCDRs(ctx, q, filter, len(keys))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The reference: the one CDR read (price, rejects), through database/sql.
	want := map[int64]*ocpi.CDR{}
	for i, id := range []string{"FULL", "sparse-1", "TAXED"} {
		c, _, err := s.CDR(ctx, "NL", "ABC", id)
		if err != nil {
			t.Fatal(err)
		}
		c.SignedData = nil // evidence of the meter, not read whole
		want[keys[i]] = c
	}
	sameDecimal := cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) && a.Exponent() == b.Exponent() })
	if diff := cmp.Diff(want, got, sameDecimal); diff != "" {
		t.Errorf("Arrow read differs from database/sql (-sql +arrow):\n%s", diff)
	}
	if c := got[keys[2]]; c == nil || len(c.TotalCost.Taxes) != 1 || !c.Credit || c.TotalEnergy.String() != "123456789012.123456" {
		t.Errorf("taxed: %+v", c)
	}
	if c := got[keys[1]]; c == nil || c.ID != "sparse-1" || c.Token.UID != "" || c.TotalFixedCost != nil || c.TotalParkingTime.Valid {
		t.Errorf("sparse: %+v", c)
	}
}
