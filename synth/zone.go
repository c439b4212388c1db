package synth

import "time"

// zoneTable answers "what is the local wall clock at this instant" for one
// IANA zone over the generated month, without a time.Time per question: the
// offsets and the exact seconds at which they change are looked up once.
type zoneTable struct {
	from   []int64 // instants (Unix s) from which offsets[i] applies, ascending
	offset []int64 // seconds east of UTC
}

// newZoneTable scans [start, end) hour by hour and pins every offset change
// to the second. Real zone transitions are at least days apart, so an hourly
// scan cannot miss one.
func newZoneTable(loc *time.Location, start, end int64) zoneTable {
	off := func(u int64) int64 {
		_, o := time.Unix(u, 0).In(loc).Zone()
		return int64(o)
	}
	z := zoneTable{from: []int64{start}, offset: []int64{off(start)}}
	cur := z.offset[0]
	for u := start + 3600; u < end+3600; u += 3600 {
		o := off(u)
		if o == cur {
			continue
		}
		lo, hi := u-3600, u // off(lo) == cur, off(hi) != cur
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if off(mid) == cur {
				lo = mid
			} else {
				hi = mid
			}
		}
		z.from = append(z.from, hi)
		z.offset = append(z.offset, o)
		cur = o
	}
	return z
}

// local returns the instant's wall clock as seconds since 1970-01-01T00:00
// local time.
func (z *zoneTable) local(u int64) int64 {
	i := len(z.from) - 1
	for i > 0 && u < z.from[i] {
		i--
	}
	return u + z.offset[i]
}

// clock returns the minute of the local day (0..1439) and the local weekday
// (0 = Monday .. 6 = Sunday) of a local time from local().
func clock(localSecs int64) (minute int, weekday int) {
	days := floorDiv(localSecs, 86400)
	minute = int((localSecs - days*86400) / 60)
	weekday = int((days%7 + 7 + 3) % 7) // 1970-01-01 was a Thursday
	return minute, weekday
}
