package reports

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/pricing"
)

// KPI is one rate of a partner's period: N of Of.
type KPI struct {
	// Key is the KPI's stable name (the JSON's); Name and Help are for
	// people.
	Key, Name, Help string
	N, Of           int64
}

// Rate is N / Of as a share with 4 decimals, rounded half away from zero
// (as reconcile's KPIs); false when Of is 0.
func (k KPI) Rate() (decimal.Decimal, bool) {
	if k.Of == 0 {
		return decimal.Decimal{}, false
	}
	return decimal.NewFromInt(k.N).DivRound(decimal.NewFromInt(k.Of), 4), true
}

// Percent is the rate as a percentage with 2 decimals ("95.12 %"), or
// "–" when Of is 0.
func (k KPI) Percent() string {
	r, ok := k.Rate()
	if !ok {
		return "–"
	}
	return r.Shift(2).StringFixed(2) + " %"
}

// KPIs are the period's rates, in the order the reports show them. The
// definitions are reconcile's (acceptance, dispute rate, priced with the
// version in effect, time zone resolved), plus the unverifiable share,
// the periods that span a price change and the share reconciled.
func (f *Figures) KPIs() []KPI {
	return []KPI{
		{"acceptance_rate", "CDR acceptance", "CDRs accepted: verdict OK and no error finding", f.CDRs - f.Disputed, f.CDRs},
		{"dispute_rate", "Dispute rate", "CDRs disputed: a mismatch, not verifiable, or an error finding", f.Disputed, f.CDRs},
		{"priced_in_effect_rate", "Priced with the version in effect", "CDRs priced with the published tariff version in effect at the session start", f.InEffect, f.CDRs},
		{"zone_resolved_rate", "Time zone resolved", "priced CDRs whose local time zone was found (location, country or coordinates)",
			f.Priced - f.ZoneSources[string(pricing.ZoneUnresolved)], f.Priced},
		{"unverifiable_share", "Not verifiable", "CDRs whose amount cannot be checked for want of an input", f.NotVerifiable, f.CDRs},
		{"span_price_change_share", "Periods spanning a price change", "CDRs with a charging period a tariff boundary falls inside", f.SpanPriceChange, f.CDRs},
		{"reconciled_share", "Reconciled", "CDRs of the period with a reconciliation result", f.Reconciled, f.CDRs},
	}
}

// KPIReport is a partner's period in figures: the scope, the rates and
// the counts they come from, the money per currency, the latencies and
// the days. Its JSON is the KPI report's machine-readable file.
type KPIReport struct {
	Scope   Scope
	Figures Figures
}

// JSON forms: amounts and rates as decimal strings, never floats.
type (
	jsonKPI struct {
		N    int64   `json:"n"`
		Of   int64   `json:"of"`
		Rate *string `json:"rate"`
	}
	jsonCurrency struct {
		CDRs       int64   `json:"cdrs"`
		Billed     *string `json:"billed_excl_vat"`
		Recomputed *string `json:"recomputed_excl_vat"`
		Disputes   int64   `json:"disputes"`
		InDispute  string  `json:"in_dispute_excl_vat"`
	}
	jsonLatency struct {
		CDRs    int64            `json:"cdrs"`
		Unknown int64            `json:"unknown"`
		P50     int64            `json:"p50_seconds"`
		P90     int64            `json:"p90_seconds"`
		P99     int64            `json:"p99_seconds"`
		Max     int64            `json:"max_seconds"`
		Buckets map[string]int64 `json:"buckets"`
	}
	jsonDay struct {
		Date          string `json:"date"`
		CDRs          int64  `json:"cdrs"`
		OK            int64  `json:"ok"`
		Mismatch      int64  `json:"mismatch"`
		NotVerifiable int64  `json:"not_verifiable"`
		Disputed      int64  `json:"disputed"`
	}
	jsonKPIReport struct {
		Format      string                  `json:"format"`
		Partner     string                  `json:"partner"`
		Period      string                  `json:"period"`
		From        string                  `json:"from"`
		To          string                  `json:"to"`
		TimeZone    string                  `json:"time_zone"`
		AsOf        string                  `json:"as_of"`
		CDRs        int64                   `json:"cdrs"`
		Verdicts    map[string]int64        `json:"verdicts"`
		Accepted    int64                   `json:"accepted"`
		Disputed    int64                   `json:"disputed"`
		KPIs        map[string]jsonKPI      `json:"kpis"`
		Currencies  map[string]jsonCurrency `json:"currencies"`
		ByReason    map[string]int64        `json:"by_reason"`
		Findings    map[string]int64        `json:"findings"`
		ZoneSources map[string]int64        `json:"zone_sources"`
		States      map[string]int64        `json:"dispute_states"`
		IssueDelay  jsonLatency             `json:"issue_delay"`
		Delivery    jsonLatency             `json:"delivery_latency"`
		Days        []jsonDay               `json:"days"`
	}
)

// FormatVersion names the reports' formats; a change to the JSON's
// meaning gets a new version.
const FormatVersion = "roamsettle.reports/1"

// RenderKPIJSON writes the KPI report as one indented JSON object (keys
// sorted, so the bytes depend only on the figures).
func RenderKPIJSON(w io.Writer, r *KPIReport) error {
	s, f := &r.Scope, &r.Figures
	out := jsonKPIReport{Format: FormatVersion, Partner: s.Partner, Period: s.Period,
		From: s.From.UTC().Format(time.RFC3339), To: s.To.UTC().Format(time.RFC3339), TimeZone: s.ZoneName(),
		AsOf: s.AsOf.UTC().Format(time.RFC3339), CDRs: f.CDRs, Accepted: f.CDRs - f.Disputed, Disputed: f.Disputed,
		Verdicts: map[string]int64{"OK": f.OK, "MISMATCH": f.Mismatch, "NOT_VERIFIABLE": f.NotVerifiable},
		KPIs:     map[string]jsonKPI{}, Currencies: map[string]jsonCurrency{}, ByReason: nonNil(f.ByReason), Findings: map[string]int64{},
		ZoneSources: nonNil(f.ZoneSources), States: nonNil(f.States), IssueDelay: latencyJSON(f.IssueDelay), Delivery: latencyJSON(f.Delivery),
		Days: []jsonDay{}}
	for _, k := range f.KPIs() {
		j := jsonKPI{N: k.N, Of: k.Of}
		if r, ok := k.Rate(); ok {
			s := r.StringFixed(4)
			j.Rate = &s
		}
		out.KPIs[k.Key] = j
	}
	for _, c := range f.Currencies {
		m := int32(c.MinorUnits)
		j := jsonCurrency{CDRs: c.CDRs, Disputes: c.Disputes, InDispute: c.InDispute.StringFixed(m)}
		if c.BilledCDRs > 0 {
			s := c.Billed.StringFixed(m)
			j.Billed = &s
		}
		if c.RecomputedCDRs > 0 {
			s := c.Recomputed.StringFixed(m)
			j.Recomputed = &s
		}
		out.Currencies[c.Currency] = j
	}
	for _, fc := range f.Findings {
		out.Findings[fc.Code] = fc.CDRs
	}
	for _, d := range f.Days {
		out.Days = append(out.Days, jsonDay{Date: d.Date.Format("2006-01-02"), CDRs: d.CDRs, OK: d.OK, Mismatch: d.Mismatch,
			NotVerifiable: d.NotVerifiable, Disputed: d.Disputed})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

func latencyJSON(l Latency) jsonLatency {
	j := jsonLatency{CDRs: l.CDRs, Unknown: l.Unknown, P50: l.P50, P90: l.P90, P99: l.P99, Max: l.Max, Buckets: map[string]int64{}}
	for i, n := range l.Buckets {
		j.Buckets[latencyKeys[i]] = n
	}
	return j
}

var latencyKeys = [5]string{"up_to_1h", "up_to_24h", "up_to_72h", "up_to_7d", "over_7d"}

// sortedCounts lists a map's entries by descending count, then key.
func sortedCounts(m map[string]int64) []struct {
	Key string
	N   int64
} {
	out := make([]struct {
		Key string
		N   int64
	}, 0, len(m))
	for k, n := range m {
		out = append(out, struct {
			Key string
			N   int64
		}{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// currencyLabel names a currency in the documents ("" is none stated).
func currencyLabel(c string) string {
	if c == "" {
		return "(none)"
	}
	return c
}

// duration writes seconds as "3 h 05 min", "2 d 04 h", "45 s".
func duration(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d < time.Minute:
		return itoa(sec) + " s"
	case d < time.Hour:
		return itoa(sec/60) + " min"
	case d < 48*time.Hour:
		return itoa(sec/3600) + " h " + pad2(sec%3600/60) + " min"
	}
	return itoa(sec/86400) + " d " + pad2(sec%86400/3600) + " h"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pad2(n int64) string {
	if n < 10 {
		return "0" + itoa(n)
	}
	return itoa(n)
}
