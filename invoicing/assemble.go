package invoicing

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// ErrInput: an input CDR cannot be invoiced as given.
var ErrInput = errors.New("invalid invoicing input")

// InputError names the CDR, the field and the rule it breaks.
type InputError struct {
	CDR   string // "CC*PID*ID"
	Field string // "charges[2].taxes[0].name"
	Rule  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("invoicing: CDR %s: %s: %s", e.CDR, e.Field, e.Rule)
}

func (e *InputError) Unwrap() error { return ErrInput }

// maxInputErrors bounds how many input errors one call reports.
const maxInputErrors = 20

// InputRef is one row of an issued document's input snapshot: a CDR, what
// proves which CDR it was, and what it contributed.
type InputRef struct {
	Line                     int // the document line charging it; 0: disputed, not charged
	CountryCode, PartyID, ID string
	BodySHA256               [32]byte
	Tariff                   TariffVersion
	PricingPolicy            string
	Net                      Amount // its charges in that line, exact, before tax
	Disputed                 bool
}

// draft is one currency's assembly of a partner's period.
type draft struct {
	cfg        Config
	period     Period
	currency   string
	digits     int
	cdrs       []*CDR   // the currency's CDRs, sorted by identity
	day        []uint16 // per CDR of cdrs: the day of its end in the period (index into days)
	periodDays []Date   // the period's days in its zone
	lines      []*lineAcc
	disputes   []Disputed
	summary    Summary
}

// lineAcc accumulates one line.
type lineAcc struct {
	Line
	comps    [6]sum128 // by componentIndex
	taxExact []sum128  // per Line.Taxes entry
	members  []int32   // indices into draft.cdrs
	nets     []Amount  // per member: its exact net in this line
	hash     hash.Hash
}

// assemble validates the CDRs and builds one draft per currency, ordered
// by currency code. Every result depends only on the inputs' values, not
// on their order.
func assemble(cfg Config, period Period, cdrs []CDR) ([]*draft, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if period.Name == "" || !period.From.Before(period.To) {
		return nil, fmt.Errorf("%w: period %q [%s, %s) is empty", ErrInput, period.Name, period.From, period.To)
	}
	sorted := make([]*CDR, len(cdrs))
	for i := range cdrs {
		sorted[i] = &cdrs[i]
	}
	slices.SortFunc(sorted, func(a, b *CDR) int {
		return cmp.Or(strings.Compare(a.CountryCode, b.CountryCode), strings.Compare(a.PartyID, b.PartyID),
			strings.Compare(a.ID, b.ID))
	})
	var errs []error
	fail := func(c *CDR, field, rule string) {
		if len(errs) < maxInputErrors {
			errs = append(errs, &InputError{CDR: c.Key(), Field: field, Rule: rule})
		}
	}
	byCurrency := map[string]*draft{}
	groups := map[groupID]*lineAcc{}
	var sets []chargeSet
	taxes := taxSets{cfg: cfg}
	days, dayStarts := periodDays(period)
	tariffKeys := map[*TariffVersion]string{} // by the shared version: a pointer hashes faster than its strings
	var scratch []byte
	for i, c := range sorted {
		if i > 0 && sorted[i-1].CountryCode == c.CountryCode && sorted[i-1].PartyID == c.PartyID && sorted[i-1].ID == c.ID {
			fail(c, "id", "the same CDR is given twice")
			continue
		}
		if !validCDR(c, period, fail) {
			continue
		}
		d := byCurrency[c.Currency]
		if d == nil {
			digits, _ := ocpi.CurrencyMinorUnits(c.Currency)
			d = &draft{cfg: cfg, period: period, currency: c.Currency, digits: digits, periodDays: days}
			byCurrency[c.Currency] = d
		}
		idx := int32(len(d.cdrs))
		d.cdrs = append(d.cdrs, c)
		day, _ := slices.BinarySearchFunc(dayStarts, c.End, func(start, end time.Time) int {
			if start.After(end) {
				return 1
			}
			return -1
		})
		d.day = append(d.day, uint16(day-1))
		d.summary.CDRs++
		if c.Dispute != nil {
			d.summary.Disputed++
			continue
		}
		d.summary.Accepted++
		tariffKey, ok := tariffKeys[c.Tariff]
		if !ok {
			tariffKey = c.tariff().Key()
			tariffKeys[c.Tariff] = tariffKey
		}
		sets = taxes.split(c.Charges, sets[:0])
		for si := range sets {
			s := &sets[si]
			id := groupID{currency: c.Currency, cc: c.CountryCode, pid: c.PartyID, object: c.place().ID, tariff: tariffKey, taxes: s.key}
			if cfg.Grouping == PerCDR {
				id.object, id.tariff = c.ID, ""
			}
			acc := groups[id]
			if acc == nil {
				acc = newLine(cfg, period, c, lineKey(cfg, c, tariffKey, s.key), s.taxes)
				groups[id] = acc
				d.lines = append(d.lines, acc)
			}
			var net sum128
			for _, ch := range s.charges {
				acc.comps[componentIndex(ch.Component)].add(ch.Excl)
				net.add(ch.Excl)
				for _, t := range ch.Taxes {
					acc.taxExact[slices.IndexFunc(s.taxes, func(lt LineTax) bool { return lt.matches(t) })].add(t.Amount)
				}
			}
			if !net.fits() {
				fail(c, "charges", "the charges' sum is out of range")
				continue
			}
			acc.Sessions++
			if si == s.energyLine {
				acc.Energy += c.Energy
			}
			start, end := c.Start.UTC(), c.End.UTC()
			if acc.From.IsZero() || start.Before(acc.From) {
				acc.From = start
			}
			if end.After(acc.To) {
				acc.To = end
			}
			acc.members = append(acc.members, idx)
			acc.nets = append(acc.nets, Amount(net.lo))
			scratch = writeContribution(acc.hash, scratch[:0], c, tariffKey, s.charges)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make([]*draft, 0, len(byCurrency))
	for _, d := range byCurrency {
		if err := d.finish(); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *draft) int { return strings.Compare(a.currency, b.currency) })
	return out, nil
}

func validCDR(c *CDR, period Period, fail func(*CDR, string, string)) bool {
	ok := true
	bad := func(field, rule string) { fail(c, field, rule); ok = false }
	if c.CountryCode == "" || c.PartyID == "" || c.ID == "" {
		bad("id", "country_code, party_id and id are required")
	}
	digits, known := ocpi.CurrencyMinorUnits(c.Currency)
	if !known {
		bad("currency", fmt.Sprintf("%q is not an ISO 4217 currency with minor units", c.Currency))
	} else if digits > 4 {
		bad("currency", "more than 4 minor units")
	}
	if c.End.Before(period.From) || !c.End.Before(period.To) {
		bad("end_date_time", fmt.Sprintf("%s is outside period %s", c.End.UTC().Format(time.RFC3339), period.Name))
	}
	if c.Start.After(c.End) {
		bad("start_date_time", "after end_date_time")
	}
	if c.Dispute != nil {
		if c.Dispute.Verdict == "" {
			bad("dispute.verdict", "required for a disputed CDR")
		}
		return ok
	}
	if len(c.Charges) == 0 {
		bad("charges", "an accepted CDR needs at least one charge")
	}
	for i, ch := range c.Charges {
		if componentIndex(ch.Component) < 0 {
			bad(fmt.Sprintf("charges[%d].component", i), fmt.Sprintf("unknown component %q", ch.Component))
		}
		for j, t := range ch.Taxes {
			if strings.TrimSpace(t.Name) == "" {
				bad(fmt.Sprintf("charges[%d].taxes[%d].name", i, j), "a tax needs a name")
			}
			if t.HasRate && t.Rate < 0 {
				bad(fmt.Sprintf("charges[%d].taxes[%d].rate", i, j), "negative rate")
			}
		}
	}
	return ok
}

// periodDays returns the period's days in its zone and the instant each
// starts (DST days last 23 or 25 hours, so days are not counted in hours).
func periodDays(p Period) ([]Date, []time.Time) {
	zone := p.From.Location()
	var days []Date
	var starts []time.Time
	y, m, d := p.From.In(zone).Date()
	for i := 0; ; i++ {
		start := time.Date(y, m, d+i, 0, 0, 0, 0, zone)
		if i > 0 && !start.Before(p.To) {
			break
		}
		if i == 0 {
			start = p.From
		}
		days = append(days, DateOf(start.In(zone)))
		starts = append(starts, start)
	}
	return days, starts
}

// chargeSet is the charges of one CDR under one tax set.
type chargeSet struct {
	key        string
	taxes      []LineTax
	charges    []Charge
	energyLine int // index of the set that carries the CDR's energy volume
}

// groupID identifies a line while assembling: per CDR (object is the CDR
// id) or per location (object) and tariff version.
type groupID struct {
	currency, cc, pid, object, tariff, taxes string
}

// taxSets maps a charge's taxes to its line tax set and key, caching the
// common single-tax sets (formatting them per charge cost more than the
// rest of the assembly).
type taxSets struct {
	cfg    Config
	single map[Tax]taxSet
	none   *taxSet
}

type taxSet struct {
	taxes []LineTax
	key   string
}

func (ts *taxSets) get(taxes []Tax) taxSet {
	switch len(taxes) {
	case 0:
		if ts.none == nil {
			lt := lineTaxes(ts.cfg, nil)
			ts.none = &taxSet{lt, taxSetKey(lt)}
		}
		return *ts.none
	case 1:
		k := taxes[0]
		k.Amount = 0
		if set, ok := ts.single[k]; ok {
			return set
		}
		lt := lineTaxes(ts.cfg, taxes)
		set := taxSet{lt, taxSetKey(lt)}
		if ts.single == nil {
			ts.single = map[Tax]taxSet{}
		}
		ts.single[k] = set
		return set
	}
	lt := lineTaxes(ts.cfg, taxes)
	return taxSet{lt, taxSetKey(lt)}
}

// split groups a CDR's charges by their tax set (name, category, rate of
// each tax). Almost every CDR has one set.
func (ts *taxSets) split(charges []Charge, sets []chargeSet) []chargeSet {
	energyAt := -1
	for _, ch := range charges {
		set := ts.get(ch.Taxes)
		i := slices.IndexFunc(sets, func(s chargeSet) bool { return s.key == set.key })
		if i < 0 {
			i = len(sets)
			if len(sets) < cap(sets) { // reuse the previous CDR's slice
				sets = sets[:i+1]
				sets[i].key, sets[i].taxes, sets[i].charges = set.key, set.taxes, sets[i].charges[:0]
			} else {
				sets = append(sets, chargeSet{key: set.key, taxes: set.taxes})
			}
		}
		sets[i].charges = append(sets[i].charges, ch)
		if ch.Component == Energy && energyAt < 0 {
			energyAt = i
		}
	}
	if energyAt < 0 {
		energyAt = 0
	}
	for i := range sets {
		sets[i].energyLine = energyAt
	}
	return sets
}

func lineTaxes(cfg Config, taxes []Tax) []LineTax {
	if len(taxes) == 0 {
		return []LineTax{{Name: "VAT", Category: cfg.Untaxed.Code, Reason: cfg.Untaxed.Reason}}
	}
	out := make([]LineTax, len(taxes))
	for i, t := range taxes {
		lt := LineTax{Name: strings.TrimSpace(t.Name)}
		if t.HasRate {
			r := t.Rate
			lt.Rate = &r
		}
		if strings.EqualFold(lt.Name, "VAT") {
			lt.Name = "VAT"
			switch {
			case t.HasRate && t.Rate == 0:
				lt.Category = "Z"
			case t.HasRate:
				lt.Category = "S"
			}
		}
		out[i] = lt
	}
	slices.SortFunc(out, func(a, b LineTax) int { return strings.Compare(a.key(), b.key()) })
	return out
}

// matches reports whether a charge's tax falls under this line tax.
func (t LineTax) matches(x Tax) bool {
	if !strings.EqualFold(t.Name, strings.TrimSpace(x.Name)) || (t.Rate != nil) != x.HasRate {
		return false
	}
	return t.Rate == nil || *t.Rate == x.Rate
}

func taxSetKey(taxes []LineTax) string {
	parts := make([]string, len(taxes))
	for i, t := range taxes {
		parts[i] = t.key()
	}
	return strings.Join(parts, ";")
}

func lineKey(cfg Config, c *CDR, tariffKey, taxKey string) string {
	if cfg.Grouping == PerCDR {
		return "cdr " + c.Key() + " tax " + taxKey
	}
	return "location " + c.CountryCode + "*" + c.PartyID + "*" + c.place().ID + " tariff " + tariffKey + " tax " + taxKey
}

func newLine(cfg Config, period Period, c *CDR, key string, taxes []LineTax) *lineAcc {
	l := c.place()
	loc := LineLocation{ID: c.CountryCode + "*" + c.PartyID + "*" + l.ID, Name: l.Name, City: l.City, Country: l.Country}
	acc := &lineAcc{Line: Line{Key: key, Location: loc, Tariff: c.tariff().Key(), Taxes: slices.Clone(taxes)},
		taxExact: make([]sum128, len(taxes)), hash: sha256.New()}
	place := strings.Trim(l.Name+", "+l.City, ", ")
	if place == "" {
		place = "Location " + l.ID
	}
	if cfg.Grouping == PerCDR {
		acc.CDR = &CDRRef{ID: c.Key(), Start: c.Start.UTC(), End: c.End.UTC(), EVSEID: l.EVSEID}
		acc.Description = fmt.Sprintf("%s %s, %s", c.ID, c.Start.In(period.From.Location()).Format("2006-01-02 15:04"), place)
	} else {
		acc.Description = place
	}
	acc.hash.Write([]byte(key))
	return acc
}

// writeContribution feeds one CDR's part of a line into the line digest,
// through the scratch buffer b, which it returns.
func writeContribution(h hash.Hash, b []byte, c *CDR, tariffKey string, charges []Charge) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(v int64) { b = binary.AppendVarint(b, v) }
	str(c.CountryCode)
	str(c.PartyID)
	str(c.ID)
	b = append(b, c.BodySHA256[:]...)
	str(tariffKey)
	str(c.PricingPolicy)
	num(int64(c.Energy))
	num(c.Start.UnixMicro())
	num(c.End.UnixMicro())
	num(int64(len(charges)))
	for _, ch := range charges {
		str(string(ch.Component))
		num(int64(ch.Excl))
		num(int64(len(ch.Taxes)))
		for _, t := range ch.Taxes {
			str(t.Name)
			num(int64(t.Rate))
			if t.HasRate {
				num(1)
			} else {
				num(0)
			}
			num(int64(t.Amount))
		}
	}
	h.Write(b)
	return b
}

// finish orders and rounds the lines and sums the summary.
func (d *draft) finish() error {
	if d.cfg.Grouping == PerCDR {
		slices.SortFunc(d.lines, func(a, b *lineAcc) int {
			return cmp.Or(a.From.Compare(b.From), strings.Compare(a.Key, b.Key))
		})
	} else {
		slices.SortFunc(d.lines, func(a, b *lineAcc) int { return strings.Compare(a.Key, b.Key) })
	}
	for i, l := range d.lines {
		if err := l.round(d.digits, d.cfg.Rounding); err != nil {
			return err
		}
		l.No = i + 1
	}
	var billed, recomputed sum128
	for _, c := range d.cdrs {
		if c.Dispute == nil {
			continue
		}
		d.disputes = append(d.disputes, disputed(c))
		if p := c.Dispute.Billed; p != nil {
			billed.add(p.Excl)
		}
		if p := c.Dispute.Recomputed; p != nil {
			recomputed.add(p.Excl)
		}
	}
	slices.SortStableFunc(d.disputes, func(a, b Disputed) int {
		return cmp.Or(a.CDR.End.Compare(b.CDR.End), strings.Compare(a.CDR.ID, b.CDR.ID))
	})
	d.summary.DisputedBilled = billed.round(d.digits, d.cfg.Rounding)
	d.summary.DisputedRecomputed = recomputed.round(d.digits, d.cfg.Rounding)
	return nil
}

// round fixes Net, the components and the digest from the exact sums.
func (l *lineAcc) round(digits int, mode Rounding) error {
	var net sum128
	for _, c := range l.comps {
		net.addSum(c)
	}
	l.Net = net.round(digits, mode)
	l.Components = allocate(l.comps, l.Net, digits)
	for i := range l.Taxes {
		if !l.taxExact[i].fits() {
			return fmt.Errorf("%w: line %s: tax sum out of range", ErrInput, l.Key)
		}
		l.Taxes[i].Exact = Amount(l.taxExact[i].lo)
	}
	b := append(make([]byte, 0, 128), "|net "...)
	b = append(append(b, l.Net.String()...), '|')
	for _, c := range l.Components {
		b = append(append(append(append(b, c.Component...), ' '), c.Net.String()...), '|')
	}
	l.hash.Write(b)
	l.Digest = hexHash([32]byte(l.hash.Sum(nil)))
	return nil
}

// allocate splits a rounded net over the exact component sums so that the
// parts add up to it exactly: each part rounded down, then the remaining
// minor units to the largest remainders (ties in component order).
func allocate(comps [6]sum128, net Money, digits int) []ComponentAmount {
	div := pow10[Scale-digits]
	type part struct {
		i        int
		floor    int64
		rem      int64
		nonEmpty bool
	}
	var parts []part
	var sum int64
	for i, c := range comps {
		if c.isZero() {
			continue
		}
		q, r := floorDiv(c, div)
		parts = append(parts, part{i: i, floor: q, rem: r})
		sum += q
	}
	left := net.Units - sum
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(parts[b].rem, parts[a].rem) })
	for k := 0; left > 0 && k < len(order); k++ {
		parts[order[k]].floor++
		left--
	}
	out := make([]ComponentAmount, len(parts))
	for k, p := range parts {
		out[k] = ComponentAmount{Component: Components[p.i], Net: Money{Units: p.floor, Digits: digits}}
	}
	return out
}

func disputed(c *CDR) Disputed {
	dp, l := c.Dispute, c.place()
	out := Disputed{
		CDR:      CDRRef{ID: c.Key(), Start: c.Start.UTC(), End: c.End.UTC(), EVSEID: l.EVSEID},
		Location: LineLocation{ID: c.CountryCode + "*" + c.PartyID + "*" + l.ID, Name: l.Name, City: l.City, Country: l.Country},
		Verdict:  dp.Verdict, Status: dp.Status, Reasons: slices.Clone(dp.Reasons),
		Billed: dp.Billed, Recomputed: dp.Recomputed, Periods: slices.Clone(dp.Periods), Evidence: dp.Evidence,
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if dp.Billed != nil && dp.Recomputed != nil {
		out.Difference = &Price{Excl: dp.Recomputed.Excl - dp.Billed.Excl, Incl: dp.Recomputed.Incl - dp.Billed.Incl}
	}
	return out
}

// taxBreakdown sums the lines' taxes per tax name, category and rate and
// computes each row's tax by the method; it returns the rows and the
// totals.
func taxBreakdown(lines []Line, digits int, method TaxMethod, mode Rounding) ([]TaxRow, Totals) {
	type acc struct {
		row   TaxRow
		exact sum128
	}
	rows := map[string]*acc{}
	var order []*acc
	zero := Money{Digits: digits}
	totals := Totals{Net: zero, Tax: zero}
	for _, l := range lines {
		totals.Net = totals.Net.Add(l.Net)
		for _, t := range l.Taxes {
			k := t.key()
			a := rows[k]
			if a == nil {
				a = &acc{row: TaxRow{Name: t.Name, Category: t.Category, Rate: t.Rate, Reason: t.Reason, Base: zero, Tax: zero}}
				rows[k] = a
				order = append(order, a)
			}
			a.row.Base = a.row.Base.Add(l.Net)
			a.exact.add(t.Exact)
		}
	}
	out := make([]TaxRow, len(order))
	for i, a := range order {
		r := a.row
		if r.Rate != nil && method == TaxFromBase {
			r.Tax = percentOf(r.Base, *r.Rate, mode)
		} else {
			r.Tax = a.exact.round(digits, mode)
		}
		out[i] = r
		totals.Tax = totals.Tax.Add(r.Tax)
	}
	slices.SortFunc(out, func(a, b TaxRow) int { return strings.Compare(a.key(), b.key()) })
	totals.Gross = totals.Net.Add(totals.Tax)
	totals.Payable = totals.Gross
	return out, totals
}

// percentOf returns base × rate / 100, rounded once to base's digits.
func percentOf(base Money, rate Percent, mode Rounding) Money {
	num := new(big.Int).Mul(big.NewInt(base.Units), big.NewInt(int64(rate)))
	div := big.NewInt(100 * pow10[PercentScale])
	q, r := new(big.Int).QuoRem(num, div, new(big.Int))
	// |r| < div < 2^63, so the adjustment works in int64.
	q.Add(q, big.NewInt(roundAdjust(q.Bit(0) == 1, r.Int64(), div.Int64(), mode)))
	return Money{Units: q.Int64(), Digits: base.Digits}
}
