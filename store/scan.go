package store

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/roamsettle/roamsettle/pricing"
)

// PeriodColumns are the columns of the record batches ScanPeriods hands
// out: pricing.PeriodColumns, the one definition (pricing's ArrowBuilder
// reads them by name; TestScanPeriods checks the scan produces them). One
// row per charging period, ordered by (cdr_key, period_index); volumes are
// int64 millionths of their OCPI unit (kWh, h, A, kW), null when the period
// has no such dimension. A period that repeats a dimension type
// (malformed) has its ENERGY and *_TIME volumes summed, MIN_* the least and
// MAX_* the greatest.
var PeriodColumns = pricing.PeriodColumns

// VolumeScale is the fixed-point scale of ScanPeriods' volume columns.
const VolumeScale = 1_000_000

// The periods table is appended in (cdr_key, period_index) order and DuckDB
// preserves insertion order, so no sort is needed.
const scanPeriodsSQL = `
SELECT cdr_key, period_index, start_date_time, end_date_time, tariff_id,
	CAST(energy * 1000000 AS BIGINT) AS energy,
	CAST(time * 1000000 AS BIGINT) AS time,
	CAST(parking_time * 1000000 AS BIGINT) AS parking_time,
	CAST(reservation_time * 1000000 AS BIGINT) AS reservation_time,
	CAST(min_current * 1000000 AS BIGINT) AS min_current,
	CAST(max_current * 1000000 AS BIGINT) AS max_current,
	CAST(min_power * 1000000 AS BIGINT) AS min_power,
	CAST(max_power * 1000000 AS BIGINT) AS max_power
FROM charging_periods`

// ScanPeriods streams every charging period with its dimension volumes to fn
// in Arrow record batches (schema: PeriodColumns). A batch is released when
// fn returns: fn must Retain it to keep it, and copy strings it keeps
// (array.String.Value aliases the batch's memory). An error from fn stops the scan
// and is returned.
func (s *Store) ScanPeriods(ctx context.Context, fn func(arrow.RecordBatch) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return errorf("scan periods", "", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err := ar.QueryContext(ctx, scanPeriodsSQL)
		if err != nil {
			return err
		}
		defer rr.Release()
		if got := rr.Schema().NumFields(); got != len(PeriodColumns) {
			return fmt.Errorf("period batches have %d columns, want %d", got, len(PeriodColumns))
		}
		for rr.Next() {
			if err := fn(rr.RecordBatch()); err != nil {
				return err
			}
		}
		return rr.Err()
	})
	return errorf("scan periods", "", err)
}
