package main

import (
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/settle"
)

// partnerPolicies reads the per-partner settlement keys of the config.
func partnerPolicies(cfg Config) (map[settle.Party]settle.Policy, error) {
	out := map[settle.Party]settle.Policy{}
	for i, p := range cfg.Partners {
		pol, err := p.pricingPolicy()
		if err != nil {
			return nil, fmt.Errorf("config partners[%d]: %w", i, err)
		}
		sp := settle.Policy{Pricing: pol}
		if p.PeriodTimeZone != "" {
			if sp.Zone, err = time.LoadLocation(p.PeriodTimeZone); err != nil {
				return nil, fmt.Errorf("config partners[%d].period_time_zone: %w", i, err)
			}
		}
		out[settle.NewParty(p.CountryCode, p.PartyID)] = sp
	}
	return out, nil
}

// pricingPolicy is the partner's policy: the default with the keys it sets.
// Re-pricing writes totals rounded to minor units, so the level is "total"
// or "line".
func (p PartnerConfig) pricingPolicy() (pricing.Policy, error) {
	pol := pricing.DefaultPolicy()
	if p.RoundingMode != "" {
		pol.Mode = pricing.RoundingMode(p.RoundingMode)
	}
	if p.RoundingLevel != "" {
		pol.Level = pricing.RoundingLevel(p.RoundingLevel)
		if pol.Level == pricing.RoundNone {
			return pol, fmt.Errorf("rounding_level %q: want total or line", p.RoundingLevel)
		}
	}
	if p.StepReading != "" {
		pol.Step = pricing.StepReading(p.StepReading)
	}
	if err := pol.Validate(); err != nil {
		return pol, fmt.Errorf("pricing policy: %w (rounding_mode half_up|half_even, rounding_level total|line, step_reading 2.2.1-d2|2.2.1-tag)", err)
	}
	if p.PeriodTimeZone != "" {
		if _, err := time.LoadLocation(p.PeriodTimeZone); err != nil {
			return pol, fmt.Errorf("period_time_zone %q: not an IANA zone", p.PeriodTimeZone)
		}
	}
	return pol, nil
}
