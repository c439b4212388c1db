package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
)

// The CDRs reconcile loads whole through Arrow are the ones database/sql
// read: every field, the decimals at the same exponent (their text is
// evidence), over a full CDR, a sparse one, one with taxes and a credit.
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
	want := map[int64]*ocpi.CDR{}
	var got map[int64]*ocpi.CDR
	err = s.withKeys(ctx, keys, func(q *sql.Conn, filter keyFilter) error {
		rows, err := q.QueryContext(ctx, `SELECT `+cdrColumns+` FROM cdrs c WHERE `+filter("c.cdr_key"))
		if err != nil {
			return err
		}
		if err := wholeCDRsSQL(rows, want); err != nil {
			return err
		}
		if err := periodsSQL(ctx, q, filter, want); err != nil {
			return err
		}
		got, err = loadWholeCDRs(ctx, q, filter, len(keys))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		w.Tariffs = nil // loadWholeCDRs adds the embedded tariffs, not read here
	}
	for _, g := range got {
		g.Tariffs = nil
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

func microsOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// wholeCDRsSQL reads CDRs as loadWholeCDRs did through database/sql
// before it read Arrow batches (readCDRBatch): the reference the Arrow
// reader is held to.
func wholeCDRsSQL(rows *sql.Rows, out map[int64]*ocpi.CDR) error {
	defer rows.Close()
	for rows.Next() {
		var c ocpi.CDR
		var key int64
		var cc, pid, id, version string
		var ccSent, pidSent, idSent sql.NullString
		var start, end, lastUpdated sql.NullInt64
		str := make([]sql.NullString, 29)
		var tariffIDs stringList
		dec := make([]nullDecimal, 15)
		var taxes sql.NullString
		dests := []any{&key, &cc, &pid, &id, &ccSent, &pidSent, &idSent, &version, &start, &end}
		for i := range str {
			dests = append(dests, &str[i])
		}
		dests = append(dests, &tariffIDs)
		for i := range dec {
			dests = append(dests, &dec[i])
		}
		dests = append(dests, &taxes, &c.Credit, &c.HomeChargingCompensation, &lastUpdated)
		if err := rows.Scan(dests...); err != nil {
			return err
		}
		c.Version = ocpi.Version(version)
		c.CountryCode, c.PartyID, c.ID = orKey(ccSent, cc), orKey(pidSent, pid), orKey(idSent, id)
		c.StartDateTime, c.EndDateTime, c.LastUpdated = microsOrZero(start), microsOrZero(end), microsOrZero(lastUpdated)
		l := &c.Location
		for i, p := range []*string{&c.SessionID, &c.Token.CountryCode, &c.Token.PartyID, &c.Token.UID, &c.Token.Type,
			&c.Token.ContractID, &c.AuthMethod, &c.AuthorizationReference,
			&l.ID, &l.Name, &l.Address, &l.City, &l.PostalCode, &l.State, &l.Country, &l.Coordinates.Latitude,
			&l.Coordinates.Longitude, &l.EVSEUID, &l.EVSEID, &l.ConnectorID, &l.ConnectorStandard, &l.ConnectorFormat,
			&l.ConnectorPowerType, &l.TimeZone, &c.MeterID, &c.Currency, &c.Remark, &c.InvoiceReferenceID,
			&c.CreditReferenceID} {
			*p = str[i].String
		}
		l.TariffIDs = tariffIDs
		var taxLines map[string][]taxJSON
		if taxes.Valid {
			if err := json.Unmarshal([]byte(taxes.String), &taxLines); err != nil {
				return fmt.Errorf("CDR %s: taxes: %w", id, err)
			}
		}
		price := func(name string, excl, incl nullDecimal) *ocpi.Price {
			if !excl.Valid {
				return nil
			}
			p := &ocpi.Price{ExclVAT: excl.Decimal, InclVAT: incl.NullDecimal}
			for _, t := range taxLines[name] {
				p.Taxes = append(p.Taxes, ocpi.TaxAmount(t))
			}
			return p
		}
		c.TotalCost = price("total_cost", dec[0], dec[1])
		c.TotalFixedCost = price("total_fixed_cost", dec[2], dec[3])
		c.TotalEnergy = dec[4].Decimal
		c.TotalEnergyCost = price("total_energy_cost", dec[5], dec[6])
		c.TotalTime = dec[7].Decimal
		c.TotalTimeCost = price("total_time_cost", dec[8], dec[9])
		c.TotalParkingTime = dec[10].NullDecimal
		c.TotalParkingCost = price("total_parking_cost", dec[11], dec[12])
		c.TotalReservationCost = price("total_reservation_cost", dec[13], dec[14])
		out[key] = &c
	}
	return rows.Err()
}

// periodsSQL is repricePeriods as it read through database/sql.
func periodsSQL(ctx context.Context, q querier, filter keyFilter, out map[int64]*ocpi.CDR) error {
	// Both sides are filtered: when the keys' blocks span the table (a
	// period's CDRs without charging periods, spread over every partner)
	// the join otherwise built on every dimension of the database (5 s
	// for 28 k keys of the 10 M month, against 1 s).
	rows, err := q.QueryContext(ctx, `SELECT p.cdr_key, p.period_index, p.start_date_time, p.tariff_id, d.type, d.volume
		FROM charging_periods p LEFT JOIN (SELECT * FROM cdr_dimensions_named WHERE `+filter("cdr_key")+`) d USING (cdr_key, period_index)
		WHERE `+filter("p.cdr_key")+` ORDER BY p.cdr_key, p.period_index, d.dimension_index`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key int64
		var idx int
		var start sql.NullTime
		var tariffID, typ sql.NullString
		var vol nullDecimal
		if err := rows.Scan(&key, &idx, &start, &tariffID, &typ, &vol); err != nil {
			return err
		}
		c := out[key]
		if c == nil {
			continue
		}
		if idx >= len(c.ChargingPeriods) {
			c.ChargingPeriods = append(c.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: utc(start), TariffID: tariffID.String})
		}
		if typ.Valid {
			p := &c.ChargingPeriods[len(c.ChargingPeriods)-1]
			p.Dimensions = append(p.Dimensions, ocpi.CDRDimension{Type: typ.String, Volume: vol.Decimal})
		}
	}
	return rows.Err()
}
