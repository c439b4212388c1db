package pricing

import (
	"fmt"
	"strings"
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

// VersionChoice says which version of one tariff SelectVersions took.
type VersionChoice struct {
	ID          string
	Versions    int       // distinct versions of the tariff given
	LastUpdated time.Time // of the version taken
	// InEffect is false when a single version was given and it was not in
	// effect at the session start: it is used as given.
	InEffect bool
}

// SelectVersions takes, of each tariff (owner and id) in tariffs, the
// version to price a session that started at start: the one in effect
// (InEffect, the rule reprice applies to stored versions). Copies of one
// version that price the same are one. A tariff given in one version only is
// used as given, and VersionChoice.InEffect says whether it was in effect.
// Several versions of which none was in effect, or two different tariffs
// with one id and last_updated, give a *NotPriceable error.
func SelectVersions(cdrID string, tariffs []ocpi.Tariff, start time.Time) ([]ocpi.Tariff, []VersionChoice, error) {
	groups := map[string][]ocpi.Tariff{}
	var order []string
	for _, t := range tariffs {
		k := ocpi.PartyKey(t.CountryCode, t.PartyID) + "*" + ocpi.Key(t.ID)
		vs, seen := groups[k]
		if !seen {
			order = append(order, k)
		}
		dup := false
		for i := range vs {
			if vs[i].LastUpdated.Equal(t.LastUpdated) {
				if !SamePricing(&vs[i], &t) {
					return nil, nil, &NotPriceable{Reason: ReasonAmbiguousTariff, CDRID: cdrID,
						Message: fmt.Sprintf("two different versions of tariff %s with last_updated %s: which one applies cannot be told", t.ID, ocpi.FormatDateTime(t.LastUpdated))}
				}
				dup = true
			}
		}
		if !dup {
			groups[k] = append(vs, t)
		}
	}
	out := make([]ocpi.Tariff, 0, len(order))
	choices := make([]VersionChoice, 0, len(order))
	for _, k := range order {
		vs := groups[k]
		t, ok := InEffect(vs, start)
		if !ok && len(vs) > 1 {
			dates := make([]string, len(vs))
			for i := range vs {
				dates[i] = ocpi.FormatDateTime(vs[i].LastUpdated)
			}
			return nil, nil, &NotPriceable{Reason: ReasonNoVersionInEffect, CDRID: cdrID,
				Message: fmt.Sprintf("none of the %d versions of tariff %s (last_updated %s) was in effect at the session start %s",
					len(vs), vs[0].ID, strings.Join(dates, ", "), ocpi.FormatDateTime(start))}
		}
		if !ok {
			t = &vs[0]
		}
		out = append(out, *t)
		choices = append(choices, VersionChoice{ID: t.ID, Versions: len(vs), LastUpdated: t.LastUpdated, InEffect: ok})
	}
	return out, choices, nil
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

// periodsNameTariff reports whether any charging period names its tariff:
// otherwise the tariffs are the connector's (TariffIDs).
func periodsNameTariff(cdr *ocpi.CDR) bool {
	for i := range cdr.ChargingPeriods {
		if ocpi.Key(cdr.ChargingPeriods[i].TariffID) != "" {
			return true
		}
	}
	return false
}

// withoutAdHoc leaves the AD_HOC_PAYMENT tariffs out of a connector's
// several tariffs when another remains (digest §5.1: a session paid ad hoc
// involves no eMSP, so an eMSP's CDR is never priced by one; the fallback
// is the single non-ad-hoc tariff), returning the ids left out.
func withoutAdHoc(ts []ocpi.Tariff) (kept []ocpi.Tariff, left []string) {
	if len(ts) < 2 {
		return ts, nil
	}
	for i := range ts {
		if ts[i].Type == ocpi.TariffAdHocPayment {
			left = append(left, ts[i].ID)
		} else {
			kept = append(kept, ts[i])
		}
	}
	if len(kept) == 0 {
		return ts, nil
	}
	return kept, left
}

// TariffHistory gives every stored version of a tariff; cmd wires the store.
type TariffHistory func(countryCode, partyID, tariffID string) []ocpi.Tariff

// Priced is a CDR priced twice: with the stored versions in effect and with
// the tariffs embedded in the CDR. A difference between the two is evidence
// of a tariff mismatch; a difference between Embedded and the CDR's own
// totals is a calculation dispute (digest §5.1).
type Priced struct {
	InEffect *Result // nil when no stored version was found
	Embedded *Result // nil when the CDR embeds no tariff, or they cannot price it
	// EmbeddedErr says why the embedded tariffs could not price the CDR (a
	// *NotPriceable: another currency, two different copies of one id). It
	// is evidence about the CDR, not a reason to leave it unpriced.
	EmbeddedErr error
	Missing     []string
}

// PriceBoth prices a CDR with the versions in effect (from history) and,
// separately, with its embedded tariffs. Its error is the in-effect
// pricing's; the embedded pricing's is Priced.EmbeddedErr.
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
		o := opts
		o.Readings = append(append([]ReadingCode(nil), opts.Readings...), ReadVersionInEffect)
		var adHoc []string
		if !periodsNameTariff(cdr) {
			if inEffect, adHoc = withoutAdHoc(inEffect); len(adHoc) > 0 {
				o.Readings = append(o.Readings, ReadConnectorAdHoc)
			}
		}
		if out.InEffect, err = Price(cdr, inEffect, o); err != nil {
			return out, err
		}
		if len(adHoc) > 0 {
			out.InEffect.warnf(WarnAdHocLeftOut, -1, "connector tariff %s left out: AD_HOC_PAYMENT prices sessions paid on the spot, never an eMSP's CDR",
				strings.Join(adHoc, ", "))
		}
	}
	if len(cdr.Tariffs) > 0 {
		out.Embedded, out.EmbeddedErr = Price(cdr, cdr.Tariffs, opts)
	}
	return out, nil
}
