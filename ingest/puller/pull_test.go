package puller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

type memSink struct {
	mu      sync.Mutex
	ids     map[string]int
	failAt  int // fail the Save call with this number (1-based), 0 never
	calls   int
	objects int
	rejects []ocpi.Received
}

func (m *memSink) Save(_ context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.calls == m.failAt {
		return nil, errors.New("disk on fire")
	}
	out := make([]ocpi.Outcome, len(batch))
	for i, r := range batch {
		cc, pid, id := r.Identity()
		k := cc + "*" + pid + "*" + id
		if r.Rejected {
			out[i] = ocpi.OutcomeRejected
			m.rejects = append(m.rejects, r)
			continue
		}
		m.ids[k]++
		out[i] = ocpi.OutcomeAccepted
		if m.ids[k] > 1 {
			out[i] = ocpi.OutcomeDuplicate
		}
	}
	return out, nil
}

type memCheckpoints struct{ m map[string]Checkpoint }

func (c *memCheckpoints) Checkpoint(_ context.Context, id int64, module string) (Checkpoint, error) {
	return c.m[fmt.Sprint(id, module)], nil
}

func (c *memCheckpoints) SaveCheckpoint(_ context.Context, id int64, module string, cp Checkpoint) error {
	c.m[fmt.Sprint(id, module)] = cp
	return nil
}

// sender is a CPO's CDR Sender interface: total CDRs (one of another party),
// pages capped at 3 (X-Limit), Link to the next page, and a 503 on the first
// try of each page listed in flaky.
type sender struct {
	*httptest.Server
	mu      sync.Mutex
	fetches map[string]int
	flaky   map[int]bool
	total   int
}

func newSender(t *testing.T, total int, flaky ...int) *sender {
	s := &sender{fetches: map[string]int{}, flaky: map[int]bool{}, total: total}
	for _, f := range flaky {
		s.flaky[f] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != ocpi.AuthorizationHeader("token-c", ocpi.AuthBase64, ocpi.V221) {
			w.WriteHeader(401)
			return
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		limit = min(max(limit, 1), 3)
		s.mu.Lock()
		s.fetches[r.URL.RequestURI()]++
		n := s.fetches[r.URL.RequestURI()]
		s.mu.Unlock()
		if s.flaky[offset] && n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var items []string
		for i := offset; i < min(offset+limit, s.total); i++ {
			party := "ABC"
			if i == 4 {
				party = "ZZZ" // not ours
			}
			items = append(items, fmt.Sprintf(`{"country_code":"NL","party_id":%q,"id":"CDR-%d","start_date_time":"2024-01-01T10:00:00Z","end_date_time":"2024-01-01T11:00:00Z","currency":"EUR","charging_periods":[{"start_date_time":"2024-01-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":5}]}],"total_cost":{"excl_vat":1},"total_energy":5,"total_time":1,"last_updated":"2024-01-01T11:00:00Z"}`, party, i))
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(s.total))
		w.Header().Set("X-Limit", "3")
		if offset+limit < s.total {
			q := r.URL.Query()
			q.Set("offset", strconv.Itoa(offset+limit))
			q.Set("limit", strconv.Itoa(limit))
			w.Header().Set("Link", ocpi.FormatNextLink(s.URL+r.URL.Path+"?"+q.Encode()))
		}
		body, _ := ocpi.MarshalEnvelope(rawList(items), ocpi.StatusSuccess, "", time.Now())
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

type rawList []string

func (l rawList) MarshalJSON() ([]byte, error) { return []byte("[" + strings.Join(l, ",") + "]"), nil }

func (s *sender) maxFetches() (max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for u, n := range s.fetches {
		if n > max && !strings.Contains(u, "offset=0") {
			max = n
		}
	}
	return max
}

func testConn(url string) ocpi.Connection {
	return ocpi.Connection{ID: 7, CountryCode: "NL", PartyID: "ABC", Role: "CPO", Version: ocpi.V221, AuthMode: ocpi.AuthAuto,
		Endpoints: []ocpi.Endpoint{{Identifier: "cdrs", Role: "SENDER", URL: url + "/cdrs"}}}
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestPullPagesWithRetriesAndCheckpoint(t *testing.T) {
	src := newSender(t, 10, 3, 6) // pages at offsets 3 and 6 fail once
	sink := &memSink{ids: map[string]int{}}
	cps := &memCheckpoints{m: map[string]Checkpoint{}}
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	p := &Puller{Client: &Client{sleep: noSleep}, Sink: sink, Checkpoints: cps, PageLimit: 50, Now: func() time.Time { return now }}
	st, err := p.Pull(context.Background(), testConn(src.URL), "token-c", "cdrs", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Pages != 4 || st.Objects != 10 || st.Ignored != 1 || st.Outcomes[ocpi.OutcomeAccepted] != 9 || st.TotalCount != 10 || st.Limit != 3 {
		t.Fatalf("stats %+v", st)
	}
	// The object of another party is refused, and kept as a reject (rule
	// owner) with its raw bytes: nothing received is lost.
	if st.Refused() != 1 || st.Foreign["NL-ZZZ"] != 1 || st.Outcomes[ocpi.OutcomeRejected] != 1 || len(sink.rejects) != 1 ||
		sink.rejects[0].Problems[0].Rule != ocpi.RuleOwner || !strings.Contains(string(sink.rejects[0].Raw), `"CDR-4"`) {
		t.Fatalf("refused: %+v, rejects %+v", st, sink.rejects)
	}
	cp := cps.m["7cdrs"]
	if cp.NextURL != "" || !cp.Watermark.Equal(now) || cp.Pages != 4 {
		t.Fatalf("checkpoint %+v", cp)
	}
	if src.maxFetches() != 2 {
		t.Errorf("flaky pages fetched %d times, want 2", src.maxFetches())
	}
	// The next pull starts at the watermark.
	now = now.Add(time.Hour)
	if _, err := p.Pull(context.Background(), testConn(src.URL), "token-c", "cdrs", time.Time{}); err != nil {
		t.Fatal(err)
	}
	found := false
	for u := range src.fetches {
		found = found || strings.Contains(u, "date_from=2024-02-01T00%3A00%3A00Z")
	}
	if !found {
		t.Errorf("second pull did not start at the watermark: %v", src.fetches)
	}
}

func TestPullResumesAfterAFailureWithoutRefetching(t *testing.T) {
	src := newSender(t, 10)
	sink := &memSink{ids: map[string]int{}, failAt: 3} // the third page's Save fails
	cps := &memCheckpoints{m: map[string]Checkpoint{}}
	p := &Puller{Client: &Client{sleep: noSleep}, Sink: sink, Checkpoints: cps}
	if _, err := p.Pull(context.Background(), testConn(src.URL), "token-c", "cdrs", time.Time{}); err == nil {
		t.Fatal("a failing store must stop the pull")
	}
	if cp := cps.m["7cdrs"]; !strings.Contains(cp.NextURL, "offset=6") || cp.Pages != 2 {
		t.Fatalf("checkpoint after the failure: %+v", cp)
	}
	st, err := p.Pull(context.Background(), testConn(src.URL), "token-c", "cdrs", time.Time{})
	if err != nil || !st.Resumed || st.Pages != 2 {
		t.Fatalf("resume: %+v %v", st, err)
	}
	for id, n := range sink.ids {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
	if len(sink.ids) != 9 {
		t.Errorf("%d CDRs stored, want 9", len(sink.ids))
	}
	for u, n := range src.fetches {
		if n > 1 && !strings.Contains(u, "offset=6") {
			t.Errorf("%s fetched %d times", u, n)
		}
	}
}

func TestClientRetriesAreBounded(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	var waits []time.Duration
	c := &Client{Attempts: 4, Backoff: 100 * time.Millisecond, MaxBackoff: 150 * time.Millisecond,
		sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	_, err := c.Get(context.Background(), srv.URL, "Token x", nil)
	var se *StatusError
	if !errors.As(err, &se) || se.HTTPStatus != 502 || calls != 4 || len(waits) != 3 {
		t.Fatalf("err %v, %d calls, waits %v", err, calls, waits)
	}
	for i, w := range waits {
		hi := []time.Duration{100, 150, 150}[i] * time.Millisecond
		if w < hi/2 || w > hi {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, w, hi/2, hi)
		}
	}
	calls = 0
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(401) })
	if _, err := c.Get(context.Background(), srv.URL, "Token x", nil); err == nil || calls != 1 {
		t.Errorf("a 401 must not be retried: %d calls", calls)
	}
}

// TestClientHonoursRetryAfter: a 429 with Retry-After in seconds or as an
// HTTP date waits as long as the partner asks (not the client's own
// backoff), and a wait beyond MaxWait fails at once with the reason.
func TestClientHonoursRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		retryAfter string
		maxWait    time.Duration
		wantWaits  []time.Duration
		wantCalls  int
		wantErr    string
	}{
		{"seconds", "7", 0, []time.Duration{7 * time.Second, 7 * time.Second}, 3, ""},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 5 * time.Minute, []time.Duration{90 * time.Second, 90 * time.Second}, 3, ""},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, []time.Duration{0, 0}, 3, ""},
		{"over the total budget", "3600", time.Minute, nil, 1, "retry after 1h0m0s"},
		{"the budget runs out on the second wait", "40", time.Minute, []time.Duration{40 * time.Second}, 2, "retry after 40s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls < 3 {
					w.Header().Set("Retry-After", c.retryAfter)
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				body, _ := ocpi.MarshalEnvelope([]int{}, ocpi.StatusSuccess, "", now)
				w.Write(body)
			}))
			defer srv.Close()
			var waits []time.Duration
			cl := &Client{Attempts: 5, MaxWait: c.maxWait, now: func() time.Time { return now },
				sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			_, err := cl.Get(context.Background(), srv.URL, "Token x", nil)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("err %v, want %q", err, c.wantErr)
			}
			if calls != c.wantCalls || fmt.Sprint(waits) != fmt.Sprint(c.wantWaits) {
				t.Errorf("%d calls, waits %v; want %d calls, waits %v", calls, waits, c.wantCalls, c.wantWaits)
			}
		})
	}
}

// TestPullFullStartsOver: --full drops an unfinished crawl's checkpoint
// instead of resuming it, so a tariff pull is complete and withdraws.
func TestPullFullStartsOver(t *testing.T) {
	src := tariffSender(t, []string{tariffJSON("NL", "ABC", "A"), tariffJSON("NL", "ABC", "B"), tariffJSON("NL", "ABC", "C")})
	conn := ocpi.Connection{ID: 7, CountryCode: "NL", PartyID: "ABC", Role: "CPO", Version: ocpi.V221, AuthMode: ocpi.AuthAuto,
		Endpoints: []ocpi.Endpoint{{Identifier: "tariffs", Role: "SENDER", URL: src.URL + "/tariffs"}}}
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	pending := Checkpoint{NextURL: src.URL + "/tariffs?offset=2&limit=2", WindowTo: now.Add(-time.Hour), Watermark: now.Add(-24 * time.Hour)}
	tariffs := &memTariffs{stored: []StoredTariff{{CountryCode: "NL", PartyID: "ABC", ID: "GONE", LastUpdated: now.Add(-48 * time.Hour)}}}
	sink := &memSink{ids: map[string]int{}}
	p := &Puller{Client: &Client{sleep: noSleep}, Sink: sink, Tariffs: tariffs,
		Checkpoints: &memCheckpoints{m: map[string]Checkpoint{"7tariffs": pending}}, Now: func() time.Time { return now }}

	// Without --full the pending crawl resumes, and says why nothing is withdrawn.
	st, err := p.Pull(context.Background(), conn, "token", "tariffs", time.Time{})
	if err != nil || !st.Resumed || st.Objects != 1 || st.Withdrawn != 0 || !strings.Contains(st.Incomplete, "--full") {
		t.Fatalf("resume: %+v %v", st, err)
	}
	p.Checkpoints.(*memCheckpoints).m["7tariffs"] = pending
	p.Full = true
	st, err = p.Pull(context.Background(), conn, "token", "tariffs", time.Time{})
	if err != nil || st.Resumed || st.Objects != 3 || !st.Complete || st.Withdrawn != 1 || fmt.Sprint(tariffs.withdrawn) != "[NL-ABC*GONE]" {
		t.Fatalf("--full: %+v %v, withdrawn %v", st, err, tariffs.withdrawn)
	}
	if cp := p.Checkpoints.(*memCheckpoints).m["7tariffs"]; cp.NextURL != "" || !cp.Watermark.Equal(now) {
		t.Errorf("checkpoint after --full: %+v", cp)
	}
}
