package settle

import (
	"errors"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		in, want   string
		from, to   time.Time
		wantErrStr bool
	}{
		{in: "2026-10", want: "2026-10", from: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-12", want: "2026-12", from: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-10-01..2026-10-15", want: "2026-10-01..2026-10-15", from: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 10, 16, 0, 0, 0, 0, time.UTC)},
		// A range that is a whole month reads as the month.
		{in: "2026-02-01..2026-02-28", want: "2026-02", from: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-10-15..2026-10-15", want: "2026-10-15..2026-10-15", from: time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 10, 16, 0, 0, 0, 0, time.UTC)},
		{in: "2026-13", wantErrStr: true},
		{in: "2026-10-15..2026-10-14", wantErrStr: true},
		{in: "october", wantErrStr: true},
	} {
		p, err := ParsePeriod(tc.in)
		if tc.wantErrStr {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: err %v, want invalid", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		w := p.Window(nil)
		if p.String() != tc.want || !w.From.Equal(tc.from) || !w.To.Equal(tc.to) {
			t.Errorf("%q: %s [%s, %s), want %s [%s, %s)", tc.in, p, w.From, w.To, tc.want, tc.from, tc.to)
		}
		if back, err := ParsePeriod(p.String()); err != nil || back != p {
			t.Errorf("%q does not read back: %v %v", p, back, err)
		}
	}
}

// A period in a zone runs from local midnight to local midnight, across a
// DST change.
func TestPeriodWindowInZone(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	w := Month(2026, time.October).Window(berlin)
	if !w.From.Equal(time.Date(2026, 9, 30, 22, 0, 0, 0, time.UTC)) || !w.To.Equal(time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("October in Berlin: [%s, %s)", w.From, w.To)
	}
	if w.Contains(w.To) || !w.Contains(w.From) || !w.Contains(w.To.Add(-time.Microsecond)) {
		t.Error("a window is half open")
	}
}

// The period rule: the end decides; an unknown end (missing or the 1970
// sentinel) leaves it to the start, an unknown start to the receipt.
func TestPeriodTime(t *testing.T) {
	start, end, recv := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	sentinel := time.Unix(0, 0).UTC()
	for _, tc := range []struct{ start, end, want time.Time }{
		{start, end, end},
		{start, time.Time{}, start},
		{start, sentinel, start},
		{time.Time{}, time.Time{}, recv},
		{sentinel, sentinel, recv},
		{time.Time{}, end, end},
	} {
		if got := PeriodTime(tc.start, tc.end, recv); !got.Equal(tc.want) {
			t.Errorf("PeriodTime(%s, %s) = %s, want %s", tc.start, tc.end, got, tc.want)
		}
	}
}

func TestSelection(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	jp, nl := NewParty("jp", "tky"), NewParty("NL", "ABC")
	all := Scope{Period: Month(2026, time.October)}.Selection(map[Party]*time.Location{jp: tokyo, nl: nil})
	if len(all.Zoned) != 1 || all.Zoned[0].Party != jp {
		t.Fatalf("zoned %+v", all.Zoned)
	}
	late := time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC) // November 1st in Tokyo
	if all.Contains(jp, late) || !all.Contains(nl, late) {
		t.Error("each owner's window")
	}
	if span := all.Span(); !span.From.Equal(Month(2026, time.October).Window(tokyo).From) || !span.To.Equal(all.Default.To) {
		t.Errorf("span %+v", span)
	}
	one := Scope{Period: Month(2026, time.October), Partner: jp}.Selection(map[Party]*time.Location{jp: tokyo})
	if one.Contains(nl, time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC)) || one.Span() != one.Zoned[0].Window {
		t.Error("a partner's selection holds only its CDRs, in its window")
	}
}

func TestRunID(t *testing.T) {
	p, _ := ParsePeriod("2026-10-01..2026-10-15")
	for _, tc := range []struct {
		run  Run
		want string
	}{
		{Run{KindReprice, Scope{Period: Month(2026, time.October)}}, "reprice:2026-10/*"},
		{Run{KindReprice, Scope{Period: Month(2026, time.October), Partner: NewParty("de", "abc")}}, "reprice:2026-10/DE-ABC"},
		{Run{KindReprice, Scope{Period: p}}, "reprice:2026-10-01..2026-10-15/*"},
	} {
		if got := tc.run.ID(); got != tc.want {
			t.Errorf("ID() = %q, want %q", got, tc.want)
		}
	}
}

// Errors name the operation, kind and object once, however deep.
func TestErrorFormat(t *testing.T) {
	inner := &Error{Op: "scan headers", Kind: ErrRead, Object: "reprice:2026-10/*", Err: errors.New("io")}
	outer := wrap("run", ErrRead, "", inner)
	if got, want := outer.Error(), "settle: run: scan headers reprice:2026-10/*: reading failed: io"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if !errors.Is(outer, ErrRead) || errors.Is(outer, ErrWrite) {
		t.Error("kind")
	}
}
