package pricing

import (
	"strconv"
	"strings"
	"sync"

	"github.com/ringsaturn/tzf"

	"github.com/roamsettle/roamsettle/ocpi"
)

// CoordinateZones resolves a CDR's zone from its location's coordinates
// with an offline polygon lookup (github.com/ringsaturn/tzf, embedded
// boundaries). Building the finder takes about a second and tens of MB, so
// it is built once, on the first lookup, and shared; answers are cached per
// coordinate pair, so a location costs one lookup per run.
//
// Coordinates are only a place, never an amount: parsing them as float64 is
// the lookup's own interface.
//
// CDRs in the wild swap latitude and longitude (the OCPI 2.2.1 CDR example
// does): when the country has a single zone that the coordinates miss and
// the swapped pair hits, the swapped pair is used and the zone says so.
type CoordinateZones struct {
	once   sync.Once
	finder tzf.F
	err    error

	mu    sync.Mutex
	cache map[[2]string]string // (latitude, longitude) -> zone name, "" when none
}

var defaultCoordinateZones = &CoordinateZones{}

// DefaultCoordinateZones returns the process-wide resolver (one finder per
// process, whoever asks).
func DefaultCoordinateZones() *CoordinateZones { return defaultCoordinateZones }

// Lookup returns the IANA zone at the coordinates (OCPI strings, decimal
// degrees), or ok=false when they are unreadable, out of range or the
// finder could not be built.
func (c *CoordinateZones) Lookup(latitude, longitude string) (name string, ok bool) {
	key := [2]string{strings.TrimSpace(latitude), strings.TrimSpace(longitude)}
	c.mu.Lock()
	if name, hit := c.cache[key]; hit {
		c.mu.Unlock()
		return name, name != ""
	}
	c.mu.Unlock()
	name = c.find(key[0], key[1])
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[[2]string]string{}
	}
	c.cache[key] = name
	c.mu.Unlock()
	return name, name != ""
}

func (c *CoordinateZones) find(latitude, longitude string) string {
	lat, err1 := strconv.ParseFloat(latitude, 64)
	lng, err2 := strconv.ParseFloat(longitude, 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
		return ""
	}
	c.once.Do(func() { c.finder, c.err = tzf.NewDefaultFinder() })
	if c.err != nil {
		return ""
	}
	return c.finder.GetTimezoneName(lng, lat)
}

// ResolveZone implements ZoneResolver.
func (c *CoordinateZones) ResolveZone(cdr *ocpi.CDR) (ResolvedZone, bool) {
	co := cdr.Location.Coordinates
	if co.Latitude == "" || co.Longitude == "" {
		return ResolvedZone{}, false
	}
	name, ok := c.Lookup(co.Latitude, co.Longitude)
	note := ""
	if country, single := CountryZone(cdr.Location.Country); single && name != country {
		if swapped, sok := c.Lookup(co.Longitude, co.Latitude); sok && swapped == country {
			name, ok = swapped, true
			note = "latitude and longitude look swapped: " + co.Latitude + ", " + co.Longitude + " read as " + co.Longitude + ", " + co.Latitude
		} else if ok {
			note = "country " + cdr.Location.Country + " is otherwise " + country
		}
	}
	if !ok {
		return ResolvedZone{}, false
	}
	loc, err := loadZone(name)
	if err != nil {
		return ResolvedZone{}, false
	}
	return ResolvedZone{Loc: loc, Name: name, Source: ZoneCoordinates, Note: note}, true
}
