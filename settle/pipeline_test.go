package settle

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/roamsettle/roamsettle/ocpi"
)

// loadAhead yields every chunk in order, and whatever stops it (a load's
// error, yield's, the context) it returns only once no load runs.
func TestLoadAhead(t *testing.T) {
	keys := make([]int64, 10)
	for i := range keys {
		keys[i] = int64(i)
	}
	var running, loads atomic.Int32
	errLoad, errYield := errors.New("load failed"), errors.New("yield failed")
	load := func(failAt int) func(context.Context, []int64) ([]*ocpi.CDR, map[string]ocpi.Problems, error) {
		return func(ctx context.Context, ks []int64) ([]*ocpi.CDR, map[string]ocpi.Problems, error) {
			running.Add(1)
			defer running.Add(-1)
			if int(loads.Add(1)) == failAt {
				return nil, nil, errLoad
			}
			var cdrs []*ocpi.CDR
			for _, k := range ks {
				cdrs = append(cdrs, &ocpi.CDR{ID: fmt.Sprint(k)})
			}
			return cdrs, nil, ctx.Err()
		}
	}
	for _, tc := range []struct {
		name         string
		failLoad     int // the load that fails (1-based; 0: none)
		failYield    int // the chunk yield fails on (1-based; 0: none)
		cancelAt     int // the chunk after which the context is cancelled
		want         string
		wantErr      error
		wantMaxLoads int32
	}{
		{name: "all", want: "0,1,2|3,4,5|6,7,8|9|", wantMaxLoads: 4},
		{name: "a load fails", failLoad: 2, want: "0,1,2|", wantErr: errLoad, wantMaxLoads: 2},
		{name: "yield fails", failYield: 1, want: "0,1,2|", wantErr: errYield, wantMaxLoads: 3},
		{name: "cancelled", cancelAt: 2, want: "0,1,2|3,4,5|", wantErr: context.Canceled, wantMaxLoads: 4},
	} {
		loads.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		got, chunk := "", 0
		err := loadAhead(ctx, keys, 3, load(tc.failLoad), func(cdrs []*ocpi.CDR, _ map[string]ocpi.Problems) error {
			chunk++
			for i, c := range cdrs {
				if i > 0 {
					got += ","
				}
				got += c.ID
			}
			got += "|"
			if chunk == tc.cancelAt {
				cancel()
			}
			if chunk == tc.failYield {
				return errYield
			}
			return nil
		})
		cancel()
		if got != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: yielded %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
		if n := running.Load(); n != 0 {
			t.Errorf("%s: %d loads still running after the return", tc.name, n)
		}
		if n := loads.Load(); n > tc.wantMaxLoads {
			t.Errorf("%s: %d loads, at most %d expected", tc.name, n, tc.wantMaxLoads)
		}
	}
}

// The screen's pipe screens batches in order; after the screen fails,
// sending returns its error, and every batch is released either way.
func TestScreenPipe(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	batch := func(v int64) arrow.RecordBatch {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.Append(v)
		col := b.NewArray()
		defer col.Release()
		schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil)
		return array.NewRecordBatch(schema, []arrow.Array{col}, 1)
	}
	errScreen := errors.New("screen failed")
	for _, failAt := range []int64{0, 3} {
		var seen []int64
		p := startScreenPipe(func(b screenBatch) error {
			if b.kind == batchRange {
				return nil
			}
			v := b.rec.Column(0).(*array.Int64).Value(0)
			seen = append(seen, v)
			if v == failAt {
				return errScreen
			}
			return nil
		})
		var sendErr error
		for v := int64(1); v <= 200 && sendErr == nil; v++ {
			if v%50 == 1 {
				sendErr = p.send(screenBatch{kind: batchRange})
			}
			rec := batch(v)
			if sendErr == nil {
				sendErr = p.sender(batchCDRs)(rec) // retains it
			}
			rec.Release() // as the store's reader does
		}
		err := p.close(nil)
		if failAt == 0 {
			if err != nil || sendErr != nil || len(seen) != 200 || seen[0] != 1 || seen[199] != 200 {
				t.Errorf("no failure: %v, %v, %d screened", err, sendErr, len(seen))
			}
			continue
		}
		if !errors.Is(err, errScreen) || len(seen) != int(failAt) {
			t.Errorf("failing at %d: %v, screened %v", failAt, err, seen)
		}
	}
}

// A partner's step finishes the run's screen of its CDRs only while they
// are those screened: a CDR stored since (more CDRs, a newer key) screens
// them again. Each screen is taken once.
func TestPrescreenTake(t *testing.T) {
	ctx := context.Background()
	a, b := NewParty("NL", "AAA"), NewParty("DE", "BBB")
	at := time.Date(2025, 10, 7, 12, 0, 0, 0, time.UTC)
	cdr := func(p Party, id string) *ocpi.CDR {
		return &ocpi.CDR{CountryCode: p.CountryCode, PartyID: p.PartyID, ID: id, StartDateTime: at, EndDateTime: at.Add(time.Hour)}
	}
	src := &fakeStore{cdrs: []fakeCDR{{key: 10, cdr: cdr(a, "A1")}, {key: 11, cdr: cdr(b, "B1")}, {key: 12, cdr: cdr(a, "A2")}}}
	sel := func(p Party) *Selection {
		s := Scope{Period: Month(2025, 10), Partner: p}.Selection(nil)
		return &s
	}
	screened := func(p Party, seen, last int64) *ownerInput {
		return &ownerInput{sel: *sel(p), seen: seen, lastKey: last}
	}
	pre := &Prescreen{owners: map[Party]*ownerInput{a: screened(a, 2, 12), b: screened(b, 1, 10)}}
	if ins, stale, err := pre.take(ctx, src, sel(a)); err != nil || stale || len(ins) != 1 || ins[0].sel.Owner != a {
		t.Errorf("as screened: %v, stale %v, %v", ins, stale, err)
	}
	if ins, stale, err := pre.take(ctx, src, sel(a)); err != nil || stale || ins != nil {
		t.Errorf("taken twice: %v, stale %v, %v", ins, stale, err)
	}
	if ins, stale, err := pre.take(ctx, src, sel(b)); err != nil || !stale || ins != nil {
		t.Errorf("a CDR stored since the screen: %v, stale %v, %v", ins, stale, err)
	}
	if ins, stale, err := pre.take(ctx, src, sel(NewParty("FR", "CCC"))); err != nil || stale || ins != nil {
		t.Errorf("an owner not screened: %v, stale %v, %v", ins, stale, err)
	}
	var none *Prescreen
	if ins, stale, err := none.take(ctx, src, sel(a)); err != nil || stale || ins != nil {
		t.Errorf("no screen: %v, stale %v, %v", ins, stale, err)
	}
}
