package pricing

import (
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// InEffect returns the version of one tariff (all versions share owner and
// id) in effect at the session start: the greatest last_updated not after
// start whose [start_date_time, end_date_time) window contains start
// (digest §5.1). Tariff versions are append-only, so a later version that was
// published after the session started never re-prices it. ok is false when no
// version qualifies.
func InEffect(versions []ocpi.Tariff, start time.Time) (t *ocpi.Tariff, ok bool) {
	best := -1
	for i := range versions {
		v := &versions[i]
		if v.LastUpdated.After(start) {
			continue
		}
		if v.StartDateTime != nil && start.Before(*v.StartDateTime) {
			continue
		}
		if v.EndDateTime != nil && !start.Before(*v.EndDateTime) {
			continue
		}
		if best < 0 || v.LastUpdated.After(versions[best].LastUpdated) {
			best = i
		}
	}
	if best < 0 {
		return nil, false
	}
	return &versions[best], true
}

// TariffIDs returns the distinct tariff ids a CDR needs, in first-use order:
// those on its periods, else those of the connector (connectorTariffIDs, from
// the stored Location; a 2.1.1 CDR carries its own).
func TariffIDs(cdr *ocpi.CDR, connectorTariffIDs []string) []string {
	seen := map[string]bool{}
	var ids []string
	add := func(id string) {
		if k := ocpi.Key(id); k != "" && !seen[k] {
			seen[k] = true
			ids = append(ids, id)
		}
	}
	for _, p := range cdr.ChargingPeriods {
		add(p.TariffID)
	}
	if len(ids) == 0 {
		for _, id := range connectorTariffIDs {
			add(id)
		}
		for _, id := range cdr.Location.TariffIDs {
			add(id)
		}
	}
	return ids
}

// TariffHistory gives every stored version of a tariff; cmd wires the store.
type TariffHistory func(countryCode, partyID, tariffID string) []ocpi.Tariff

// Priced is a CDR priced twice: with the stored versions in effect and with
// the tariffs embedded in the CDR. A difference between the two is evidence
// of a tariff mismatch; a difference between Embedded and the CDR's own
// totals is a calculation dispute (digest §5.1).
type Priced struct {
	InEffect *Result // nil when no stored version was found
	Embedded *Result // nil when the CDR embeds no tariff
	Missing  []string
}

// PriceBoth prices a CDR with the versions in effect (from history) and,
// separately, with its embedded tariffs.
func PriceBoth(cdr *ocpi.CDR, history TariffHistory, connectorTariffIDs []string, opts Options) (Priced, error) {
	var out Priced
	var inEffect []ocpi.Tariff
	for _, id := range TariffIDs(cdr, connectorTariffIDs) {
		if t, ok := InEffect(history(cdr.CountryCode, cdr.PartyID, id), cdr.StartDateTime); ok {
			inEffect = append(inEffect, *t)
		} else {
			out.Missing = append(out.Missing, id)
		}
	}
	var err error
	if len(inEffect) > 0 {
		if out.InEffect, err = Price(cdr, inEffect, opts); err != nil {
			return out, err
		}
	}
	if len(cdr.Tariffs) > 0 {
		if out.Embedded, err = Price(cdr, cdr.Tariffs, opts); err != nil {
			return out, err
		}
	}
	return out, nil
}
