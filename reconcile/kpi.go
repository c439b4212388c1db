package reconcile

import (
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/pricing"
)

// KPIs are a partner's period in figures (issue 13.6). Rates are decimal
// strings with 4 decimals (a share, not a percentage); a rate whose base is
// empty, or whose inputs are unknown (no token list), is null.
type KPIs struct {
	CDRs     int `json:"cdrs"`
	Accepted int `json:"accepted"`
	Disputed int `json:"disputed"`
	// AcceptanceRate is accepted / CDRs: OK and no error finding.
	AcceptanceRate *string `json:"acceptance_rate"`
	DisputeRate    *string `json:"dispute_rate"`
	// InDispute is the amount in dispute per currency (as the summary).
	InDispute map[string]*JSONAmount `json:"in_dispute"`
	// PricedInEffect counts the CDRs priced with a published tariff version
	// in effect at the session start (not the CDR's embedded copy, not
	// unpriced); PricedInEffectRate is its share of the CDRs.
	PricedInEffect     int     `json:"priced_in_effect"`
	PricedInEffectRate *string `json:"priced_in_effect_rate"`
	// ZoneSources counts the priced CDRs by where their local time zone
	// came from (location, country, coordinates, given, unresolved);
	// ZoneResolvedRate is the share not unresolved.
	ZoneSources      map[string]int `json:"zone_sources"`
	ZoneResolvedRate *string        `json:"zone_resolved_rate"`
	// TokenKnownRate is the share of CDRs whose token the eMSP issued
	// (authorization success, when the token list is known).
	TokenKnownRate *string `json:"token_known_rate"`
	// StartSuccessRate needs the sessions, which roamsettle does not hold:
	// always null.
	StartSuccessRate *string `json:"start_success_rate"`
	// Findings counts the findings by code.
	Findings map[string]int `json:"findings"`
}

func rate(n, of int) *string {
	if of == 0 {
		return nil
	}
	s := decimal.NewFromInt(int64(n)).DivRound(decimal.NewFromInt(int64(of)), 4).StringFixed(4)
	return &s
}

// KPIs computes the report's figures; tokensKnown says whether a token
// list was checked.
func (r *Report) KPIs(tokensKnown bool) KPIs {
	sm := r.Summary()
	k := KPIs{CDRs: sm.CDRs, Accepted: sm.Accepted, Disputed: sm.Disputed,
		InDispute: map[string]*JSONAmount{}, ZoneSources: map[string]int{}, Findings: map[string]int{}}
	for c, m := range sm.Currencies {
		k.InDispute[c] = m.InDispute
	}
	k.AcceptanceRate, k.DisputeRate = rate(k.Accepted, k.CDRs), rate(k.Disputed, k.CDRs)
	priced, resolved, unknownTokens := 0, 0, 0
	for _, ev := range r.Evaluations {
		if ev.Result != nil {
			priced++
			src := string(ev.Result.Zone.Source)
			k.ZoneSources[src]++
			if ev.Result.Zone.Source != pricing.ZoneUnresolved {
				resolved++
			}
		}
		if ev.Recomputed[TotalCost].HasExcl && len(ev.Versions) > 0 && !ev.Versions[0].Embedded {
			k.PricedInEffect++
		}
		if ev.Findings.Has(CodeUnknownToken) {
			unknownTokens++
		}
	}
	// Accepted CDRs are priced with the published version in effect.
	for i := range r.Accepted {
		priced++
		k.PricedInEffect++
		k.ZoneSources[r.Accepted[i].ZoneSource]++
		if r.Accepted[i].ZoneSource != string(pricing.ZoneUnresolved) {
			resolved++
		}
	}
	k.PricedInEffectRate, k.ZoneResolvedRate = rate(k.PricedInEffect, k.CDRs), rate(resolved, priced)
	if tokensKnown {
		k.TokenKnownRate = rate(k.CDRs-unknownTokens, k.CDRs)
	}
	for _, f := range r.Findings {
		k.Findings[string(f.Code)]++
	}
	return k
}
