package synth

import (
	"context"
	"strings"
	"testing"
)

// Twenty parties: the default eight unchanged, twelve more with their own
// currencies, and every clean CDR of each reprices to its billed amounts.
func TestTwentyPartiesRepriceExactly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CDRs, cfg.Seed, cfg.Parties = 6000, 11, 20
	dir := t.TempDir()
	sum, err := Generate(context.Background(), cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Parties) != 20 {
		t.Fatalf("%d parties, want 20", len(sum.Parties))
	}
	seen := map[string]bool{}
	for i, p := range sum.Parties {
		key := p.CountryCode + "-" + p.PartyID
		if seen[key] {
			t.Errorf("party %s twice", key)
		}
		seen[key] = true
		if i < len(defaultParties) && p.PartyID != defaultParties[i].partyID {
			t.Errorf("party %d is %s, want the default %s first", i, key, defaultParties[i].partyID)
		}
		if p.CDRLines < 100 {
			t.Errorf("%s has %d CDRs of 6000 sessions", key, p.CDRLines)
		}
	}
	out, err := loadOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	checked := checkCleanCDRs(t, out)
	for _, cur := range []string{"PLN", "SEK", "DKK", "CZK", "NOK", "CHF"} {
		if checked[cur] < 50 {
			t.Errorf("only %d clean %s CDRs checked", checked[cur], cur)
		}
	}
}

func TestPartiesOutOfRange(t *testing.T) {
	for _, n := range []int{-1, 21} {
		cfg := DefaultConfig()
		cfg.CDRs, cfg.Parties = 10, n
		_, err := Generate(context.Background(), cfg, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "between 1 and 20") {
			t.Errorf("Parties %d: %v, want an error naming the range", n, err)
		}
	}
}
