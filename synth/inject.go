package synth

import (
	"fmt"

	"github.com/roamsettle/roamsettle/ocpi"
)

// draft is one CDR on its way out: the amounts it will claim and its defects.
type draft struct {
	billed   priced
	mod      cdrMods
	dup      bool
	conflict *priced
	row      []string // ground-truth row, empty when clean
}

// session generates, prices and writes one session's CDR, with an injected
// error for a share of them.
func (g *generator) session(po *partyOut) error {
	p := po.party
	rng := g.rng
	c := p.conns[rng.IntN(len(p.conns))]
	s := &g.sess
	s.simulate(rng, p, c)
	t := c.tariff
	vi := t.versionAt(s.start)
	g.cuts = s.split(t, g.cuts)
	correct := g.pricer.price(s, t, &p.zone, p.cur.minor, correctOpts(vi))

	po.sum.Sessions++
	seq := po.sum.Sessions
	g.idBuf = append(g.idBuf[:0], po.idPref...)
	g.idBuf = append(g.idBuf, '-')
	for d := int64(10000000); d > 0; d /= 10 {
		g.idBuf = append(g.idBuf, byte('0'+int64(seq)/d%10))
	}
	m := cdrMeta{id: g.idBuf, tok: &g.tokens[rng.IntN(len(g.tokens))], conn: c,
		lastUpdated: s.end + 30 + rng.Int64N(7200)}
	switch {
	case p.version == ocpi.V211:
		m.authMethod = [2]string{"AUTH_REQUEST", "WHITELIST"}[rng.IntN(2)]
	case m.tok.typ == "APP_USER":
		m.authMethod = "COMMAND"
	default:
		m.authMethod = [2]string{"AUTH_REQUEST", "WHITELIST"}[rng.IntN(2)]
	}

	d := draft{billed: correct}
	credit := false
	if rng.IntN(1000) < g.cfg.ErrorPerMille {
		k0 := rng.IntN(len(ErrorKinds))
		for j := range ErrorKinds {
			k := (k0 + j) % len(ErrorKinds)
			if g.inject(ErrorKinds[k], po, t, vi, &m, &correct, &d) {
				g.kindCount[k]++
				break
			}
		}
	} else if p.version != ocpi.V211 && rng.IntN(1000) < g.cfg.CreditPerMille {
		credit = true
	}

	g.buf = appendCDR(g.buf[:0], p, t, s, &m, &d.billed, &d.mod)
	if err := g.write(po, g.buf); err != nil {
		return err
	}
	if d.row != nil {
		g.gt.Write(d.row)
	}
	if err := g.invoiceLine(po, string(m.id), d.billed.total, 1, d.row != nil && isAmountKind(d.row[3])); err != nil {
		return err
	}
	if d.dup {
		po.pending = append(po.pending, pending{due: seq + 1 + rng.IntN(20), line: append([]byte(nil), g.buf...)})
	}
	if d.conflict != nil {
		mod := cdrMods{lastUpdated: m.lastUpdated + 3600 + rng.Int64N(86400)}
		line := appendCDR(nil, p, t, s, &m, d.conflict, &mod)
		po.pending = append(po.pending, pending{due: seq + 1 + rng.IntN(20), line: line})
	}
	if credit {
		mod := cdrMods{credit: true, idSuffix: "-C", lastUpdated: m.lastUpdated + 86400*(1+rng.Int64N(10))}
		g.buf = appendCDR(g.buf[:0], p, t, s, &m, &correct, &mod)
		if err := g.write(po, g.buf); err != nil {
			return err
		}
		po.sum.CreditCDRs++
		if err := g.invoiceLine(po, string(m.id)+"-C", correct.total, -1, false); err != nil {
			return err
		}
	}
	// Copies that are due go out after this CDR.
	keep := po.pending[:0]
	for _, pd := range po.pending {
		if pd.due > seq {
			keep = append(keep, pd)
			continue
		}
		if err := g.write(po, pd.line); err != nil {
			return err
		}
	}
	po.pending = keep
	return nil
}

func (g *generator) write(po *partyOut, line []byte) error {
	if _, err := po.w.Write(line); err != nil {
		return fmt.Errorf("synth: %s: %w", po.sum.CDRFile, err)
	}
	po.sum.CDRLines++
	return nil
}

func exclField(v ocpi.Version) string {
	switch v {
	case ocpi.V211:
		return "total_cost"
	case ocpi.V221:
		return "total_cost.excl_vat"
	}
	return "total_cost.before_taxes"
}

// dateTimeString formats a Unix time as an OCPI DateTime without JSON quotes.
func dateTimeString(u int64) string {
	b := appendDateTime(nil, u)
	return string(b[1 : len(b)-1])
}

func minorString(v int64, minor int) string { return string(appendFixed(nil, v, minor)) }

// inject tries to give the CDR an error of kind k and reports whether it
// could: a kind that would not change what the CDR claims (a time-zone slip
// in a zone at UTC, a truncation that lands on the same cent) is refused so
// that every ground-truth row is a real, detectable difference.
func (g *generator) inject(k ErrorKind, po *partyOut, t *tariff, vi int, m *cdrMeta, correct *priced, d *draft) bool {
	p := po.party
	s := &g.sess
	rng := g.rng
	minor := p.cur.minor
	row := func(field, billed, right, note string) {
		d.row = []string{p.countryCode, p.partyID, string(m.id), string(k), field, billed, right, note}
	}
	reprice := func(o priceOpts) priced { return g.pricer.price(s, t, &p.zone, minor, o) }
	exclDiff := func(b priced, note string) bool {
		if b.total.excl == correct.total.excl {
			return false
		}
		d.billed = b
		row(exclField(p.version), minorString(b.total.excl, minor), minorString(correct.total.excl, minor), note)
		return true
	}

	switch k {
	case ErrWrongTariffVersion:
		if vi == 0 {
			return false
		}
		o := correctOpts(vi - 1)
		return exclDiff(reprice(o), fmt.Sprintf("tariff %s priced with the version of %s instead of %s",
			t.id, dateTimeString(t.versions[vi-1].lastUpdated), dateTimeString(t.versions[vi].lastUpdated)))

	case ErrWrongPrice:
		var dims []int
		for dim := range numDims {
			if correct.sub[dim].incl > 0 {
				dims = append(dims, dim)
			}
		}
		if len(dims) == 0 {
			return false
		}
		o := correctOpts(vi)
		o.priceDim = dims[rng.IntN(len(dims))]
		o.priceDelta = max(p.price([numDims]int64{1000, 200, 5000, 5000}[o.priceDim]), p.cur.gran)
		return exclDiff(reprice(o), fmt.Sprintf("%s price %s higher than the tariff's", dimNames[o.priceDim],
			string(appendTrimmed(nil, o.priceDelta, 4))))

	case ErrRounding:
		if correct.clamped {
			return false
		}
		o := correctOpts(vi)
		o.totalMode = roundTrunc
		if exclDiff(reprice(o), "total truncated to minor units instead of rounded half up") {
			return true
		}
		o = correctOpts(vi)
		o.perLine = true
		b := reprice(o)
		if diff := b.total.excl - correct.total.excl; diff != 1 && diff != -1 {
			return false // a per-line rounder can drift further; keep this kind to one minor unit
		}
		return exclDiff(b, "every line rounded to minor units before summing")

	case ErrVAT:
		if p.version == ocpi.V211 || !correct.total.taxed {
			return false
		}
		o := correctOpts(vi)
		rate := p.vat - 2
		o.vatOverride = rate
		b := reprice(o)
		field, billed, right := "total_cost.incl_vat", b.total.incl, correct.total.incl
		if p.version == ocpi.V230 {
			field, billed, right = "total_cost.taxes[0].amount", b.total.incl-b.total.excl, correct.total.incl-correct.total.excl
		}
		if billed == right {
			return false
		}
		d.billed = b
		row(field, minorString(billed, minor), minorString(right, minor),
			fmt.Sprintf("VAT %d%% applied instead of the tariff's rates", rate))
		return true

	case ErrTimeZone:
		if len(t.clockBounds) == 0 {
			return false
		}
		o := correctOpts(vi)
		o.utcClock = true
		return exclDiff(reprice(o), fmt.Sprintf("time-of-day and weekday restrictions evaluated in UTC instead of %s", p.timeZone))

	case ErrMissingFields:
		v211 := p.version == ocpi.V211
		switch rng.IntN(4) {
		case 0:
			d.mod.omitContract = true
			field := "cdr_token.contract_id"
			if v211 {
				field = "auth_id"
			}
			row(field, "", m.tok.contractID, "required field missing; non-blocking: pricing unaffected")
		case 1:
			d.mod.omitCurrency = true
			row("currency", "", p.cur.code, "required field missing; blocking: amounts cannot be read")
		case 2:
			d.mod.omitAddress = true
			field := "cdr_location.address"
			if v211 {
				field = "location.address"
			}
			row(field, "", m.conn.loc.address, "required field missing; non-blocking: pricing unaffected")
		default:
			d.mod.omitPeriods = true
			row("charging_periods", "", fmt.Sprintf("%d periods", len(s.periods)), "required field missing; blocking: nothing to re-price")
		}
		return true

	case ErrDuplicate:
		d.dup = true
		row("", "", "", "byte-identical copy of the CDR sent again")
		return true

	case ErrConflict:
		b := *correct
		delta := max(correct.total.excl/20, 1)
		b.total.excl += delta
		b.total.incl += delta
		d.conflict = &b
		row(exclField(p.version), minorString(b.total.excl, minor), minorString(correct.total.excl, minor),
			"a second CDR with the same id and a different body (the first one is right)")
		return true

	case ErrUnknownToken:
		uid := fmt.Sprintf("F%013X", rng.Uint64()>>12)
		d.mod.tokenUID = uid
		d.mod.contractID = fmt.Sprintf("%s-%s-X%08d", emspCountry, emspParty, rng.IntN(100000000))
		field, value := "cdr_token.uid", uid
		if p.version == ocpi.V211 {
			field, value = "auth_id", d.mod.contractID
		}
		row(field, value, "", "token not issued by the eMSP (absent from tokens.ndjson)")
		return true
	}
	return false
}
