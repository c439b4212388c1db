package puller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// tariffSender is a CPO's tariff Sender interface listing items two per
// page, with a Link to the next page.
func tariffSender(t *testing.T, items []string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		end := min(offset+2, len(items))
		if end < len(items) {
			q := r.URL.Query()
			q.Set("offset", strconv.Itoa(end))
			w.Header().Set("Link", ocpi.FormatNextLink("http://"+r.Host+r.URL.Path+"?"+q.Encode()))
		}
		body, _ := ocpi.MarshalEnvelope(rawList(items[offset:end]), ocpi.StatusSuccess, "", time.Now())
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func tariffJSON(cc, pid, id string) string {
	return fmt.Sprintf(`{"country_code":%q,"party_id":%q,"id":%q,"currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.3,"step_size":1}]}],"last_updated":"2024-01-01T00:00:00Z"}`, cc, pid, id)
}

type memTariffs struct {
	stored    []StoredTariff
	withdrawn []string
	at        []time.Time
}

func (m *memTariffs) StoredTariffs(_ context.Context, cc, pid string) ([]StoredTariff, error) {
	var out []StoredTariff
	for _, t := range m.stored {
		if t.CountryCode == cc && t.PartyID == pid {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *memTariffs) WithdrawTariff(_ context.Context, cc, pid, id string, at time.Time) error {
	m.withdrawn = append(m.withdrawn, objectKey(cc, pid, id))
	m.at = append(m.at, at)
	return nil
}

// TestCompleteTariffPullWithdrawsWhatIsNoLongerReturned covers digest 4.1:
// after a complete pull, a live stored tariff of the connection's parties
// the Sender did not return is withdrawn at the pull's date_to; one outside
// the window, already withdrawn, or returned (even undecodable) is not, and
// an incremental, unidentifiable or filtered listing (objects of a party the
// connection does not serve) withdraws nothing.
func TestCompleteTariffPullWithdrawsWhatIsNoLongerReturned(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := []StoredTariff{
		{CountryCode: "NL", PartyID: "ABC", ID: "KEEP", LastUpdated: old},
		{CountryCode: "NL", PartyID: "ABC", ID: "GONE", LastUpdated: old},
		{CountryCode: "NL", PartyID: "ABC", ID: "BROKEN", LastUpdated: old},
		{CountryCode: "NL", PartyID: "ABC", ID: "ALREADY", LastUpdated: old, Withdrawn: true, WithdrawnAt: old.Add(time.Hour)},
		{CountryCode: "NL", PartyID: "ABC", ID: "BACK", LastUpdated: old.Add(2 * time.Hour), Withdrawn: true, WithdrawnAt: old.Add(time.Hour)},
		{CountryCode: "NL", PartyID: "ABC", ID: "NEWER", LastUpdated: now.Add(time.Minute)},
		{CountryCode: "BE", PartyID: "BEC", ID: "ROUTED", LastUpdated: old},
	}
	listing := []string{
		tariffJSON("NL", "ABC", "KEEP"),
		`{"country_code":"NL","party_id":"ABC","id":"BROKEN","currency":"EUR"}`, // stored as a reject, still listed
	}
	unidentifiable := append(slices.Clone(listing), `{"currency":"EUR"}`)
	filtered := append(slices.Clone(listing), tariffJSON("ZZ", "ZZZ", "OTHER"))
	cases := []struct {
		name      string
		items     []string
		since     time.Time
		withdrawn []string
		why       string
	}{
		{"complete", listing, time.Time{}, []string{"NL-ABC*GONE", "NL-ABC*BACK", "BE-BEC*ROUTED"}, ""},
		{"incremental", listing, old, nil, ""},
		{"an item without identity", unidentifiable, time.Time{}, nil, "has no country_code, party_id or id"},
		{"filtered", filtered, time.Time{}, nil, "the list was filtered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := tariffSender(t, c.items)
			conn := ocpi.Connection{ID: 7, CountryCode: "NL", PartyID: "ABC", Role: "CPO", Version: ocpi.V221, AuthMode: ocpi.AuthAuto,
				Roles:     []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "NL", PartyID: "ABC"}, {Role: "CPO", CountryCode: "BE", PartyID: "BEC"}},
				Endpoints: []ocpi.Endpoint{{Identifier: "tariffs", Role: "SENDER", URL: src.URL + "/tariffs"}}}
			tariffs := &memTariffs{stored: stored}
			p := &Puller{Client: &Client{sleep: noSleep}, Sink: &memSink{ids: map[string]int{}}, Tariffs: tariffs,
				Checkpoints: &memCheckpoints{m: map[string]Checkpoint{}}, Now: func() time.Time { return now }}
			st, err := p.Pull(context.Background(), conn, "token", "tariffs", c.since)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tariffs.withdrawn, c.withdrawn) || st.Withdrawn != len(c.withdrawn) {
				t.Fatalf("withdrawn %v (stats %d), want %v", tariffs.withdrawn, st.Withdrawn, c.withdrawn)
			}
			if !strings.Contains(st.Incomplete, c.why) || (c.why == "") != (st.Incomplete == "") {
				t.Errorf("incomplete because %q, want %q", st.Incomplete, c.why)
			}
			for _, at := range tariffs.at {
				if !at.Equal(now) {
					t.Errorf("withdrawn at %v, want the pull's date_to %v", at, now)
				}
			}
		})
	}
}

func TestWithdrawn(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		lastUpdated   time.Time
		withdrawnAt   time.Time
		recorded      bool
		wantWithdrawn bool
	}{
		{"never withdrawn", t0, time.Time{}, false, false},
		{"withdrawn after the newest version", t0, t0.Add(time.Second), true, true},
		{"withdrawn at the newest version", t0, t0, true, true},
		{"republished after the withdrawal", t0.Add(time.Second), t0, true, false},
	}
	for _, c := range cases {
		if got := Withdrawn(c.lastUpdated, c.withdrawnAt, c.recorded); got != c.wantWithdrawn {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
