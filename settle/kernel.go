package settle

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/roamsettle/roamsettle/pricing"
)

// scan streams the periods of the scope's CDRs through the kernel: of
// its key range, chunk by chunk, or, for a sparse scope, of the ranges its
// keys fall in (keyRanges).
func (r *runner) scan(maxKey int64) error {
	ab := &pricing.ArrowBuilder{Lookup: r.lookup}
	each := func(fn func(lo, hi int64, only *Selection) error) error {
		return eachKeyChunk(r.minKey, maxKey, func(lo, hi int64) error { return fn(lo, hi, nil) })
	}
	if r.keys != nil {
		each = func(fn func(lo, hi int64, only *Selection) error) error {
			for _, kr := range keyRanges(r.keys, keyGap, keyChunk) {
				only := r.sel
				if !sparse(kr.n, kr.lo, kr.hi) {
					only = nil
				}
				if err := fn(kr.lo, kr.hi, only); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// A CDR's periods share its key, so none spans two ranges.
	err := each(func(lo, hi int64, only *Selection) error {
		err := r.src.ScanPeriodRange(r.ctx, only, lo, hi, func(rec arrow.RecordBatch) error {
			if err := ab.Append(rec); err != nil {
				return err
			}
			if b := ab.Ready(); len(b.CDRStart) >= r.opts.BatchCDRs {
				if err := r.priceBatch(b, ab.Skipped); err != nil {
					return err
				}
				ab.Next()
			}
			return nil
		})
		return wrap("scan periods", ErrRead, r.opts.Run.ID(), err)
	})
	if err != nil {
		return err
	}
	return r.priceBatch(ab.Finish(), ab.Skipped)
}

// sparse reports whether a scope of n CDRs holds fewer than half of the
// keys of its range [minKey, maxKey]. Its arrays then hold one entry per
// CDR, and its periods are read by the ranges its keys fall in, each
// (when sparse too) asking for the selection's CDRs only: reading its
// whole key range, a day of an interleaved 1 M-CDR month read the month's
// 2.1 M periods (2.3 s CPU, 510 MB) to price 70 k, and a month with a
// late CDR stored a year later would read the year's.
func sparse(n, minKey, maxKey int64) bool {
	return n < (maxKey-minKey+1)/2
}

// keyGap is the gap between two keys of a sparse scope beyond which their
// periods are read by two queries rather than one: about a row group of
// charging periods (122,880 rows, ~2 per CDR).
const keyGap = 1 << 16

// keyRange is a range of keys and how many of the scope's CDRs it holds.
type keyRange struct {
	lo, hi, n int64
}

// keyRanges groups sorted keys into ranges: a new one begins after a gap
// wider than gap, or when the range would span more than span keys.
func keyRanges(keys []int64, gap, span int64) []keyRange {
	var out []keyRange
	for _, k := range keys {
		if l := len(out) - 1; l >= 0 && k-out[l].hi <= gap && k-out[l].lo < span {
			out[l].hi, out[l].n = k, out[l].n+1
			continue
		}
		out = append(out, keyRange{k, k, 1})
	}
	return out
}

func (r *runner) priceBatch(b *pricing.Batch, skipped []pricing.Skipped) error {
	for _, s := range skipped {
		if s.Reason == pricing.SkipNoHeader {
			continue // out of scope, or decided by lookup
		}
		r.toReference(s.Key, s.Reason.String())
	}
	n, m := len(b.CDRStart), len(b.PeriodStart)
	if n == 0 {
		return nil
	}
	if r.out == nil || len(r.out.Status) < n || (r.opts.Lines && len(r.out.LineElement) < m*4) {
		r.out = pricing.NewOutput(n+n/4, m+m/4, r.opts.Lines)
	}
	zones := r.zones
	b.Zones = r.zoneLocs
	if err := pricing.RunParallel(b, r.compiled, r.out, r.opts.Workers); err != nil {
		return wrap("kernel", ErrOther, r.opts.Run.ID(), err)
	}
	// The same batch with the embedded tariffs, when any CDR has one.
	r.embT = r.embT[:0]
	anyEmb := false
	for i := 0; i < n; i++ {
		k := r.index(b.Key[i])
		e := r.emb[k]
		if e >= 0 && pricing.CheckCurrency("", r.currencies[r.currency[k]], r.tariffs[e].ID, r.tariffs[e].Currency) != nil {
			e = -1 // an embedded tariff in another currency prices nothing
		}
		r.embT = append(r.embT, e)
		anyEmb = anyEmb || e >= 0
	}
	if anyEmb {
		if r.embO == nil || len(r.embO.Status) < n {
			r.embO = pricing.NewOutput(n*5/4, 0, false)
		}
		eb := *b
		eb.Tariff = r.embT
		if err := pricing.RunParallel(&eb, r.compiled, r.embO, r.opts.Workers); err != nil {
			return wrap("kernel", ErrOther, r.opts.Run.ID(), err)
		}
	}
	out := r.out
	var totals [NumTotals]int64
	for i := 0; i < n; i++ {
		key := b.Key[i]
		k := r.index(key)
		if out.Status[i] != pricing.StatusOK {
			r.toReference(key, RefOverflow)
			continue
		}
		r.state[k] = hDone
		r.sum.Kernel++
		p0, p1 := int(b.PeriodOffsets[i]), int(b.PeriodOffsets[i+1])
		r.sum.Periods += int64(p1 - p0)
		totals[0], totals[1] = kernelMoney(out.TotalExcl[i]), kernelMoney(out.TotalIncl[i])
		for bk := 0; bk < 5; bk++ {
			totals[2+2*bk], totals[3+2*bk] = kernelMoney(out.BucketExcl[i*5+bk]), kernelMoney(out.BucketIncl[i*5+bk])
		}
		var emb *[2]int64
		if e := r.embT[i]; e >= 0 && r.embO.Status[i] == pricing.StatusOK {
			emb = &[2]int64{kernelMoney(r.embO.TotalExcl[i]), kernelMoney(r.embO.TotalIncl[i])}
		}
		ti := b.Tariff[i]
		r.appendRow(k, PricedOK, "", r.tariffMsg[ti], ByKernel, ti, int32(out.Flags[i]), &totals, emb, zones, r.minor[ti])
		if r.opts.Lines {
			r.kernelLines(b, key, ti, p0, p1)
		}
	}
	if r.buf.rows.Len() >= writeRows || r.buf.lines.Len() >= 4*writeRows {
		return r.flush()
	}
	return nil
}

// kernelMoney converts a kernel amount (1e-10) to millionths. Totals are
// rounded to minor units (at most 4 decimals) by every policy a run
// accepts, so the division is exact; anything else is rounded half away
// from zero.
func kernelMoney(v int64) int64 {
	q, rem := v/10000, v%10000
	if rem >= 5000 {
		q++
	} else if rem <= -5000 {
		q--
	}
	return q
}

// kernelDims are the line codes of the kernel's four dimensions, in its
// order (FLAT, ENERGY, TIME, PARKING_TIME).
var kernelDims = [4]uint8{DimFlat, DimEnergy, DimTime, DimParkingTime}

func (r *runner) kernelLines(b *pricing.Batch, key int64, ti int32, p0, p1 int) {
	out, units, l := r.out, r.units[ti], &r.buf.lines
	for p := p0; p < p1; p++ {
		resv := b.Has[p]&pricing.HasReservation != 0
		for d := 0; d < 4; d++ {
			li := p*4 + d
			el := out.LineElement[li]
			if el < 0 {
				continue
			}
			var q int64
			code := kernelDims[d]
			switch d {
			case 0:
				q = 1_000_000
			case 1:
				q = max(b.EnergyMilliWh[p], 0)
			case 2:
				q = b.TimeS[p] * 1_000_000
				if resv {
					q, code = b.ReservationS[p]*1_000_000, DimReservationTime
				}
			case 3:
				q = b.ParkingS[p] * 1_000_000
			}
			billed := out.LineBilled[li]
			if d != 1 {
				billed *= 1_000_000
			}
			u := units[int(el)*4+d]
			l.CDRKey = append(l.CDRKey, key)
			l.Period = append(l.Period, uint16(p-p0))
			l.Dimension = append(l.Dimension, code)
			l.Element = append(l.Element, uint16(el))
			l.Quantity = append(l.Quantity, q)
			l.Billed = append(l.Billed, billed)
			l.UnitPrice = append(l.UnitPrice, u.price)
			l.VAT, l.VATValid = append(l.VAT, u.vat), append(l.VATValid, u.vatValid)
			l.Excl, l.Incl = append(l.Excl, out.LineExcl[li]), append(l.Incl, out.LineIncl[li])
		}
	}
}
