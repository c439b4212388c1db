package synth

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// An independent re-pricer for the generated files: OCPI JSON read with
// encoding/json, arithmetic in shopspring/decimal, local time through
// time.In. It follows the policy stated in doc.go and shares no code with
// the generator's integer pricer, so agreement between the two is evidence.

var oracleMinor = map[string]int32{"EUR": 2, "USD": 2, "ISK": 0, "JPY": 0, "JOD": 3,
	"PLN": 2, "SEK": 2, "DKK": 2, "CZK": 2, "NOK": 2, "CHF": 2}

var weekdayNames = map[time.Weekday]string{time.Monday: "MONDAY", time.Tuesday: "TUESDAY", time.Wednesday: "WEDNESDAY",
	time.Thursday: "THURSDAY", time.Friday: "FRIDAY", time.Saturday: "SATURDAY", time.Sunday: "SUNDAY"}

var oracleDims = []string{"FLAT", "ENERGY", "TIME", "PARKING_TIME"}

type oComp struct {
	typ   string
	price decimal.Decimal
	vat   *decimal.Decimal
	step  int64
}

type oElement struct {
	comps []oComp
	r     jobj // nil when absent
}

type oPeriod struct {
	start, end time.Time
	energy     decimal.Decimal // kWh
	timeSecs   int64
	parkSecs   int64
	charging   bool
	maxPower   *decimal.Decimal
	sel        map[string]int // dimension -> element index
}

type oMoney struct{ excl, incl decimal.Decimal }

type oResult struct {
	total   oMoney
	sub     map[string]oMoney
	clamped bool
	split   []string // periods in which a restriction changes
}

func parseDT(v any) time.Time {
	t, err := time.Parse(time.RFC3339, str(v))
	if err != nil {
		panic(err)
	}
	return t
}

func hhmm(v any) int {
	var h, m int
	fmt.Sscanf(str(v), "%d:%d", &h, &m)
	return h*60 + m
}

// restrictionMatches reads the §5.4 table literally.
func restrictionMatches(r jobj, local time.Time, since int64, maxPower *decimal.Decimal) bool {
	if r == nil {
		return true
	}
	tod := local.Hour()*60 + local.Minute()
	_, hasS := r["start_time"]
	_, hasE := r["end_time"]
	s, e := hhmm(r["start_time"]), hhmm(r["end_time"])
	switch {
	case hasS && hasE && s < e:
		if tod < s || tod >= e {
			return false
		}
	case hasS && hasE:
		if tod < s && tod >= e {
			return false
		}
	case hasS:
		if tod < s {
			return false
		}
	case hasE:
		if tod >= e {
			return false
		}
	}
	if days := arr(r["day_of_week"]); len(days) > 0 {
		if !slices.Contains(days, any(weekdayNames[local.Weekday()])) {
			return false
		}
	}
	if v, ok := r["min_duration"]; ok && since < num(v).IntPart() {
		return false
	}
	if v, ok := r["max_duration"]; ok && since >= num(v).IntPart() {
		return false
	}
	if v, ok := r["max_power"]; ok && maxPower != nil && maxPower.GreaterThanOrEqual(num(v)) {
		return false
	}
	return true
}

func selectComponents(els []oElement, local time.Time, since int64, maxPower *decimal.Decimal) map[string]int {
	sel := map[string]int{}
	for i, e := range els {
		if !restrictionMatches(e.r, local, since, maxPower) {
			continue
		}
		for _, c := range e.comps {
			if _, ok := sel[c.typ]; !ok {
				sel[c.typ] = i
			}
		}
	}
	return sel
}

func compOf(els []oElement, sel map[string]int, dim string) *oComp {
	i, ok := sel[dim]
	if !ok {
		return nil
	}
	for k := range els[i].comps {
		if els[i].comps[k].typ == dim {
			return &els[i].comps[k]
		}
	}
	return nil
}

// tariffFor returns the tariff version in effect and the location's zone.
func (pd *partyData) tariffFor(c jobj) (jobj, *time.Location, error) {
	start := parseDT(c["start_date_time"])
	var id, tz string
	if l := obj(c["location"]); l != nil { // 2.1.1 embeds the location
		tz = str(l["time_zone"])
		id = str(obj(arr(obj(arr(l["evses"])[0])["connectors"])[0])["tariff_id"])
	} else {
		tz = pd.locTZ[str(obj(c["cdr_location"])["id"])]
		id = str(obj(arr(c["charging_periods"])[0])["tariff_id"])
	}
	if tz == "" { // optional in 2.1.1: the partner's zone from the manifest
		tz = pd.sum.TimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, nil, err
	}
	var in jobj
	for _, v := range pd.tariffs[id] {
		if !parseDT(v["last_updated"]).After(start) {
			in = v
		}
	}
	if in == nil {
		return nil, nil, fmt.Errorf("no version of tariff %q in effect at %s", id, start)
	}
	return in, loc, nil
}

func reprice(pd *partyData, c jobj) (oResult, error) {
	t, loc, err := pd.tariffFor(c)
	if err != nil {
		return oResult{}, err
	}
	minor := oracleMinor[str(t["currency"])]
	var els []oElement
	for _, ev := range arr(t["elements"]) {
		e := oElement{r: obj(obj(ev)["restrictions"])}
		for _, cv := range arr(obj(ev)["price_components"]) {
			co := obj(cv)
			oc := oComp{typ: str(co["type"]), price: num(co["price"]), step: num(co["step_size"]).IntPart()}
			if v, ok := co["vat"]; ok {
				d := num(v)
				oc.vat = &d
			}
			e.comps = append(e.comps, oc)
		}
		els = append(els, e)
	}

	start := parseDT(c["start_date_time"])
	end := c["end_date_time"]
	if end == nil {
		end = c["stop_date_time"]
	}
	cdrEnd := parseDT(end)
	raw := arr(c["charging_periods"])
	var res oResult
	ps := make([]oPeriod, len(raw))
	hour := decimal.NewFromInt(3600)
	for i, pv := range raw {
		p := &ps[i]
		p.start = parseDT(obj(pv)["start_date_time"])
		p.end = cdrEnd
		if i+1 < len(raw) {
			p.end = parseDT(obj(raw[i+1])["start_date_time"])
		}
		for _, dv := range arr(obj(pv)["dimensions"]) {
			d := obj(dv)
			v := num(d["volume"])
			switch str(d["type"]) {
			case "ENERGY":
				p.energy = v
			case "TIME":
				p.timeSecs, p.charging = v.Mul(hour).Round(0).IntPart(), true // nearest second (stack.md trap)
			case "PARKING_TIME":
				p.parkSecs = v.Mul(hour).Round(0).IntPart()
			case "MAX_POWER":
				p.maxPower = &v
			}
		}
		since := int64(p.start.Sub(start) / time.Second)
		p.sel = selectComponents(els, p.start.In(loc), since, p.maxPower)
		lastSec := p.end.Add(-time.Second)
		if at := selectComponents(els, lastSec.In(loc), int64(lastSec.Sub(start)/time.Second), p.maxPower); !equalSel(at, p.sel) {
			res.split = append(res.split, fmt.Sprintf("period %d (%s..%s): %v at start, %v at end", i, p.start, p.end, p.sel, at))
		}
	}

	// step_size, §5.6 consolidated algorithm.
	energyExtra := make([]decimal.Decimal, len(ps))
	timeExtra := make([]int64, len(ps))
	lastE, lastT := -1, -1
	sumE := decimal.Zero
	for i, p := range ps {
		if compOf(els, p.sel, "ENERGY") != nil && p.energy.IsPositive() {
			lastE, sumE = i, sumE.Add(p.energy)
		}
		if (p.charging && compOf(els, p.sel, "TIME") != nil) || (!p.charging && compOf(els, p.sel, "PARKING_TIME") != nil) {
			lastT = i
		}
	}
	if lastE >= 0 {
		step := decimal.NewFromInt(max(compOf(els, ps[lastE].sel, "ENERGY").step, 1))
		wh := sumE.Mul(decimal.NewFromInt(1000))
		billed := wh.Div(step).Ceil().Mul(step)
		energyExtra[lastE] = billed.Sub(wh).Div(decimal.NewFromInt(1000))
	}
	if lastT >= 0 {
		dim, parking := "TIME", !ps[lastT].charging
		if parking {
			dim = "PARKING_TIME"
		}
		var sum int64
		for _, p := range ps {
			if p.charging != parking && compOf(els, p.sel, dim) != nil {
				sum += p.timeSecs + p.parkSecs
			}
		}
		step := max(compOf(els, ps[lastT].sel, dim).step, 1)
		timeExtra[lastT] = (sum+step-1)/step*step - sum
	}

	// Lines ×3600 so that time lines stay exact until one final division.
	type bucket struct {
		net, gross decimal.Decimal
		rate       *decimal.Decimal
	}
	buckets := map[string]*bucket{}
	for _, d := range oracleDims {
		buckets[d] = &bucket{}
	}
	hundred := decimal.NewFromInt(100)
	yes := str(t["tax_included"]) == "YES"
	add := func(co *oComp, net3600 decimal.Decimal) {
		b := buckets[co.typ]
		b.net = b.net.Add(net3600)
		gross := net3600
		if co.vat != nil {
			b.rate = co.vat
			if !yes {
				gross = net3600.Mul(hundred.Add(*co.vat)).Div(hundred)
			}
		}
		b.gross = b.gross.Add(gross)
	}
	flat := false
	for i, p := range ps {
		if p.charging {
			if co := compOf(els, p.sel, "FLAT"); co != nil && !flat {
				flat = true
				add(co, co.price.Mul(hour))
			}
			if co := compOf(els, p.sel, "ENERGY"); co != nil && p.energy.IsPositive() {
				add(co, p.energy.Add(energyExtra[i]).Mul(co.price).Mul(hour))
			}
			if co := compOf(els, p.sel, "TIME"); co != nil {
				add(co, decimal.NewFromInt(p.timeSecs+timeExtra[i]).Mul(co.price))
			}
		} else if co := compOf(els, p.sel, "PARKING_TIME"); co != nil {
			add(co, decimal.NewFromInt(p.parkSecs+timeExtra[i]).Mul(co.price))
		}
	}
	toMoney := func(net3600, gross3600 decimal.Decimal, rate *decimal.Decimal) oMoney {
		net := net3600.DivRound(hour, 24)
		gross := gross3600.DivRound(hour, 24)
		if yes && rate != nil {
			net = gross.Mul(hundred).DivRound(hundred.Add(*rate), 24)
		}
		return oMoney{excl: net.Round(minor), incl: gross.Round(minor)}
	}
	res.sub = map[string]oMoney{}
	netAll, grossAll := decimal.Zero, decimal.Zero
	var rate *decimal.Decimal
	for _, d := range oracleDims {
		b := buckets[d]
		res.sub[d] = toMoney(b.net, b.gross, b.rate)
		netAll, grossAll = netAll.Add(b.net), grossAll.Add(b.gross)
		if b.rate != nil {
			rate = b.rate
		}
	}
	clamp := func(key string, below bool) {
		l := obj(t[key])
		if l == nil {
			return
		}
		excl, incl := num(l["excl_vat"]), num(l["incl_vat"])
		if _, ok := l["before_taxes"]; ok {
			excl, incl = num(l["before_taxes"]), num(l["after_taxes"])
		}
		excl, incl = excl.Mul(hour), incl.Mul(hour)
		if (below && netAll.LessThan(excl)) || (!below && netAll.GreaterThan(excl)) {
			netAll, res.clamped = excl, true
		}
		if (below && grossAll.LessThan(incl)) || (!below && grossAll.GreaterThan(incl)) {
			grossAll, res.clamped = incl, true
		}
	}
	clamp("min_price", true)
	clamp("max_price", false)
	res.total = toMoney(netAll, grossAll, rate)
	return res, nil
}

func equalSel(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// claimed reads a Price field of any version as (excl, incl); incl is
// excl for 2.1.1 and for a 2.3.0 Price without taxes.
func claimed(v any) (oMoney, bool) {
	if v == nil {
		return oMoney{}, false
	}
	if o := obj(v); o != nil {
		if _, ok := o["before_taxes"]; ok {
			m := oMoney{excl: num(o["before_taxes"])}
			m.incl = m.excl
			for _, tv := range arr(o["taxes"]) {
				m.incl = m.incl.Add(num(obj(tv)["amount"]))
			}
			return m, true
		}
		return oMoney{excl: num(o["excl_vat"]), incl: num(o["incl_vat"])}, true
	}
	d := num(v)
	return oMoney{excl: d, incl: d}, true
}

var subFields = map[string]string{"FLAT": "total_fixed_cost", "ENERGY": "total_energy_cost",
	"TIME": "total_time_cost", "PARKING_TIME": "total_parking_cost"}

// compareClaimed lists every reported amount that differs from the oracle.
func compareClaimed(c jobj, r oResult, v211 bool) []string {
	var diffs []string
	check := func(field string, got oMoney, want oMoney) {
		if !got.excl.Equal(want.excl) {
			diffs = append(diffs, fmt.Sprintf("%s excl %s, want %s", field, got.excl, want.excl))
		}
		if !v211 && !got.incl.Equal(want.incl) {
			diffs = append(diffs, fmt.Sprintf("%s incl %s, want %s", field, got.incl, want.incl))
		}
	}
	tc, _ := claimed(c["total_cost"])
	check("total_cost", tc, r.total)
	for _, d := range oracleDims {
		if got, ok := claimed(c[subFields[d]]); ok {
			check(subFields[d], got, r.sub[d])
		}
	}
	return diffs
}

func isCredit(c jobj) bool { b, _ := c["credit"].(bool); return b }

func cdrKey(pd *partyData, id string) string {
	return pd.sum.CountryCode + "*" + pd.sum.PartyID + "*" + strings.TrimSpace(id)
}
