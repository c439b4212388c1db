package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// rowOf is what the store and settle hand the screen for a CDR priced
// with result (by the kernel, with the published version).
func rowOf(c *ocpi.CDR, res *pricing.Result, locs *Locations, decoderFinding bool) *Row {
	r := &Row{Key: 1, CountryCode: c.CountryCode, PartyID: c.PartyID, ID: c.ID, Currency: strings.ToUpper(c.Currency),
		V211: c.Version == ocpi.V211, Credit: c.Credit, Start: c.StartDateTime.UnixMicro(), End: c.EndDateTime.UnixMicro(),
		TotalEnergy: Micro(c.TotalEnergy), TotalTime: Micro(c.TotalTime), TokenUID: c.Token.UID, TokenContract: c.Token.ContractID}
	r.Suspect = decoderFinding || len(Check(CodeMissingField, c, &Context{})) > 0
	if c.TotalParkingTime.Valid {
		r.TotalParking, r.HasParking = Micro(c.TotalParkingTime.Decimal), true
	}
	for f, p := range prices(c) {
		if p.p == nil {
			continue
		}
		r.Billed[f] = Amount{Excl: Micro(p.p.ExclVAT), HasExcl: true}
		if p.p.InclVAT.Valid {
			r.Billed[f].Incl, r.Billed[f].HasIncl = Micro(p.p.InclVAT.Decimal), true
		}
	}
	r.LocationKnown = locs.Published(c.CountryCode, c.PartyID, c.Location.ID, c.Location.EVSEUID)
	for _, p := range c.ChargingPeriods {
		pr := PeriodRow{Start: p.StartDateTime.UnixMicro(), StartKnown: !unknownTime(p.StartDateTime)}
		for _, d := range p.Dimensions {
			v := Micro(d.Volume)
			switch d.Type {
			case ocpi.DimEnergy:
				pr.Energy, pr.HasEnergy = pr.Energy+v, true
			case ocpi.DimTime:
				pr.Time, pr.HasTime = pr.Time+v, true
			case ocpi.DimParkingTime:
				pr.Parking, pr.HasParking = pr.Parking+v, true
			case ocpi.DimReservationTime:
				pr.Reservation, pr.HasReservationTime = pr.Reservation+v, true
			}
		}
		r.Periods = append(r.Periods, pr)
	}
	if res != nil {
		r.Priced, r.Flags = true, int32(res.Flags())
		t := ComputedTotals(res)
		for f := range NumFields {
			r.Computed[2*f], r.Computed[2*f+1] = t[f].Excl, t[f].Incl
		}
	}
	return r
}

// The screen is conservative: whatever it accepts, the whole evaluation
// (the rules and the decimal reference) finds OK with no finding, and the
// accepted amounts are the evaluation's. CDRs and tariffs are drawn around
// the boundaries the screen reads: restriction clocks, durations and kWh
// bounds at period edges, volumes at their tolerance, amounts a cent off,
// VAT at its bounds, periods out of order, long sessions, a DST change.
func TestScreenAcceptsOnlyWhatEvaluationFindsOK(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	accepted, total, boundaries := 0, 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		tariff := cleanTariff()
		tariff.Elements = append(tariff.Elements, ocpi.TariffElement{PriceComponents: []ocpi.PriceComponent{
			{Type: ocpi.TariffDimEnergy, Price: dec("0.35"), VAT: tariff.Elements[0].PriceComponents[0].VAT, StepSize: 1}}})
		el := &tariff.Elements[0]
		if rapid.Bool().Draw(rt, "restricted") {
			r := &ocpi.TariffRestrictions{}
			switch rapid.IntRange(0, 8).Draw(rt, "restriction") {
			case 0:
				r.StartTime = fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(rt, "h"), 30*rapid.IntRange(0, 1).Draw(rt, "m"))
			case 1:
				r.EndTime = fmt.Sprintf("%02d:00", rapid.IntRange(0, 23).Draw(rt, "h"))
			case 2:
				d := int64(rapid.IntRange(0, 7200).Draw(rt, "dur"))
				r.MaxDuration = &d
			case 3:
				r.MaxKWh = decNull(fmt.Sprintf("%d.%d", rapid.IntRange(0, 12).Draw(rt, "kwh"), rapid.IntRange(0, 9).Draw(rt, "kwh10")))
			case 4:
				r.DayOfWeek = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}
			case 5: // a weekday daytime window (the generator's parking fee)
				r.StartTime = fmt.Sprintf("%02d:00", rapid.IntRange(6, 10).Draw(rt, "from"))
				r.EndTime = fmt.Sprintf("%02d:00", rapid.IntRange(17, 21).Draw(rt, "to"))
				r.DayOfWeek = []string{"monday", "TUESDAY", " WEDNESDAY", "THURSDAY", "FRIDAY"}
			case 6: // a window wrapping past midnight, or ending at 00:00
				r.StartTime = fmt.Sprintf("%02d:00", rapid.IntRange(18, 23).Draw(rt, "from"))
				r.EndTime = rapid.SampledFrom([]string{"00:00", "07:00", "01:30"}).Draw(rt, "to")
			case 7:
				r.DayOfWeek = rapid.SampledFrom([][]string{{"SATURDAY", "SUNDAY"}, {"SATURDAY"}, {"FRIDAY"}}).Draw(rt, "days")
			case 8:
				d := time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 5).Draw(rt, "day"))
				if rapid.Bool().Draw(rt, "startDate") {
					r.StartDate = d.Format("2006-01-02")
				} else {
					r.EndDate = d.Format("2006-01-02")
				}
			}
			el.Restrictions = r
			// The restricted element prices one dimension the periods may
			// or may not bill.
			vat := el.PriceComponents[0].VAT
			switch rapid.IntRange(0, 3).Draw(rt, "dims") {
			case 1:
				el.PriceComponents = []ocpi.PriceComponent{{Type: ocpi.TariffDimParkingTime, Price: dec("2.00"), VAT: vat, StepSize: 300}}
			case 2:
				el.PriceComponents = []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("1.20"), VAT: vat, StepSize: 60}}
			case 3:
				el.PriceComponents = []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.29"), VAT: vat, StepSize: 1}}
			}
		}
		if rapid.Bool().Draw(rt, "vat10") {
			for i := range el.PriceComponents {
				el.PriceComponents[i].VAT = decNull("10")
			}
		}
		c := cleanCDR()
		start := time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 4*24*60).Draw(rt, "startMin")) * time.Minute)
		if rapid.Bool().Draw(rt, "seconds") {
			start = start.Add(time.Duration(rapid.IntRange(0, 59).Draw(rt, "s")) * time.Second)
		}
		n := rapid.IntRange(1, 3).Draw(rt, "periods")
		c.StartDateTime, c.ChargingPeriods = start, nil
		at := start
		var energy, hours, parking int64 // 1e-4 kWh and 1e-4 h
		parked := false
		for i := range n {
			mins := rapid.IntRange(1, 300).Draw(rt, fmt.Sprintf("mins%d", i))
			kwh := int64(rapid.IntRange(0, 400).Draw(rt, fmt.Sprintf("kwh%d", i))) * 250
			h := int64(mins) * 10000 / 60
			if rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("over%d", i)) == 0 {
				h += int64(rapid.IntRange(0, 40).Draw(rt, fmt.Sprintf("extra%d", i)))
			}
			dim := ocpi.DimTime
			if i > 0 && rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("park%d", i)) == 0 {
				dim, kwh, parked = ocpi.DimParkingTime, 0, true
				parking += h
			}
			c.ChargingPeriods = append(c.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: at, TariffID: "T1",
				Dimensions: []ocpi.CDRDimension{{Type: ocpi.DimEnergy, Volume: dec(fmt.Sprintf("%d", kwh)).Shift(-4)},
					{Type: dim, Volume: dec(fmt.Sprintf("%d", h)).Shift(-4)}}})
			energy, hours = energy+kwh, hours+h
			at = at.Add(time.Duration(mins) * time.Minute)
		}
		if parked {
			c.TotalParkingTime = decNullD(dec(fmt.Sprintf("%d", parking)).Shift(-4))
		}
		c.EndDateTime = at
		if rapid.IntRange(0, 9).Draw(rt, "long") == 0 {
			c.EndDateTime = at.Add(time.Duration(rapid.IntRange(20, 30).Draw(rt, "longH")) * time.Hour)
		}
		if n > 1 && rapid.IntRange(0, 9).Draw(rt, "swap") == 0 {
			c.ChargingPeriods[0], c.ChargingPeriods[1] = c.ChargingPeriods[1], c.ChargingPeriods[0]
		}
		c.TotalEnergy = dec(fmt.Sprintf("%d", energy+int64(rapid.IntRange(-20, 20).Draw(rt, "eOff")))).Shift(-4)
		c.TotalTime = dec(fmt.Sprintf("%d", hours+int64(rapid.IntRange(-20, 20).Draw(rt, "tOff")))).Shift(-4)
		zone := time.UTC
		if rapid.Bool().Draw(rt, "amsterdam") {
			zone = ams
		}
		opts := pricing.Options{TimeZone: zone}
		res, err := pricing.Price(c, []ocpi.Tariff{*tariff}, opts)
		if err != nil {
			return
		}
		// Bill what was computed, then maybe a cent or a VAT off.
		set := func(p **ocpi.Price, a pricing.Amount) {
			*p = &ocpi.Price{ExclVAT: a.Excl, InclVAT: decNullD(a.Incl)}
		}
		tt := &res.Totals
		set(&c.TotalCost, tt.TotalCost)
		set(&c.TotalFixedCost, tt.TotalFixedCost)
		set(&c.TotalEnergyCost, tt.TotalEnergyCost)
		set(&c.TotalTimeCost, tt.TotalTimeCost)
		set(&c.TotalParkingCost, tt.TotalParkingCost)
		switch rapid.IntRange(0, 7).Draw(rt, "billing") {
		case 0:
			c.TotalCost.ExclVAT = c.TotalCost.ExclVAT.Add(dec("0.01"))
		case 1:
			c.TotalEnergyCost.InclVAT = decNullD(c.TotalEnergyCost.InclVAT.Decimal.Sub(dec("0.01")))
		case 2:
			c.TotalCost.InclVAT = decNullD(c.TotalCost.ExclVAT.Mul(dec("1.19")).Round(2))
		case 3:
			c.TotalFixedCost.ExclVAT = c.TotalFixedCost.ExclVAT.Add(dec("0.05"))
		case 4:
			c.Token.UID = "ZZ99"
		case 5:
			c.Location.EVSEUID = "EVSE9"
		}
		x := fullContext()
		x.Tariff, x.Priced = tariff, res
		x.Stored = &MemoryStored{}
		fs := Validate(c, x)
		ev := Evaluate(&Case{CDR: c, Tariffs: []ocpi.Tariff{*tariff}, Options: opts, Result: res, Findings: fs, NoHypotheses: true})
		sc := &Screen{Tariffs: []*ScreenTariff{NewScreenTariff(tariff, res.MinorUnits)}, Zones: []*time.Location{zone},
			ZoneSources: []string{"location"}, Tokens: x.Tokens}
		a, ok := sc.Screen(rowOf(c, res, x.Locations, false))
		if fs.Has(CodePeriodNotSplit) {
			boundaries++
		}
		total++
		if !ok {
			return
		}
		accepted++
		if len(fs) > 0 || ev.Verdict != VerdictOK {
			rt.Fatalf("screen accepted a CDR the evaluation faults: %s %v", ev.Verdict, fs)
		}
		if a.Billed != ev.Billed[TotalCost] || a.Recomputed != ev.Recomputed[TotalCost] || a.MinorUnits != ev.MinorUnits ||
			a.Difference() != ev.Difference() {
			rt.Fatalf("accepted %+v, evaluated billed %+v recomputed %+v", a, ev.Billed[TotalCost], ev.Recomputed[TotalCost])
		}
	})
	t.Logf("screen accepted %d of %d drawn CDRs (%d with a boundary inside a period)", accepted, total, boundaries)
	if accepted == 0 || accepted == total {
		t.Errorf("screen accepted %d of %d: the draws do not exercise it", accepted, total)
	}
}

func decNull(s string) decimal.NullDecimal { return decimal.NewNullDecimal(dec(s)) }

func decNullD(d decimal.Decimal) decimal.NullDecimal { return decimal.NewNullDecimal(d) }

// cleanScreened is the clean CDR priced (in UTC) with the clean tariff,
// in the full context: a row the screen accepts.
func cleanScreened(t *testing.T) (*ocpi.Tariff, *ocpi.CDR, *pricing.Result, *Context) {
	t.Helper()
	tariff, c := cleanTariff(), cleanCDR()
	res, err := pricing.Price(c, []ocpi.Tariff{*tariff}, pricing.Options{TimeZone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return tariff, c, res, fullContext()
}

// The screen's per-rule checks, each with a row it accepts and the
// smallest change that makes it evaluate the CDR whole.
func TestScreenRejectsEachRule(t *testing.T) {
	tariff, c, res, x := cleanScreened(t)
	screen := func() *Screen {
		return &Screen{Tariffs: []*ScreenTariff{NewScreenTariff(tariff, 2)}, Zones: []*time.Location{time.UTC},
			ZoneSources: []string{"location"}, Tokens: x.Tokens, Received: map[string]bool{}}
	}
	if _, ok := screen().Screen(rowOf(c, res, x.Locations, false)); !ok {
		t.Fatal("the clean CDR is not accepted")
	}
	cases := map[string]func(r *Row, s *Screen){
		"decoder finding":  func(r *Row, _ *Screen) { r.Suspect = true },
		"credit":           func(r *Row, _ *Screen) { r.Credit = true },
		"not by kernel":    func(r *Row, _ *Screen) { r.Priced = false },
		"currency":         func(r *Row, _ *Screen) { r.Currency = "USD" },
		"min applied":      func(r *Row, _ *Screen) { r.Flags |= int32(pricing.FlagMinApplied) },
		"unverifiable":     func(r *Row, _ *Screen) { r.Flags |= int32(pricing.FlagUnverifiable) },
		"session too long": func(r *Row, _ *Screen) { r.End = r.Start + 25*3600*micro },
		"received again":   func(_ *Row, s *Screen) { s.Received["CDR1"] = true },
		"unknown token":    func(r *Row, _ *Screen) { r.TokenUID = "ZZ" },
		"unknown location": func(r *Row, _ *Screen) { r.LocationKnown = false },
		"total differs":    func(r *Row, _ *Screen) { r.Billed[TotalCost].Excl += 10_000 },
		"sub-total differs": func(r *Row, _ *Screen) {
			r.Billed[TotalEnergyCost].Excl += 100_000
			r.Computed[2*TotalEnergyCost] += 100_000 // equal, but no longer adds up
		},
		"incl below excl": func(r *Row, _ *Screen) {
			r.Billed[TotalTimeCost] = Amount{Excl: 20_000, Incl: 10_000, HasExcl: true, HasIncl: true}
		},
		"VAT outside":     func(r *Row, _ *Screen) { r.Billed[TotalCost].Incl += 200_000; r.Computed[1] += 200_000 },
		"energy sum":      func(r *Row, _ *Screen) { r.TotalEnergy += 2_000 },
		"period too full": func(r *Row, _ *Screen) { r.Periods[0].Time += 3_000 },
		"period order":    func(r *Row, _ *Screen) { r.Periods[0].Start = r.Start - 1 },
		"no periods":      func(r *Row, _ *Screen) { r.Periods = nil },
		"boundary inside": func(r *Row, s *Screen) {
			d := int64(1800)
			tt := cleanTariff()
			tt.Elements[0].Restrictions = &ocpi.TariffRestrictions{MaxDuration: &d}
			s.Tariffs[0] = NewScreenTariff(tt, 2)
		},
	}
	for name, mutate := range cases {
		r, s := rowOf(c, res, x.Locations, false), screen()
		mutate(r, s)
		if _, ok := s.Screen(r); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The screen reads restriction boundaries per element, as the reference
// flags them: an instant counts only inside a period the element can
// price, and a time-of-day, weekday or date instant only where the
// element's restrictions really change. Each widened case is accepted
// (and the evaluation finds nothing), and its neighbour that does change
// is evaluated whole (and the evaluation flags the boundary).
func TestScreenReadsBoundariesPerElement(t *testing.T) {
	vat := decNull("21")
	weekdays := []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}
	mon := time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC) // a Monday
	cases := []struct {
		name   string
		el     ocpi.TariffElement
		start  time.Time
		dim    string // of the one period, beside ENERGY
		accept bool
	}{
		{"parking window crossed by charging", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{StartTime: "09:00", EndTime: "20:00", DayOfWeek: weekdays},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimParkingTime, Price: dec("2.00"), VAT: vat, StepSize: 1}}},
			mon.Add(19*time.Hour + 30*time.Minute), ocpi.DimTime, true},
		{"parking window crossed by parking", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{StartTime: "09:00", EndTime: "20:00", DayOfWeek: weekdays},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimParkingTime, Price: dec("2.00"), VAT: vat, StepSize: 1}}},
			mon.Add(19*time.Hour + 30*time.Minute), ocpi.DimParkingTime, false},
		{"weekday midnight inside the week", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{DayOfWeek: weekdays},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("1.20"), VAT: vat, StepSize: 1}}},
			mon.Add(23*time.Hour + 30*time.Minute), ocpi.DimTime, true},
		{"weekday midnight into the weekend", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{DayOfWeek: weekdays},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("1.20"), VAT: vat, StepSize: 1}}},
			mon.AddDate(0, 0, 4).Add(23*time.Hour + 30*time.Minute), ocpi.DimTime, false},
		{"window end on a day the element does not apply", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{StartTime: "08:00", EndTime: "18:00", DayOfWeek: weekdays},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("1.20"), VAT: vat, StepSize: 1}}},
			mon.AddDate(0, 0, 5).Add(17*time.Hour + 30*time.Minute), ocpi.DimTime, true},
		{"window end on a day it applies", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{StartTime: "08:00", EndTime: "18:00", DayOfWeek: weekdays},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: dec("1.20"), VAT: vat, StepSize: 1}}},
			mon.Add(17*time.Hour + 30*time.Minute), ocpi.DimTime, false},
		{"midnight of a window that spans it", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{StartTime: "23:00", EndTime: "07:00", StartDate: "2026-10-01"},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.29"), VAT: vat, StepSize: 1}}},
			mon.Add(23*time.Hour + 30*time.Minute), ocpi.DimTime, true},
		{"start_date reached inside", ocpi.TariffElement{
			Restrictions:    &ocpi.TariffRestrictions{StartDate: "2026-10-13"},
			PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimEnergy, Price: dec("0.29"), VAT: vat, StepSize: 1}}},
			mon.Add(23*time.Hour + 30*time.Minute), ocpi.DimTime, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tariff := cleanTariff()
			tariff.Elements = append([]ocpi.TariffElement{tc.el}, tariff.Elements...)
			c := cleanCDR()
			c.StartDateTime, c.EndDateTime = tc.start, tc.start.Add(time.Hour)
			c.ChargingPeriods = []ocpi.ChargingPeriod{{StartDateTime: tc.start, TariffID: "T1", Dimensions: []ocpi.CDRDimension{
				{Type: ocpi.DimEnergy, Volume: dec("10")}, {Type: tc.dim, Volume: dec("1")}}}}
			if tc.dim == ocpi.DimParkingTime {
				c.ChargingPeriods[0].Dimensions[0].Volume = dec("0")
				c.TotalEnergy, c.TotalParkingTime = dec("0"), decNull("1")
			}
			opts := pricing.Options{TimeZone: time.UTC}
			res, err := pricing.Price(c, []ocpi.Tariff{*tariff}, opts)
			if err != nil {
				t.Fatal(err)
			}
			tt := &res.Totals
			for _, x := range []struct {
				p **ocpi.Price
				a pricing.Amount
			}{{&c.TotalCost, tt.TotalCost}, {&c.TotalFixedCost, tt.TotalFixedCost}, {&c.TotalEnergyCost, tt.TotalEnergyCost},
				{&c.TotalTimeCost, tt.TotalTimeCost}, {&c.TotalParkingCost, tt.TotalParkingCost}} {
				*x.p = &ocpi.Price{ExclVAT: x.a.Excl, InclVAT: decNullD(x.a.Incl)}
			}
			x := fullContext()
			x.Tariff, x.Priced, x.Stored = tariff, res, &MemoryStored{}
			fs := Validate(c, x)
			if flagged := fs.Has(CodePeriodNotSplit); flagged == tc.accept {
				t.Fatalf("the reference flags a boundary: %v, want %v (%v)", flagged, !tc.accept, fs)
			}
			sc := &Screen{Tariffs: []*ScreenTariff{NewScreenTariff(tariff, res.MinorUnits)}, Zones: []*time.Location{time.UTC},
				ZoneSources: []string{"location"}, Tokens: x.Tokens}
			if _, ok := sc.Screen(rowOf(c, res, x.Locations, false)); ok != tc.accept {
				t.Fatalf("screen accepted %v, want %v (findings %v, misses %v)", ok, tc.accept, fs, sc.Misses)
			}
			if tc.accept && len(fs) > 0 {
				t.Fatalf("accepted with findings %v", fs)
			}
		})
	}
}

// Accepted CDRs of one owner, currency and zone source share one group,
// which holds copies of the row's strings (a row's alias its batch, which
// is released after the screen reads it); the currency is upper-cased.
func TestScreenGroupsAcceptedCDRs(t *testing.T) {
	tariff, c, res, x := cleanScreened(t)
	sc := &Screen{Tariffs: []*ScreenTariff{NewScreenTariff(tariff, 2)}, Zones: []*time.Location{time.UTC, time.UTC},
		ZoneSources: []string{"location", "country"}, Tokens: x.Tokens, Received: map[string]bool{}}
	accept := func(zone int16, currency string) Accepted {
		t.Helper()
		r := rowOf(c, res, x.Locations, false)
		// The row's strings in memory of its own, overwritten once read.
		buf := []byte(r.CountryCode + r.PartyID + currency)
		cc, pid, cur := buf[:len(r.CountryCode)], buf[len(r.CountryCode):len(r.CountryCode)+len(r.PartyID)], buf[len(r.CountryCode)+len(r.PartyID):]
		r.CountryCode, r.PartyID, r.Currency = unsafe.String(&cc[0], len(cc)), unsafe.String(&pid[0], len(pid)), unsafe.String(&cur[0], len(cur))
		r.Zone = zone
		a, ok := sc.Screen(r)
		if !ok {
			t.Fatalf("zone %d, %s: not accepted", zone, currency)
		}
		for i := range buf {
			buf[i] = '#'
		}
		return a
	}
	first, second := accept(0, "eur"), accept(0, "eur")
	other := accept(1, "eur")
	again := accept(0, "eur")
	if first.AcceptedGroup != second.AcceptedGroup || first.AcceptedGroup != again.AcceptedGroup {
		t.Error("CDRs of one group do not share it")
	}
	if other.AcceptedGroup == first.AcceptedGroup || other.ZoneSource != "country" {
		t.Errorf("another zone source shares the group: %+v", *other.AcceptedGroup)
	}
	if g := *again.AcceptedGroup; g.CountryCode != c.CountryCode || g.PartyID != c.PartyID || g.Currency != "EUR" ||
		g.ZoneSource != "location" || g.MinorUnits != 2 {
		t.Errorf("group %+v: not the rows' values as they were read", g)
	}
}
