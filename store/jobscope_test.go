package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/settle"
)

func partsByName(t *testing.T, s *Store, sel settle.Selection) map[string]settle.InputPart {
	t.Helper()
	ps, err := s.ScopeInputs(context.Background(), &sel)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]settle.InputPart{}
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

// The scope's inputs change when, and only when, something the run reads
// is added: a CDR of the period, a tariff or location version; a CDR of
// another period or of another owner, or a duplicate, changes nothing.
func TestScopeInputs(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	period := settle.Month(t0.Year(), t0.Month())
	owner := settle.NewParty("NL", "ABC")
	sel := settle.Scope{Period: period, Partner: owner}.Selection(nil)
	all := settle.Scope{Period: period}.Selection(nil)

	empty := partsByName(t, s, sel)
	if empty["cdrs"].Rows != 0 || len(empty) != 6 {
		t.Fatalf("empty database: %v", empty)
	}
	save(t, s, recvCDR(sampleCDR("A"), "a", 1), recvTariff(sampleTariff("12", t0.Add(-time.Hour)), "t", 2),
		recvLocation(sampleLocation("LOC1", "Europe/Amsterdam", t0.Add(-time.Hour)), "l", 3))
	one := partsByName(t, s, sel)
	if one["cdrs"].Rows != 1 || one["tariff_versions"].Rows != 1 || one["location_versions"].Rows != 1 {
		t.Fatalf("after one CDR, tariff and location: %v", one)
	}
	if again := partsByName(t, s, sel); again["cdrs"] != one["cdrs"] {
		t.Error("the same database gives other inputs")
	}
	// A duplicate, a CDR of another month and one of another owner.
	other := sampleCDR("NOV")
	other.StartDateTime, other.EndDateTime = t0.AddDate(0, 1, 0), t0.AddDate(0, 1, 0).Add(time.Hour)
	foreign := sampleCDR("F")
	foreign.PartyID = "XYZ"
	save(t, s, recvCDR(sampleCDR("A"), "a", 4), recvCDR(other, "n", 5), recvCDR(foreign, "f", 6))
	if got := partsByName(t, s, sel); got["cdrs"] != one["cdrs"] {
		t.Errorf("cdrs %v -> %v: a duplicate, another month's or another owner's CDR changed the scope", one["cdrs"], got["cdrs"])
	}
	if got := partsByName(t, s, all); got["cdrs"].Rows != 2 {
		t.Errorf("the all-partners scope has %d CDRs, want 2", got["cdrs"].Rows)
	}
	save(t, s, recvCDR(sampleCDR("B"), "b", 7))
	two := partsByName(t, s, sel)
	if two["cdrs"].Rows != 2 || two["cdrs"].Hash == one["cdrs"].Hash {
		t.Errorf("a new CDR: %v -> %v", one["cdrs"], two["cdrs"])
	}
	save(t, s, recvTariff(sampleTariff("12", t0), "t2", 8))
	if got := partsByName(t, s, sel); got["tariff_versions"].Rows != 2 || got["tariff_versions"].Hash == two["tariff_versions"].Hash {
		t.Errorf("a new tariff version: %v", got["tariff_versions"])
	}
	owners, err := s.ScopeOwners(ctx, &all)
	if err != nil || len(owners) != 2 || owners[0] != owner || owners[1] != settle.NewParty("NL", "XYZ") {
		t.Errorf("owners %v %v", owners, err)
	}
	// A and B of the period (not the duplicate, not November's), and F.
	counts, err := s.ScopeOwnerCDRs(ctx, &all)
	if want := []settle.OwnerCDRs{{Owner: owner, CDRs: 2}, {Owner: settle.NewParty("NL", "XYZ"), CDRs: 1}}; err != nil || !slices.Equal(counts, want) {
		t.Errorf("owner counts %v %v, want %v", counts, err, want)
	}
}

// SetRunInputs records a running run's inputs; reset forgets what an
// earlier attempt recorded.
func TestSetRunInputs(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	_, no := begin(t, s, octProv, "manual")
	if err := s.RecordRunStep(ctx, no, RunStep{Name: "price", Started: t0, Ended: t0, Outputs: []RunOutput{{Path: "/x"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunInputs(ctx, no, []byte(`{"digest":"a"}`), []byte(`{}`), false); err != nil {
		t.Fatal(err)
	}
	d, err := s.RunByNo(ctx, no)
	if err != nil || string(d.Inputs) != `{"digest":"a"}` || len(d.Steps) != 1 || len(d.Outputs) != 1 {
		t.Fatalf("%v %s %v %v", err, d.Inputs, d.Steps, d.Outputs)
	}
	if err := s.SetRunInputs(ctx, no, []byte(`{"digest":"b"}`), []byte(`{}`), true); err != nil {
		t.Fatal(err)
	}
	if d, _ = s.RunByNo(ctx, no); string(d.Inputs) != `{"digest":"b"}` || len(d.Steps) != 0 || len(d.Outputs) != 0 {
		t.Fatalf("after reset: %s %v %v", d.Inputs, d.Steps, d.Outputs)
	}
	if err := s.FinishRun(ctx, octProv, RunEnd{Status: RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunInputs(ctx, no, []byte(`{}`), nil, false); err == nil {
		t.Error("inputs set on a finished run")
	}
}
