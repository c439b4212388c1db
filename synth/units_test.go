package synth

import (
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

func TestHoursRoundTripToWholeSeconds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		secs := rapid.Int64Range(0, 30*86400).Draw(t, "secs")
		h := decimal.New(hours4(secs), -4)
		if back := h.Mul(decimal.NewFromInt(3600)).Round(0).IntPart(); back != secs {
			t.Fatalf("%d s -> %s h -> %d s", secs, h, back)
		}
	})
}

func TestAppendDateTimeMatchesTimeFormat(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u := rapid.Int64Range(-2208988800, 4102444800).Draw(t, "unix") // 1900..2100
		want := `"` + time.Unix(u, 0).UTC().Format("2006-01-02T15:04:05Z") + `"`
		if got := string(appendDateTime(nil, u)); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
}

func TestAppendFixedAndTrimmed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.Int64Range(-1e15, 1e15).Draw(t, "v")
		scale := rapid.IntRange(0, 6).Draw(t, "scale")
		want := decimal.New(v, int32(-scale))
		if got := string(appendFixed(nil, v, scale)); got != want.StringFixed(int32(scale)) {
			t.Fatalf("appendFixed(%d, %d) = %s, want %s", v, scale, got, want.StringFixed(int32(scale)))
		}
		got, err := decimal.NewFromString(string(appendTrimmed(nil, v, scale)))
		if err != nil || !got.Equal(want) {
			t.Fatalf("appendTrimmed(%d, %d) = %s", v, scale, appendTrimmed(nil, v, scale))
		}
	})
}

func TestMulDivRound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		num := rapid.Int64Range(0, 1<<62).Draw(t, "num")
		mul := rapid.Int64Range(1, 1000).Draw(t, "mul")
		d := rapid.Int64Range(mul, 1<<50).Draw(t, "den") // d >= mul keeps the quotient <= num
		p := new(big.Int).Mul(big.NewInt(num), big.NewInt(mul))
		trunc := new(big.Int).Quo(p, big.NewInt(d))
		half := new(big.Int).Quo(new(big.Int).Add(p, big.NewInt(d/2)), big.NewInt(d))
		if got := mulDivRound(num, mul, d, roundTrunc); got != trunc.Int64() {
			t.Fatalf("trunc %d, want %s", got, trunc)
		}
		if got := mulDivRound(num, mul, d, roundHalfUp); got != half.Int64() {
			t.Fatalf("half up %d, want %s", got, half)
		}
	})
}

// The zone table gives the wall clock time.In gives, across DST changes.
func TestZoneTableMatchesTimeIn(t *testing.T) {
	start := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC).Unix()
	end := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC).Unix()
	for _, name := range []string{"Europe/Amsterdam", "America/New_York", "Asia/Tokyo", "Atlantic/Reykjavik", "Asia/Amman", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		z := newZoneTable(loc, start, end)
		rapid.Check(t, func(t *rapid.T) {
			u := rapid.Int64Range(start, end-1).Draw(t, "u")
			lt := time.Unix(u, 0).In(loc)
			minute, wd := clock(z.local(u))
			if minute != lt.Hour()*60+lt.Minute() || wd != (int(lt.Weekday())+6)%7 {
				t.Fatalf("%s at %d: minute %d weekday %d, time.In says %s", name, u, minute, wd, lt)
			}
		})
	}
	// Known transitions (whichever tz database is in use, these are fixed).
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	z := newZoneTable(ams, start, end)
	if got := time.Unix(z.from[1], 0).UTC(); len(z.from) != 2 || !got.Equal(time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("Amsterdam transitions %v, want one at 2026-10-25T01:00Z", z.from)
	}
}
