package synth

import (
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// The spec's worked examples (OCPI digest §5.12, by row number) priced by
// the generator's integer pricer. Sessions are built period by period, in
// UTC, on Monday 2026-10-05.

type part struct {
	secs     int64
	energyWh int64 // ×10 = 0.1 Wh units; charging when secs > 0 and this is set or chargingOnly
	charging bool
}

func charge(min, sec int64, wh int64) part {
	return part{secs: min*60 + sec, energyWh: wh, charging: true}
}
func park(min int64) part { return part{secs: min * 60} }

func mkSession(t *testing.T, start string, parts ...part) *session {
	t.Helper()
	st, err := time.Parse(time.RFC3339, start)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{start: st.Unix()}
	at := s.start
	for _, p := range parts {
		pr := period{start: at, secs: p.secs, charging: p.charging, energy: p.energyWh * 10}
		if pr.charging {
			pr.powerW = 11000
		}
		s.periods = append(s.periods, pr)
		at += p.secs
	}
	s.end = at
	return s
}

func comp(dim int, priceE4 int64, vat int, step int64) component {
	return component{dim: dim, price: priceE4, vat: vat, hasVAT: vat >= 0, step: step}
}

func elem(r restriction, cs ...component) element {
	return element{comps: cs, r: r, restricted: r != unrestricted}
}

func window(start, end int) restriction {
	r := unrestricted
	r.startMin, r.endMin = start, end
	return r
}

func mkTariff(taxIncluded string, minP, maxP *priceLimit, els ...element) *tariff {
	t := &tariff{id: "T", taxIncluded: taxIncluded, versions: []tariffVersion{{elements: els, minPrice: minP, maxPrice: maxP}}}
	t.derive()
	return t
}

func TestPriceSpecExamples(t *testing.T) {
	utc := newZoneTable(time.UTC, 1790000000, 1795000000)
	const day = "2026-10-05T"
	flat050 := comp(dimFlat, 5000, 20, 1)
	energy025 := comp(dimEnergy, 2500, 10, 1)
	tariff14 := func() *tariff {
		return mkTariff("", nil, nil,
			elem(window(hm(0, 0), hm(17, 0)), comp(dimTime, 12000, -1, 1800), comp(dimParking, 10000, -1, 900)),
			elem(window(hm(17, 0), hm(20, 0)), comp(dimTime, 24000, -1, 900), comp(dimParking, 10000, -1, 900)),
			elem(window(hm(20, 0), hm(0, 0)), comp(dimTime, 24000, -1, 900)))
	}
	cases := []struct {
		name       string
		tariff     *tariff
		minor      int
		sess       *session
		excl, incl int64
	}{
		{"#1 0.25/kWh", mkTariff("", nil, nil, elem(unrestricted, energy025)), 2,
			mkSession(t, day+"10:00:00Z", charge(60, 0, 20000)), 500, 550},
		{"#2 0.25/kWh + start fee", mkTariff("", nil, nil, elem(unrestricted, flat050), elem(unrestricted, energy025)), 2,
			mkSession(t, day+"10:00:00Z", charge(60, 0, 20000)), 550, 610},
		{"#3 min price, 20 kWh", mkTariff("", &priceLimit{5000, 5500}, nil, elem(unrestricted, energy025)), 2,
			mkSession(t, day+"10:00:00Z", charge(60, 0, 20000)), 500, 550},
		{"#3 min price, 1.5 kWh", mkTariff("", &priceLimit{5000, 5500}, nil, elem(unrestricted, energy025)), 2,
			mkSession(t, day+"10:00:00Z", charge(10, 0, 1500)), 50, 55},
		{"#4 parking 40 min -> 45", mkTariff("", nil, nil, elem(unrestricted, flat050), elem(unrestricted, energy025),
			elem(unrestricted, comp(dimParking, 20000, 20, 900))), 2,
			mkSession(t, day+"10:00:00Z", charge(120, 0, 20000), park(40)), 700, 790},
		{"#5 max price, 50 kWh", mkTariff("", nil, &priceLimit{100000, 110000}, elem(unrestricted, flat050), elem(unrestricted, energy025)), 2,
			mkSession(t, day+"10:00:00Z", charge(240, 0, 50000)), 1000, 1100},
		{"#5 max price, 30 kWh", mkTariff("", nil, &priceLimit{100000, 110000}, elem(unrestricted, flat050), elem(unrestricted, energy025)), 2,
			mkSession(t, day+"10:00:00Z", charge(180, 0, 30000)), 800, 885},
		{"#6 2.00/h, parking free", mkTariff("", nil, nil, elem(unrestricted, comp(dimTime, 20000, 10, 60))), 2,
			mkSession(t, day+"10:00:00Z", charge(150, 0, 11000), park(30)), 500, 550},
		{"#9 3/h charging + 5/h parking", mkTariff("", nil, nil,
			elem(unrestricted, comp(dimTime, 30000, 10, 60)), elem(unrestricted, comp(dimParking, 50000, 20, 300))), 2,
			mkSession(t, day+"10:00:00Z", charge(150, 0, 20000), park(42)), 1125, 1275},
		{"#23 step switching, 16:55", tariff14(), 2,
			mkSession(t, day+"16:55:00Z", charge(5, 0, 900), charge(5, 0, 900), park(2)), 55, 55},
		{"#24 step switching, 16:35", tariff14(), 2,
			mkSession(t, day+"16:35:00Z", charge(25, 0, 4500), charge(10, 0, 1800)), 130, 130},
		{"#25 switching to free parking", tariff14(), 2,
			mkSession(t, day+"19:40:00Z", charge(12, 0, 2200), park(8), park(12)), 73, 73},
		{"#26 energy step 500 Wh over a price change", mkTariff("", nil, nil,
			elem(window(hm(0, 0), hm(17, 0)), comp(dimEnergy, 2000, -1, 500)),
			elem(window(hm(17, 0), hm(0, 0)), comp(dimEnergy, 2700, -1, 500))), 3,
			mkSession(t, day+"16:00:00Z", charge(60, 0, 4300), charge(20, 0, 1100)), 1184, 1184},
		{"#27 time step 10 min over a price change", mkTariff("", nil, nil,
			elem(window(hm(0, 0), hm(17, 0)), comp(dimTime, 50000, -1, 600)),
			elem(window(hm(17, 0), hm(0, 0)), comp(dimTime, 70000, -1, 600))), 2,
			mkSession(t, day+"16:54:00Z", charge(6, 0, 1000), charge(22, 0, 4000)), 330, 330},
		{"#28 only parking rounded", mkTariff("", nil, nil,
			elem(unrestricted, comp(dimTime, 10000, -1, 600), comp(dimParking, 20000, -1, 600))), 3,
			mkSession(t, day+"10:00:00Z", charge(21, 0, 3000), park(16)), 1017, 1017},
		{"#31 CDR example 1.973 h -> 120 min", mkTariff("", nil, nil, elem(unrestricted, comp(dimTime, 20000, 10, 300))), 2,
			mkSession(t, "2024-12-05T17:39:09Z", charge(118, 23, 15342)), 400, 440},
		{"#8 tax included YES, 2.10/h gross at 10 %", mkTariff(ocpi.TaxIncludedYes, nil, nil, elem(unrestricted, comp(dimTime, 21000, 10, 1))), 2,
			mkSession(t, day+"10:00:00Z", charge(150, 0, 11000)), 477, 525},
		{"energy step 1 Wh, 115.2 Wh -> 116 Wh", mkTariff("", nil, nil, elem(unrestricted, energy025)), 3,
			&session{periods: []period{{charging: true, secs: 60, energy: 1152}}}, 29, 32},
	}
	var pc pricer
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			zone := &utc
			if c.sess.start < zone.from[0] {
				z := newZoneTable(time.UTC, c.sess.start-86400, c.sess.start+86400)
				zone = &z
			}
			got := pc.price(c.sess, c.tariff, zone, c.minor, correctOpts(0))
			if got.total.excl != c.excl || got.total.incl != c.incl {
				t.Errorf("total %d / %d minor units, want %d / %d", got.total.excl, got.total.incl, c.excl, c.incl)
			}
		})
	}
}

// The same session priced with each injected fault differs the way the
// fault says.
func TestPriceFaults(t *testing.T) {
	utc := newZoneTable(time.UTC, 1790000000, 1795000000)
	tr := mkTariff("", nil, nil,
		elem(window(hm(18, 0), hm(7, 0)), comp(dimEnergy, 2000, 21, 1)),
		elem(unrestricted, comp(dimEnergy, 3000, 21, 1)))
	s := mkSession(t, "2026-10-05T19:00:00Z", charge(60, 0, 10333))
	var pc pricer
	right := pc.price(s, tr, &utc, 2, correctOpts(0))
	if right.total.excl != 207 || right.total.incl != 250 { // 10.333 × 0.20 = 2.0666; × 1.21 = 2.50059
		t.Fatalf("right %+v", right.total)
	}
	o := correctOpts(0)
	o.totalMode = roundTrunc
	if got := pc.price(s, tr, &utc, 2, o).total.excl; got != 206 {
		t.Errorf("truncated %d, want 206", got)
	}
	o = correctOpts(0)
	o.vatOverride = 19
	if got := pc.price(s, tr, &utc, 2, o).total.incl; got != 246 { // 2.0666 × 1.19 = 2.4593
		t.Errorf("VAT 19 %% incl %d, want 246", got)
	}
	o = correctOpts(0)
	o.priceDim, o.priceDelta = dimEnergy, 100
	if got := pc.price(s, tr, &utc, 2, o).total.excl; got != 217 { // 10.333 × 0.21
		t.Errorf("wrong price %d, want 217", got)
	}
}
