package pricing

import (
	"sync"
	"time"
)

// zones caches loadZone's answers by name. time.LoadLocation opens and
// parses the zone's file on every call, and the zone chain resolves a zone
// for every CDR priced by the reference, once per hypothesis in
// reconciliation: uncached, that was most of a reconciliation's time.
// A *time.Location never changes, so one is shared by every caller.
var zones sync.Map // name -> zoneAnswer

type zoneAnswer struct {
	loc *time.Location
	err error
}

// loadZone is time.LoadLocation, once per name.
func loadZone(name string) (*time.Location, error) {
	if a, ok := zones.Load(name); ok {
		return a.(zoneAnswer).loc, a.(zoneAnswer).err
	}
	loc, err := time.LoadLocation(name)
	zones.Store(name, zoneAnswer{loc, err})
	return loc, err
}
