package synth

import (
	"math/rand/v2"
	"slices"
)

// Units inside the generator: instants are Unix seconds, durations whole
// seconds, energy in units of 0.1 Wh (10^-4 kWh, the 4 decimals CDRs carry),
// power in W.

// segment is a stretch of constant behaviour: charging at powerW, or parked
// (powerW 0).
type segment struct {
	secs   int64
	powerW int64
}

// period is one ChargingPeriod: wholly charging or wholly parking, and with
// every restriction of the tariff constant from its start to its end.
type period struct {
	start    int64
	secs     int64
	charging bool
	energy   int64
	powerW   int64
}

type session struct {
	start, end int64
	segs       []segment
	periods    []period
	energy     int64
	parkSecs   int64
}

var acHourWeights = [24]int{2, 1, 1, 1, 1, 2, 4, 8, 10, 8, 6, 5, 5, 5, 5, 6, 8, 10, 10, 9, 7, 5, 4, 3}
var dcHourWeights = [24]int{1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 8, 7, 5, 4, 3, 2}

func pickWeighted(rng *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	r := rng.IntN(total)
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}

// simulate draws a session on a connector: start in the month, charging
// segments and parking.
func (s *session) simulate(rng *rand.Rand, p *party, c *connector) {
	s.segs = s.segs[:0]
	day := rng.IntN(len(p.dayStart) - 1)
	weights := acHourWeights[:]
	if c.dc {
		weights = dcHourWeights[:]
	}
	s.start = p.dayStart[day] + int64(pickWeighted(rng, weights))*3600 + rng.Int64N(3600)
	if c.dc {
		p1 := c.maxPowerW * int64(40+rng.IntN(56)) / 100 / 10 * 10
		s.segs = append(s.segs, segment{secs: int64(8*60 + rng.IntN(32*60)), powerW: p1})
		switch r := rng.IntN(10); {
		case r < 3: // no taper
		case r < 9:
			s.segs = append(s.segs, segment{secs: int64(60 + rng.IntN(25*60)), powerW: int64(20000 + rng.IntN(25000))})
		default: // a slow car that keeps the charger past the first hour
			s.segs = append(s.segs, segment{secs: int64(60*60 + rng.IntN(40*60)), powerW: int64(9000 + rng.IntN(6000))})
		}
		if rng.IntN(10) < 4 {
			s.segs = append(s.segs, segment{secs: int64(30 + rng.IntN(40*60))})
		}
	} else {
		levels := [...]int64{3700, 7400, 11000, 22000}
		pw := levels[rng.IntN(len(levels))]
		if pw > c.maxPowerW {
			pw = c.maxPowerW
		}
		pw = pw * int64(85+rng.IntN(16)) / 100 / 10 * 10
		secs := int64(15*60 + rng.IntN(6*3600))
		if maxSecs := 80000 * 360 / pw; secs > maxSecs { // at most about 80 kWh
			secs = maxSecs
		}
		s.segs = append(s.segs, segment{secs: secs, powerW: pw})
		switch r := rng.IntN(20); {
		case r < 8: // unplugged right away
		case r < 15:
			s.segs = append(s.segs, segment{secs: int64(60 + rng.IntN(60*60))})
		default: // overnight
			s.segs = append(s.segs, segment{secs: int64(3600 + rng.IntN(11*3600))})
		}
	}
	s.end = s.start
	for _, sg := range s.segs {
		s.end += sg.secs
	}
}

// split cuts the session into periods at every segment change, every
// instant where a clock restriction of the tariff changes in local time, and
// every duration threshold: the periods the spec asks a CPO to report.
func (s *session) split(t *tariff, cuts []int64) []int64 {
	cuts = cuts[:0]
	at := s.start
	for _, sg := range s.segs[:len(s.segs)-1] {
		at += sg.secs
		cuts = append(cuts, at)
	}
	i, _ := slices.BinarySearch(t.clockBounds, s.start+1)
	for ; i < len(t.clockBounds) && t.clockBounds[i] < s.end; i++ {
		cuts = append(cuts, t.clockBounds[i])
	}
	for _, d := range t.durBounds {
		if u := s.start + d; u < s.end {
			cuts = append(cuts, u)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	s.periods = s.periods[:0]
	s.energy, s.parkSecs = 0, 0
	seg, segEnd := 0, s.start+s.segs[0].secs
	from := s.start
	emit := func(to int64) {
		for from >= segEnd { // a cut on a segment end moves to the next segment
			seg++
			segEnd += s.segs[seg].secs
		}
		sg := s.segs[seg]
		pr := period{start: from, secs: to - from, charging: sg.powerW > 0, powerW: sg.powerW}
		if pr.charging {
			pr.energy = sg.powerW * pr.secs / 360
			s.energy += pr.energy
		} else {
			s.parkSecs += pr.secs
		}
		s.periods = append(s.periods, pr)
		from = to
	}
	for _, c := range cuts {
		emit(c)
	}
	emit(s.end)
	return cuts
}
