package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// TestHubPushesForTheParties — DESIGN invariant 9 on the receiver: a hub
// writes objects of the parties its hubclientinfo lists, with or without
// routing headers, and is refused (kept as a reject) for any other party;
// the hub pushes client info, and a party it adds is accepted at once.
func TestHubPushesForTheParties(t *testing.T) {
	h := newHarness(t)
	hub := b64("hub-token")
	put := func(cc, pid, status string) answer {
		return h.do("PUT", "/ocpi/2.2.1/hubclientinfo/"+cc+"/"+pid, hub, []byte(`{"country_code":"`+cc+`","party_id":"`+pid+
			`","role":"CPO","status":"`+status+`","last_updated":"2024-05-01T00:00:00Z"}`))
	}
	steps := []struct {
		name   string
		a      func() answer
		status int
		code   ocpi.StatusCode
	}{
		{"CDR of a party the hub does not front yet", func() answer { return h.do("POST", "/ocpi/2.2.1/cdrs", hub, cdrBody(t, "DE", "AAA", "H1")) },
			200, ocpi.StatusInvalidParameters},
		{"client info of a CPO", func() answer { return put("DE", "AAA", "CONNECTED") }, 200, ocpi.StatusSuccess},
		{"client info of a second CPO", func() answer { return put("nl", "bbb", "OFFLINE") }, 200, ocpi.StatusSuccess},
		{"CDR without routing headers", func() answer { return h.do("POST", "/ocpi/2.2.1/cdrs", hub, cdrBody(t, "DE", "AAA", "H1")) },
			201, ocpi.StatusSuccess},
		{"CDR with routing headers", func() answer {
			return h.do("POST", "/ocpi/2.2.1/cdrs", hub, cdrBody(t, "NL", "BBB", "H2"), "OCPI-from-country-code", "NL", "OCPI-from-party-id", "BBB")
		}, 201, ocpi.StatusSuccess},
		{"tariff PUT to a fronted party's URL", func() answer {
			return h.do("PUT", "/ocpi/2.2.1/tariffs/DE/AAA/12", hub, tariffOf(t, "DE", "AAA"))
		}, 201, ocpi.StatusSuccess},
		{"CDR of a party the hub does not front", func() answer { return h.do("POST", "/ocpi/2.2.1/cdrs", hub, cdrBody(t, "FR", "FFF", "H3")) },
			200, ocpi.StatusInvalidParameters},
		{"tariff PUT to another party's URL", func() answer {
			return h.do("PUT", "/ocpi/2.2.1/tariffs/FR/FFF/12", hub, tariffOf(t, "FR", "FFF"))
		}, 404, ocpi.StatusInvalidParameters},
		{"routing headers naming a fronted party over another's CDR", func() answer {
			return h.do("POST", "/ocpi/2.2.1/cdrs", hub, cdrBody(t, "FR", "FFF", "H4"), "OCPI-from-country-code", "DE", "OCPI-from-party-id", "AAA")
		}, 200, ocpi.StatusInvalidParameters},
		{"PATCH suspends a client", func() answer {
			return h.do("PATCH", "/ocpi/2.2.1/hubclientinfo/NL/BBB", hub, []byte(`{"status":"SUSPENDED","last_updated":"2024-06-01T00:00:00Z"}`))
		}, 200, ocpi.StatusSuccess},
		{"GET the client info back", func() answer { return h.do("GET", "/ocpi/2.2.1/hubclientinfo/NL/BBB", hub, nil) }, 200, ocpi.StatusSuccess},
		{"client info with a bad status", func() answer { return put("DE", "CCC", "ONLINE") }, 200, ocpi.StatusInvalidParameters},
		{"client info body for another URL", func() answer {
			return h.do("PUT", "/ocpi/2.2.1/hubclientinfo/DE/CCC", hub, []byte(`{"country_code":"DE","party_id":"AAA","role":"CPO","status":"CONNECTED","last_updated":"2024-05-01T00:00:00Z"}`))
		}, 200, ocpi.StatusInvalidParameters},
		{"a CPO sends client info", func() answer {
			return h.do("PUT", "/ocpi/2.2.1/hubclientinfo/DE/AAA", b64(tokenCOfXYZ), []byte(`{"country_code":"DE","party_id":"AAA","role":"CPO","status":"CONNECTED","last_updated":"2024-05-01T00:00:00Z"}`))
		}, 404, ocpi.StatusClientError},
		{"client info in 2.1.1", func() answer { return h.do("GET", "/ocpi/2.1.1/hubclientinfo/DE/AAA", hub, nil) }, 404, ocpi.StatusUnsupportedVersion},
	}
	for _, s := range steps {
		a := s.a()
		if a.status != s.status || a.env.StatusCode != s.code {
			t.Fatalf("%s: HTTP %d OCPI %d, want %d %d: %s", s.name, a.status, a.env.StatusCode, s.status, s.code, a.body)
		}
	}
	if got := h.store.count(ocpi.KindCDR); got != 2 {
		t.Errorf("%d CDRs stored, want 2", got)
	}
	p := h.store.partner(3)
	if len(p.HubClients) != 2 || p.HubClients[1].Party() != "NL-BBB" || p.HubClients[1].Status != ocpi.ClientSuspended {
		t.Errorf("hub clients %+v", p.HubClients)
	}
	// Refusals with a body are kept as owner rejects.
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	owner := 0
	for _, r := range h.store.records {
		if r.Rejected && r.Problems[0].Rule == ocpi.RuleOwner {
			owner++
		}
	}
	if owner != 4 {
		t.Errorf("%d owner refusals kept, want 4", owner)
	}
	if d := h.srv.Details(ocpi.V221); !strings.Contains(mustJSON(t, d), `"identifier":"hubclientinfo","role":"RECEIVER"`) {
		t.Errorf("details do not publish the hubclientinfo receiver: %s", mustJSON(t, d))
	}
}

func tariffOf(t *testing.T, cc, pid string) []byte {
	s := string(fixture(t, "tariff_221.json"))
	s = strings.Replace(s, `"country_code": "DE"`, `"country_code": "`+cc+`"`, 1)
	return []byte(strings.Replace(s, `"party_id": "ALL"`, `"party_id": "`+pid+`"`, 1))
}

// poisonSink fails every Save of more than one record that holds a record
// whose raw body contains "POISON", and every Save of that record alone:
// a stand-in for a batch the database refuses because of one member,
// independent of what the decoder validates.
type poisonSink struct {
	*memStore
	mu     sync.Mutex
	failed int
}

func (p *poisonSink) Save(ctx context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error) {
	for _, r := range batch {
		if bytes.Contains(r.Raw, []byte("POISON")) {
			p.mu.Lock()
			p.failed++
			p.mu.Unlock()
			return nil, errors.New("Invalid unicode (byte sequence mismatch) detected in segment statistics update")
		}
	}
	return p.memStore.Save(ctx, batch)
}

// TestGroupCommitIsolatesAPoisonedMember (issue 12 item 6, receiver side):
// when the store refuses a group commit, each member is saved alone, so
// only the poisoned request fails (500/3000) and the other partners' CDRs
// of the same batch are stored and acknowledged.
func TestGroupCommitIsolatesAPoisonedMember(t *testing.T) {
	m := newMemStore()
	now := time.Now().UTC()
	m.partners = []ocpi.Connection{{ID: 2, CountryCode: "DE", PartyID: "XYZ", Role: "CPO", TokenC: Hash(tokenCOfXYZ),
		AuthMode: ocpi.AuthAuto, Version: ocpi.V221, RegisteredAt: &now}}
	sink := &poisonSink{memStore: m}
	hs := httptest.NewUnstartedServer(nil)
	// A long linger makes the requests below one batch.
	srv, err := New(Config{BaseURL: "http://" + hs.Listener.Addr().String(), Sink: sink, Partners: m, Objects: m,
		Sealer: plainSealer{}, Log: slog.New(slog.DiscardHandler), BatchWait: 300 * time.Millisecond, BatchMax: 64})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	defer func() { hs.Close(); srv.Close() }()
	h := &harness{t: t, store: m, srv: srv, http: hs}

	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "OK-" + string(rune('A'+i))
			if i == 5 {
				id = "POISON"
			}
			statuses[i] = h.do("POST", "/ocpi/2.2.1/cdrs", b64(tokenCOfXYZ), cdrBody(t, "DE", "XYZ", id)).status
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		want := http.StatusCreated
		if i == 5 {
			want = http.StatusInternalServerError
		}
		if st != want {
			t.Errorf("request %d: HTTP %d, want %d", i, st, want)
		}
	}
	if got := m.count(ocpi.KindCDR); got != n-1 {
		t.Errorf("%d CDRs stored, want %d", got, n-1)
	}
	if sink.failed < 2 {
		t.Errorf("the poisoned batch was not retried member by member (%d failed saves)", sink.failed)
	}
}

// TestProtocolAnswers (issue 12 items 9 and 18): 405 in an OCPI envelope
// with Allow, 404 in one for an unknown path, deep nesting is 400, and a
// CDR whose id OCPI does not allow is stored with a finding and its
// Location, escaped, reads it back.
func TestProtocolAnswers(t *testing.T) {
	h := newHarness(t)
	xyz := b64(tokenCOfXYZ)
	a := h.do("DELETE", "/ocpi/2.2.1/cdrs", xyz, nil)
	if a.status != 405 || a.env.StatusCode != ocpi.StatusClientError || a.header.Get("Allow") != "POST" || !strings.Contains(a.header.Get("Content-Type"), "json") {
		t.Errorf("405: %d %v %s", a.status, a.header, a.body)
	}
	if a := h.do("GET", "/ocpi/2.2.1/sessions", xyz, nil); a.status != 404 || a.env.StatusCode != ocpi.StatusClientError {
		t.Errorf("unknown path: %d %s", a.status, a.body)
	}
	deep := []byte(strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200))
	if a := h.do("POST", "/ocpi/2.2.1/cdrs", xyz, deep); a.status != 400 || !strings.Contains(a.body, "depth") {
		t.Errorf("deep nesting: %d %s", a.status, a.body)
	}
	for _, id := range []string{"A/B", "with space", "nul\x00byte", "new\nline", "ünï", ".."} {
		body := cdrBody(t, "DE", "XYZ", "ID")
		quoted := mustJSON(t, id)
		body = bytes.Replace(body, []byte(`"id": "ID"`), []byte(`"id": `+quoted), 1)
		a := h.do("POST", "/ocpi/2.2.1/cdrs", xyz, body)
		loc := a.header.Get("Location")
		allowed := id == ".." // printable ASCII: allowed, but a path segment of its own
		if a.status != 201 || loc == "" || allowed == strings.Contains(a.env.StatusMessage, "OCPI does not allow") {
			t.Errorf("id %q: %d %q %s", id, a.status, loc, a.body)
			continue
		}
		if g := h.do("GET", loc, xyz, nil); g.status != 200 || !strings.Contains(string(g.env.Data), quoted) {
			t.Errorf("id %q: GET %s: %d %s", id, loc, g.status, g.body)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
