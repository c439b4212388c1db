package pricing

import (
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// A zone is loaded once per name: the same Location every time, and a
// name that is no zone stays an error.
func TestLoadZoneOncePerName(t *testing.T) {
	a, err := loadZone("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadZone("Europe/Amsterdam")
	if err != nil || a != b || a.String() != "Europe/Amsterdam" {
		t.Errorf("second load: %p %v, want %p: %v", b, b, a, err)
	}
	for range 2 {
		if loc, err := loadZone("Mars/Olympus_Mons"); err == nil {
			t.Errorf("Mars/Olympus_Mons loaded as %v", loc)
		}
	}
}

// BenchmarkResolveLocationZone is the zone lookup the reference makes for
// every CDR it prices (and reconciliation once per hypothesis): a stored
// location's zone name, then its Location.
func BenchmarkResolveLocationZone(b *testing.B) {
	cdr := &ocpi.CDR{CountryCode: "NL", PartyID: "ABC", Location: ocpi.CDRLocation{ID: "LOC1", Country: "NLD"}}
	opts := &Options{Zones: LocationZones(func(cc, pid, id string) (string, bool) { return "Europe/Amsterdam", true })}
	for b.Loop() {
		if z := resolveZone(cdr, opts); z.Name != "Europe/Amsterdam" || z.Source != ZoneLocation {
			b.Fatalf("resolved %+v", z)
		}
	}
}
