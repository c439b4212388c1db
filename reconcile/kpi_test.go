package reconcile

import (
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

func TestKPIs(t *testing.T) {
	ok := sessionCDR()
	billAs(t, ok, []ocpi.Tariff{v2}, baseOpts)
	bad := sessionCDR()
	bad.ID = "CDR2"
	billAs(t, bad, []ocpi.Tariff{v1}, baseOpts)
	tok := sessionCDR()
	tok.ID = "CDR3"
	billAs(t, tok, []ocpi.Tariff{v2}, baseOpts)
	evs := []*Evaluation{evaluate(t, ok, nil), evaluate(t, bad, nil),
		evaluate(t, tok, Findings{{Code: CodeUnknownToken, Severity: SeverityError}})}
	// Evaluate alone leaves Result unset (Reconcile sets it): no zones.
	rep := &Report{Period: "2026-10", Partner: "NL-EVB", Evaluations: evs}
	k := rep.KPIs(true)
	if k.CDRs != 3 || k.Accepted != 1 || *k.AcceptanceRate != "0.3333" || *k.DisputeRate != "0.6667" ||
		k.PricedInEffect != 3 || *k.TokenKnownRate != "0.6667" || k.StartSuccessRate != nil || k.ZoneResolvedRate != nil {
		t.Errorf("%+v", k)
	}
	if k := rep.KPIs(false); k.TokenKnownRate != nil {
		t.Error("token rate without a token list")
	}
	if k := (&Report{}).KPIs(true); k.AcceptanceRate != nil {
		t.Error("a rate of nothing")
	}
	var b strings.Builder
	if err := rep.WriteSummary(&b); err != nil || !strings.Contains(b.String(), "acceptance 33.33 %") {
		t.Errorf("%v\n%s", err, b.String())
	}
}

// Reconcile prices each CDR with the version in effect and says where the
// zone came from; a CDR priced with its embedded tariffs is not "in effect".
func TestReconcileKPIsZoneAndEmbedded(t *testing.T) {
	a := sessionCDR()
	billAs(t, a, []ocpi.Tariff{v2}, baseOpts)
	b := sessionCDR()
	b.ID, b.Tariffs = "CDR2", []ocpi.Tariff{v2}
	b.ChargingPeriods[0].TariffID = "OTHER"
	billAs(t, b, []ocpi.Tariff{v2}, baseOpts)
	in := &Input{PeriodName: "2026-10", Partner: "NL-EVB", CDRs: []*ocpi.CDR{a, b}, Zones: baseOpts.Zones,
		Policy: baseOpts.Policy, Versions: map[string][]ocpi.Tariff{"T1": {v1, v2}}}
	rep := Reconcile(in)
	k := rep.KPIs(false)
	if k.PricedInEffect != 1 || *k.ZoneResolvedRate != "1.0000" || k.ZoneSources["given"] != 2 {
		t.Errorf("%+v", k)
	}
	if rep.Evaluations[1].Verdict != VerdictOK || !rep.Evaluations[1].Versions[0].Embedded {
		t.Errorf("embedded: %v %+v", rep.Evaluations[1], rep.Evaluations[1].Versions)
	}
}
