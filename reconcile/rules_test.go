package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func price(excl, incl string) *ocpi.Price {
	p := &ocpi.Price{ExclVAT: dec(excl)}
	if incl != "" {
		p.InclVAT = decimal.NewNullDecimal(dec(incl))
	}
	return p
}

var t0 = time.Date(2026, 10, 12, 8, 0, 0, 0, time.UTC)

// cleanCDR is a minimal 2.2.1 CDR that breaks no rule: one hour of
// charging at 0.25/kWh (10 kWh, 2.50) plus a 0.50 start fee, 21 % VAT.
func cleanCDR() *ocpi.CDR {
	return &ocpi.CDR{Version: ocpi.V221, CountryCode: "NL", PartyID: "EVB", ID: "CDR1",
		StartDateTime: t0, EndDateTime: t0.Add(time.Hour),
		Token:    ocpi.CDRToken{CountryCode: "NL", PartyID: "RSM", UID: "AA01", Type: "RFID", ContractID: "NL-RSM-C1"},
		Location: ocpi.CDRLocation{ID: "LOC1", Address: "Damrak 1", City: "Amsterdam", Country: "NLD", EVSEUID: "EVSE1", EVSEID: "NL*EVB*E1", ConnectorID: "1"},
		Currency: "EUR",
		ChargingPeriods: []ocpi.ChargingPeriod{{StartDateTime: t0, TariffID: "T1", Dimensions: []ocpi.CDRDimension{
			{Type: ocpi.DimEnergy, Volume: dec("10")}, {Type: ocpi.DimTime, Volume: dec("1")}}}},
		TotalCost:        price("3.00", "3.63"),
		TotalFixedCost:   price("0.50", "0.61"),
		TotalEnergy:      dec("10"),
		TotalEnergyCost:  price("2.50", "3.03"),
		TotalTime:        dec("1"),
		TotalTimeCost:    price("0", "0"),
		TotalParkingCost: price("0", "0"),
	}
}

func cleanTariff() *ocpi.Tariff {
	vat := decimal.NewNullDecimal(dec("21"))
	return &ocpi.Tariff{Version: ocpi.V221, CountryCode: "NL", PartyID: "EVB", ID: "T1", Currency: "EUR",
		Elements: []ocpi.TariffElement{{PriceComponents: []ocpi.PriceComponent{
			{Type: ocpi.TariffDimFlat, Price: dec("0.50"), VAT: vat, StepSize: 1},
			{Type: ocpi.TariffDimEnergy, Price: dec("0.25"), VAT: vat, StepSize: 1}}}},
		LastUpdated: t0.Add(-30 * 24 * time.Hour)}
}

// fullContext enables every rule; the clean CDR passes all of them.
func fullContext() *Context {
	tok := NewTokens()
	tok.Add("AA01", "NL-RSM-C1")
	locs := NewLocations()
	locs.Add("NL", "EVB", "LOC1", "EVSE1")
	orig := cleanCDR()
	orig.ID = "CDR0"
	return &Context{
		Period:    Window{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Name: "2026-10"},
		Tokens:    tok,
		Locations: locs,
		Stored:    &MemoryStored{CDRs: map[string]*ocpi.CDR{IdentityKey("NL", "EVB", "CDR0"): orig}},
		Tariff:    cleanTariff(),
		Priced:    &pricing.Result{},
	}
}

func TestCleanCDRPassesEveryRule(t *testing.T) {
	if fs := Validate(cleanCDR(), fullContext()); len(fs) != 0 {
		t.Fatalf("clean CDR: %v", fs)
	}
	// A credit of it, referencing a CDR we hold, passes too.
	c := cleanCDR()
	c.ID, c.Credit, c.CreditReferenceID = "CDR0-C", true, "CDR0"
	c.TotalCost = price("-3.00", "-3.63")
	if fs := Validate(c, fullContext()); len(fs) != 0 {
		t.Fatalf("credit CDR: %v", fs)
	}
}

// Each rule with a minimal CDR that triggers it (the field it names and
// whether it blocks) and one that does not (a near miss, with the context
// the rule needs).
func TestEachRule(t *testing.T) {
	type mut func(c *ocpi.CDR, x *Context)
	cases := []struct {
		code     Code
		field    string
		blocking bool
		trigger  mut
		pass     mut
	}{
		{CodeMissingField, "cdr_token.contract_id", false,
			func(c *ocpi.CDR, _ *Context) { c.Token.ContractID = "" },
			func(c *ocpi.CDR, _ *Context) { c.SessionID = "" }}, // optional: not missing
		{CodeMissingField, "auth_id", false,
			func(c *ocpi.CDR, _ *Context) { c.Version, c.Token = ocpi.V211, ocpi.CDRToken{} },
			func(c *ocpi.CDR, _ *Context) { c.Version, c.Token = ocpi.V211, ocpi.CDRToken{ContractID: "NL-RSM-C1"} }},
		{CodeMissingField, "cdr_location.address", false,
			func(c *ocpi.CDR, _ *Context) { c.Location.Address = "" },
			func(c *ocpi.CDR, _ *Context) { c.Location.PostalCode = "" }},
		{CodeMissingField, "currency", true,
			func(c *ocpi.CDR, _ *Context) { c.Currency = "" }, nil},
		{CodeMissingField, "charging_periods", true,
			func(c *ocpi.CDR, _ *Context) { c.ChargingPeriods = nil }, nil},
		{CodeMissingField, "total_cost", true,
			func(c *ocpi.CDR, _ *Context) { c.TotalCost = nil },
			func(c *ocpi.CDR, _ *Context) { c.TotalCost = price("0", "0"); c.TotalFixedCost = nil }}, // a stated 0 is an amount
		{CodeMissingField, "stop_date_time", true,
			func(c *ocpi.CDR, _ *Context) {
				c.Version, c.EndDateTime = ocpi.V211, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
				c.Token = ocpi.CDRToken{ContractID: "NL-RSM-C1"}
			}, nil},
		{CodeMissingField, "total_energy", false,
			func(_ *ocpi.CDR, x *Context) {
				x.Problems = ocpi.Problems{{Path: "total_energy", Rule: ocpi.RuleRequired, Message: "required field is missing"}}
			},
			func(_ *ocpi.CDR, x *Context) {
				x.Problems = ocpi.Problems{{Path: "total_energy", Rule: ocpi.RuleTotals, Message: "differs"}}
			}},
		{CodeCurrencyMismatch, "currency", true,
			func(c *ocpi.CDR, _ *Context) { c.Currency = "USD" },
			func(c *ocpi.CDR, _ *Context) { c.Currency = "eur" }},
		{CodeTaxInconsistent, "total_energy_cost", false,
			func(c *ocpi.CDR, x *Context) { c.TotalEnergyCost = price("2.50", "2.40"); x.Tariff = nil },
			func(c *ocpi.CDR, x *Context) { c.TotalEnergyCost = price("2.50", "2.50"); x.Tariff = nil }}, // 0 % tax
		{CodeTaxInconsistent, "total_cost", false, // 19 % billed where every component has 21 %
			func(c *ocpi.CDR, _ *Context) { c.TotalCost = price("30.00", "35.70") },
			func(c *ocpi.CDR, _ *Context) { c.TotalCost = price("30.00", "36.31") }}, // within rounding of 36.30
		{CodeTotalsInconsistent, "total_cost", false,
			func(c *ocpi.CDR, _ *Context) { c.TotalCost = price("3.10", "3.75") },
			func(c *ocpi.CDR, _ *Context) { c.TotalCost = price("3.02", "3.65") }}, // 4 parts, each rounded: within 0.04
		{CodeVolumesInconsistent, "total_energy", false,
			func(c *ocpi.CDR, _ *Context) { c.TotalEnergy = dec("10.5") },
			func(c *ocpi.CDR, _ *Context) { c.TotalEnergy = dec("10.001") }},
		{CodeVolumesInconsistent, "charging_periods[0]", false,
			func(c *ocpi.CDR, _ *Context) {
				c.ChargingPeriods[0].Dimensions[1].Volume = dec("0.7")
				c.ChargingPeriods[0].Dimensions = append(c.ChargingPeriods[0].Dimensions, ocpi.CDRDimension{Type: ocpi.DimParkingTime, Volume: dec("0.5")})
				c.TotalParkingTime = decimal.NewNullDecimal(dec("0.5"))
				c.TotalTime = dec("1.2")
			},
			func(c *ocpi.CDR, _ *Context) {
				c.ChargingPeriods[0].Dimensions[1].Volume = dec("0.5")
				c.ChargingPeriods[0].Dimensions = append(c.ChargingPeriods[0].Dimensions, ocpi.CDRDimension{Type: ocpi.DimParkingTime, Volume: dec("0.5")})
				c.TotalParkingTime = decimal.NewNullDecimal(dec("0.5"))
			}},
		{CodePeriodsOrder, "charging_periods[1].start_date_time", false,
			func(c *ocpi.CDR, _ *Context) {
				c.ChargingPeriods = append(c.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: t0.Add(-time.Minute),
					Dimensions: []ocpi.CDRDimension{{Type: ocpi.DimTime, Volume: dec("0")}}})
			},
			func(c *ocpi.CDR, _ *Context) {
				c.ChargingPeriods = append(c.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: t0.Add(30 * time.Minute),
					Dimensions: []ocpi.CDRDimension{{Type: ocpi.DimTime, Volume: dec("0")}}})
			}},
		{CodePeriodNotSplit, "charging_periods[0]", false,
			func(_ *ocpi.CDR, x *Context) {
				x.Priced.Warnings = []pricing.Warning{{Code: pricing.WarnBoundaryInPeriod, Period: 0, Message: "18:00 inside"}}
			},
			func(_ *ocpi.CDR, x *Context) {
				x.Priced.Warnings = []pricing.Warning{{Code: pricing.WarnZoneFromCountry, Period: -1, Message: "zone"}}
			}},
		{CodeRestrictionUnchecked, "charging_periods[0].dimensions", false,
			func(_ *ocpi.CDR, x *Context) {
				x.Priced.Warnings = []pricing.Warning{{Code: pricing.WarnUnverifiable, Period: 0, Message: "max_power without MAX_POWER"}}
			}, nil},
		{CodeSessionTooLong, "end_date_time", false,
			func(c *ocpi.CDR, _ *Context) { c.EndDateTime = t0.Add(25 * time.Hour) },
			func(c *ocpi.CDR, _ *Context) { c.EndDateTime = t0.Add(23 * time.Hour) }},
		{CodeOutsidePeriod, "end_date_time", false,
			func(c *ocpi.CDR, x *Context) { x.Period.To = t0.Add(time.Hour) }, // the end is exclusive
			func(c *ocpi.CDR, x *Context) { x.Period.From = t0.Add(time.Hour) }},
		{CodeDuplicate, "id", false,
			func(_ *ocpi.CDR, x *Context) { x.Stored.(*MemoryStored).Duplicates = map[string]int{"NL-EVB/CDR1": 1} },
			func(_ *ocpi.CDR, x *Context) { x.Stored.(*MemoryStored).Duplicates = map[string]int{"NL-EVB/CDR2": 1} }},
		{CodeConflict, "id", false,
			func(_ *ocpi.CDR, x *Context) { x.Stored.(*MemoryStored).Conflicts = map[string]int{"NL-EVB/CDR1": 2} },
			func(_ *ocpi.CDR, x *Context) { x.Stored.(*MemoryStored).Conflicts = map[string]int{"DE-EVB/CDR1": 1} }},
		{CodeCreditUnreferenced, "credit_reference_id", false,
			func(c *ocpi.CDR, _ *Context) {
				c.Credit, c.CreditReferenceID, c.TotalCost = true, "CDR9", price("-3.00", "-3.63")
			},
			func(c *ocpi.CDR, _ *Context) {
				c.Credit, c.CreditReferenceID, c.TotalCost = true, "cdr0", price("-3.00", "-3.63")
			}},
		{CodeCreditAmount, "total_cost", false,
			func(c *ocpi.CDR, _ *Context) {
				c.Credit, c.CreditReferenceID, c.TotalCost = true, "CDR0", price("-3.10", "-3.63")
			},
			func(c *ocpi.CDR, _ *Context) {
				c.Credit, c.CreditReferenceID, c.TotalCost = true, "CDR0", price("-3.000", "-3.6300")
			}},
		{CodeUnknownToken, "cdr_token.uid", false,
			func(c *ocpi.CDR, _ *Context) { c.Token.UID = "F00D" },
			func(c *ocpi.CDR, _ *Context) { c.Token.UID = "aa01" }},
		{CodeUnknownToken, "auth_id", false,
			func(c *ocpi.CDR, _ *Context) { c.Version, c.Token = ocpi.V211, ocpi.CDRToken{ContractID: "NL-RSM-X9"} },
			func(c *ocpi.CDR, _ *Context) { c.Version, c.Token = ocpi.V211, ocpi.CDRToken{ContractID: "NL-RSM-C1"} }},
		{CodeUnknownLocation, "cdr_location.id", false,
			func(c *ocpi.CDR, _ *Context) { c.Location.ID = "LOC2" },
			func(c *ocpi.CDR, _ *Context) { c.CountryCode = "DE" }}, // an owner that published nothing: not checked
		{CodeUnknownEVSE, "cdr_location.evse_uid", false,
			func(c *ocpi.CDR, _ *Context) { c.Location.EVSEUID = "EVSE2" },
			func(c *ocpi.CDR, _ *Context) { c.Location.EVSEUID = "#NA" }}, // reservation-only CDR
	}
	seen := map[Code]bool{}
	for _, tc := range cases {
		seen[tc.code] = true
		c, x := cleanCDR(), fullContext()
		tc.trigger(c, x)
		fs := Check(tc.code, c, x)
		found := false
		for _, f := range fs {
			if f.Field == tc.field {
				found = true
				if f.Blocking != tc.blocking {
					t.Errorf("%s at %s: blocking %v, want %v", tc.code, tc.field, f.Blocking, tc.blocking)
				}
				if f.CDRID != c.ID || f.Message == "" || f.Severity == "" {
					t.Errorf("%s: incomplete finding %+v", tc.code, f)
				}
			}
		}
		if !found {
			t.Errorf("%s: trigger did not report %s: %v", tc.code, tc.field, fs)
		}
		if tc.pass != nil {
			c, x := cleanCDR(), fullContext()
			tc.pass(c, x)
			if fs := Check(tc.code, c, x); len(fs) != 0 {
				t.Errorf("%s (%s): near miss reported %v", tc.code, tc.field, fs)
			}
		}
	}
	for _, r := range Rules {
		if !seen[r.Code] {
			t.Errorf("rule %s has no test case", r.Code)
		}
	}
}

// Without its context a rule is not checked: no guess.
func TestRulesWithoutContext(t *testing.T) {
	c := cleanCDR()
	c.Token.UID, c.Location.ID, c.Currency = "F00D", "LOC9", "USD"
	c.Credit, c.CreditReferenceID, c.TotalCost = true, "CDR9", price("-3.00", "-3.63")
	for _, f := range Validate(c, nil) {
		switch f.Code {
		case CodeUnknownToken, CodeUnknownLocation, CodeCurrencyMismatch, CodeCreditUnreferenced, CodeDuplicate:
			t.Errorf("checked without context: %v", f)
		}
	}
}

func TestReadTokens(t *testing.T) {
	nd := `{"country_code":"NL","party_id":"RSM","uid":"AA01","type":"RFID","contract_id":"NL-RSM-C1"}
{"uid":"BB02","auth_id":"NL-RSM-C2"}
`
	tk, err := ReadTokens(strings.NewReader(nd))
	if err != nil {
		t.Fatal(err)
	}
	if !tk.Known(&ocpi.CDRToken{UID: "aa01"}, ocpi.V221) || !tk.Known(&ocpi.CDRToken{ContractID: "NL-RSM-C2"}, ocpi.V211) ||
		tk.Known(&ocpi.CDRToken{UID: "CC03"}, ocpi.V221) {
		t.Fatal("token lookups wrong")
	}
	arr, err := ReadTokens(strings.NewReader(` [{"uid":"X1","contract_id":"C"}]`))
	if err != nil || !arr.Known(&ocpi.CDRToken{UID: "X1"}, ocpi.V230) {
		t.Fatalf("array: %v", err)
	}
	if _, err := ReadTokens(strings.NewReader("uid,contract\n")); err == nil {
		t.Fatal("CSV accepted as tokens")
	}
}

func TestSortFindingsIsRuleOrder(t *testing.T) {
	fs := []Finding{{CDRID: "B", Code: CodeUnknownToken}, {CDRID: "A", Code: CodeUnknownToken}, {CDRID: "A", Code: CodeMissingField}}
	SortFindings(fs)
	if fs[0].CDRID != "A" || fs[0].Code != CodeMissingField || fs[2].CDRID != "B" {
		t.Fatalf("%v", fs)
	}
}
