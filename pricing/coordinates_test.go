package pricing

import (
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

func cdrAt(country, lat, lng string) *ocpi.CDR {
	c := mkCDR(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), seg{min: 60, energy: "10", charging: true})
	c.Location = ocpi.CDRLocation{ID: "L", Country: country, Coordinates: ocpi.GeoLocation{Latitude: lat, Longitude: lng}}
	return c
}

// The coordinates resolver builds its finder once (about a second), so the
// cases share it.
func TestCoordinateZones(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tzf finder (about a second)")
	}
	rows := []struct {
		name, country, lat, lng string
		want                    string
		note                    string
	}{
		{"Berlin", "DEU", "52.520008", "13.404954", "Europe/Berlin", ""},
		{"Amsterdam", "NLD", "52.367600", "4.904100", "Europe/Amsterdam", ""},
		{"New York (several zones in the country)", "USA", "40.712776", "-74.005974", "America/New_York", ""},
		{"Tokyo", "JPN", "35.676200", "139.650300", "Asia/Tokyo", ""},
		// IRL and IRN differ by one letter; the coordinates tell them apart.
		{"Dublin", "IRL", "53.349805", "-6.260310", "Europe/Dublin", ""},
		{"Tehran", "IRN", "35.689200", "51.389000", "Asia/Tehran", ""},
		{"Dublin coordinates, Iran's code", "IRN", "53.349805", "-6.260310", "Europe/Dublin", "country IRN is otherwise Asia/Tehran"},
		// The OCPI 2.2.1 CDR example swaps them: Gent is 51.05 N, 3.73 E.
		{"swapped, as in the spec's CDR example", "BEL", "3.729944", "51.047599", "Europe/Brussels", "latitude and longitude look swapped"},
	}
	z := DefaultCoordinateZones()
	for _, r := range rows {
		got, ok := z.ResolveZone(cdrAt(r.country, r.lat, r.lng))
		if !ok || got.Name != r.want || got.Source != ZoneCoordinates || got.Loc == nil || got.Loc.String() != r.want {
			t.Errorf("%s: %+v, %v; want %s", r.name, got, ok, r.want)
		}
		if (r.note == "") != (got.Note == "") || !strings.Contains(got.Note, r.note) {
			t.Errorf("%s: note %q, want %q", r.name, got.Note, r.note)
		}
	}
	for _, bad := range [][2]string{{"", ""}, {"north", "13.4"}, {"91", "0"}, {"0", "181"}} {
		if got, ok := z.ResolveZone(cdrAt("DEU", bad[0], bad[1])); ok {
			t.Errorf("coordinates %q resolved to %+v", bad, got)
		}
	}
	// Plugged into the chain, the zone prices the restrictions and is flagged.
	res, err := Price(cdrAt("USA", "40.712776", "-74.005974"), []ocpi.Tariff{*energyOnly("0.25", 1)},
		Options{Zones: ZoneChain{EmbeddedZone{}, z}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Zone.Name != "America/New_York" || !res.HasWarning(WarnZoneFromCoordinates) {
		t.Errorf("zone %+v, warnings %+v", res.Zone, res.Warnings)
	}
	if local := res.Periods()[0].Local; local.Hour() != 7 {
		t.Errorf("local start %s, want 07:00 in New York", local)
	}
}

// BenchmarkCoordinateLookup is a lookup of coordinates not seen before
// (the finder is built before the timer starts).
func BenchmarkCoordinateLookup(b *testing.B) {
	z := &CoordinateZones{}
	z.Lookup("52.52", "13.40")
	lats := []string{"52.52", "48.85", "40.71", "35.67", "53.34", "35.68"}
	lngs := []string{"13.40", "2.35", "-74.00", "139.65", "-6.26", "51.38"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		z.find(lats[i%len(lats)], lngs[i%len(lngs)])
	}
}
