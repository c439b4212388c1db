package settle

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

// priceReference prices the CDRs the kernel did not take, one by one, with
// the decimal reference (PriceBoth: the versions in effect and the
// embedded tariffs).
func (r *runner) priceReference() error {
	if len(r.refQueue) == 0 {
		return nil
	}
	keys := sortedKeys(r.refQueue)
	cdrs, embedded, err := r.loadForReference(keys)
	if err != nil {
		return wrap("load CDRs for the reference", ErrRead, r.opts.Run.ID(), err)
	}
	var need []int64
	for _, ks := range embedded {
		need = append(need, ks...)
	}
	slices.Sort(need)
	bodies, err := r.src.TariffBodies(r.ctx, need)
	if err != nil {
		return wrap("embedded tariffs", ErrRead, r.opts.Run.ID(), err)
	}
	history := func(cc, pid, id string) []ocpi.Tariff {
		o, ok := r.owners[NewParty(cc, pid)]
		if !ok {
			return nil
		}
		ri, ok := r.refIndex[refKey{o, ocpi.Key(id)}]
		if !ok || ri < 0 {
			return nil
		}
		return r.refs[ri].versions
	}
	for _, key := range keys {
		i := r.index(key)
		why := r.refQueue[key]
		msg, hasMsg := r.refMessage[key]
		if !hasMsg {
			msg = -1
		}
		cdr := cdrs[key]
		if cdr == nil {
			r.notPriceable(i, WhyRefError, r.messageCode(fmt.Sprintf("CDR key %d is in the scope but could not be loaded", key)))
			continue
		}
		for _, k := range embedded[key] {
			cdr.Tariffs = append(cdr.Tariffs, bodies[k])
		}
		conn := r.multiFallback[key]
		if ri := r.fallback[i]; ri >= 0 && len(r.refs[ri].versions) > 0 {
			conn = []string{r.refs[ri].versions[0].ID}
		}
		if m := r.blockedInEffect(cdr, conn, i); m >= 0 {
			r.notPriceable(i, WhyTariffBlocking, m)
			continue
		}
		pol := r.policies[r.owner[i]]
		priced, err := pricing.PriceBoth(cdr, history, conn, pricing.Options{TimeZone: r.zoneLocs[r.zone[i]], Policy: pol})
		if err != nil {
			// The reference's own message, beside the tariff's when the
			// kernel refused the tariff.
			text := "CDR " + ocpi.PartyKey(cdr.CountryCode, cdr.PartyID) + "*" + cdr.ID + ": " + err.Error()
			if msg >= 0 {
				text = r.messages[msg] + "; " + text
			}
			why := WhyRefError
			var np *pricing.NotPriceable
			if errors.As(err, &np) {
				why = string(np.Reason) // currency_mismatch, ambiguous_tariff
			}
			r.notPriceable(i, why, r.messageCode(text))
			continue
		}
		if priced.InEffect == nil {
			text := ""
			if len(priced.Missing) > 0 {
				text = fmt.Sprintf("no stored version of tariff %v was in effect at %s", priced.Missing, ocpi.FormatDateTime(cdr.StartDateTime))
			}
			r.notPriceable(i, WhyNoVersion, r.messageCode(text))
			continue
		}
		res := priced.InEffect
		r.sum.Reference++
		r.sum.ReferenceWhy[why]++
		r.sum.Periods += int64(len(cdr.ChargingPeriods))
		tot := &res.Totals
		var totals [NumTotals]int64
		for c, a := range []pricing.Amount{tot.TotalCost, tot.TotalFixedCost, tot.TotalEnergyCost, tot.TotalTimeCost, tot.TotalParkingCost, tot.TotalReservationCost} {
			totals[2*c], totals[2*c+1] = reconcile.Micro(a.Excl), reconcile.Micro(a.Incl)
		}
		var emb *[2]int64
		if priced.Embedded != nil && r.emb[i] >= 0 {
			emb = &[2]int64{reconcile.Micro(priced.Embedded.Totals.TotalCost.Excl), reconcile.Micro(priced.Embedded.Totals.TotalCost.Incl)}
		}
		ti := int32(-1)
		if ids := pricing.TariffIDs(cdr, conn); len(ids) > 0 {
			if ri := r.refFor(r.refCacheP, r.owner[i], ids[0]); ri >= 0 {
				ti = r.inEffect(ri, cdr.StartDateTime.Unix())
			}
		}
		if !hasMsg && ti >= 0 {
			msg = r.tariffMsg[ti]
		}
		flags := int32(res.Flags()) // as the kernel flags: expired, unverifiable, taxes not computable, ...
		r.appendRow(i, PricedOK, why, msg, ByReference, ti, flags, &totals, emb, r.zones, res.MinorUnits)
		if r.opts.Lines {
			l := &r.buf.lines
			for _, ln := range res.Lines {
				l.CDRKey, l.Period, l.Dimension, l.Element = append(l.CDRKey, key), append(l.Period, uint16(ln.Period)), append(l.Dimension, DimensionCodes[ln.Dimension]), append(l.Element, uint16(ln.Element))
				l.Quantity, l.Billed, l.UnitPrice = append(l.Quantity, reconcile.Micro(ln.Quantity)), append(l.Billed, reconcile.Micro(ln.Billed)), append(l.UnitPrice, reconcile.Micro(ln.UnitPrice))
				l.VAT, l.VATValid = append(l.VAT, reconcile.Micro(ln.VAT.Decimal)), append(l.VATValid, ln.VAT.Valid)
				l.Excl, l.Incl = append(l.Excl, ln.Amount.Excl.Shift(LineScale).Round(0).IntPart()), append(l.Incl, ln.Amount.Incl.Shift(LineScale).Round(0).IntPart())
			}
		}
	}
	return nil
}

// blockedInEffect returns the message of a version in effect for the CDR
// (of the tariffs it names, else its connector's) that has a finding that
// blocks pricing, or -1: PriceBoth would price with what is left of it.
func (r *runner) blockedInEffect(cdr *ocpi.CDR, conn []string, i int) int32 {
	for _, id := range pricing.TariffIDs(cdr, conn) {
		if ri := r.refFor(r.refCacheP, r.owner[i], id); ri >= 0 {
			if ti := r.inEffect(ri, cdr.StartDateTime.Unix()); ti >= 0 && r.blocked[ti] >= 0 {
				return r.blocked[ti]
			}
		}
	}
	return -1
}

// loadForReference loads the CDRs queued for the reference: those the
// period scan found no period of without periods, the others with theirs.
func (r *runner) loadForReference(keys []int64) (map[int64]*ocpi.CDR, map[int64][]int64, error) {
	var without, with []int64
	for _, k := range keys {
		if r.refQueue[k] == RefNoPeriods {
			without = append(without, k)
		} else {
			with = append(with, k)
		}
	}
	cdrs, embedded := map[int64]*ocpi.CDR{}, map[int64][]int64{}
	for _, part := range []struct {
		keys    []int64
		periods bool
	}{{without, false}, {with, true}} {
		if len(part.keys) == 0 {
			continue
		}
		c, e, err := r.src.CDRs(r.ctx, part.keys, part.periods)
		if err != nil {
			return nil, nil, err
		}
		maps.Copy(cdrs, c)
		maps.Copy(embedded, e)
	}
	return cdrs, embedded, nil
}
