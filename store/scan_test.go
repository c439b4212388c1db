package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/go-cmp/cmp"
	"github.com/roamsettle/roamsettle/ocpi"
)

type periodRow struct {
	CDRKey, Index int64
	Start, End    time.Time
	TariffID      string
	Volumes       map[string]int64
}

func TestScanPeriods(t *testing.T) {
	s := openMem(t)
	save(t, s, recvCDR(sampleCDR("A"), "a", 0), recvCDR(sampleCDR("B"), "b", 1),
		recvRejected("x", 2, ocpi.Problem{Rule: ocpi.RuleSyntax}))
	var got []periodRow
	err := s.ScanPeriods(context.Background(), func(rec arrow.RecordBatch) error {
		for i, name := range PeriodColumns {
			if rec.Schema().Field(i).Name != name {
				t.Fatalf("column %d is %s, want %s", i, rec.Schema().Field(i).Name, name)
			}
		}
		ts := func(c int, i int) time.Time {
			return rec.Column(c).(*array.Timestamp).Value(i).ToTime(arrow.Microsecond).UTC()
		}
		for i := range int(rec.NumRows()) {
			r := periodRow{
				CDRKey:  rec.Column(0).(*array.Int64).Value(i),
				Index:   int64(rec.Column(1).(*array.Uint16).Value(i)),
				Start:   ts(2, i),
				End:     ts(3, i),
				Volumes: map[string]int64{},
			}
			if tid := rec.Column(4).(*array.String); tid.IsValid(i) {
				r.TariffID = strings.Clone(tid.Value(i)) // Value aliases the batch's memory
			}
			for c := 5; c < len(PeriodColumns); c++ {
				if col := rec.Column(c).(*array.Int64); col.IsValid(i) {
					r.Volumes[PeriodColumns[c]] = col.Value(i)
				}
			}
			got = append(got, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d periods, want 6", len(got))
	}
	want := []periodRow{
		{1, 0, t0, t0.Add(30 * time.Minute), "12", map[string]int64{"energy": 5_432_100, "time": 500_000, "max_current": 32_000_000}},
		{1, 1, t0.Add(30 * time.Minute), t0.Add(90 * time.Minute), "12", map[string]int64{"energy": 10_001_200, "time": 1_000_000, "max_power": 22_080_000}},
		{1, 2, t0.Add(90 * time.Minute), t0.Add(2 * time.Hour), "", map[string]int64{"parking_time": 500_000, "energy": 0, "min_current": -1_500_000}},
	}
	if diff := cmp.Diff(want, got[:3]); diff != "" {
		t.Errorf("periods of the first CDR (-want +got):\n%s", diff)
	}
	if got[3].CDRKey != 2 || got[5].Index != 2 {
		t.Errorf("second CDR periods out of order: %+v", got[3:])
	}
}

func TestPivotVolumes(t *testing.T) {
	dims := func(kv ...string) []ocpi.CDRDimension {
		var ds []ocpi.CDRDimension
		for i := 0; i < len(kv); i += 2 {
			ds = append(ds, ocpi.CDRDimension{Type: kv[i], Volume: d(kv[i+1])})
		}
		return ds
	}
	for _, tc := range []struct {
		name string
		in   []ocpi.CDRDimension
		want map[int]int64
		ok   bool
	}{
		{"one of each", dims("ENERGY", "1.5", "TIME", "0.25", "MIN_POWER", "3"), map[int]int64{0: 1_500_000, 1: 250_000, 6: 3_000_000}, true},
		{"repeated energy adds up", dims("ENERGY", "1", "ENERGY", "2.000001"), map[int]int64{0: 3_000_001}, true},
		{"repeated min and max", dims("MIN_CURRENT", "6", "MIN_CURRENT", "-2", "MAX_POWER", "11", "MAX_POWER", "22"), map[int]int64{4: -2_000_000, 7: 22_000_000}, true},
		{"not pivoted", dims("FLAT", "1", "STATE_OF_CHARGE", "80"), map[int]int64{}, true},
		{"sum beyond the schema", dims("TIME", "999999999999", "TIME", "1"), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := pivotVolumes(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			got := map[int]int64{}
			for i := range p.v {
				if p.set[i] {
					got[i] = p.v[i]
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
