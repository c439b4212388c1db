package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// fakeHub is an OCPI 2.2.1 roaming hub on loopback: its credentials name
// only itself (role HUB DE-HUB), its hubclientinfo lists two CPOs (DE-AAA,
// NL-BBB, one per page), and its tariffs, locations and CDRs Sender
// interfaces serve objects owned by them plus one of FR-FFF, a party it
// does not list. It registers with our `serve` too and pushes objects there.
type fakeHub struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	accepts map[string]bool // tokens it accepts from roamsettle
	lists   map[string][]string
}

var hubParties = [][2]string{{"DE", "AAA"}, {"NL", "BBB"}, {"FR", "FFF"}}

func newFakeHub(t *testing.T, tokenA string) *fakeHub {
	h := &fakeHub{t: t, accepts: map[string]bool{tokenA: true}, lists: map[string][]string{}}
	for i, p := range hubParties {
		h.lists["tariffs"] = append(h.lists["tariffs"], hubObject(t, "spec/2.2.1/tariff_1_simple_2hour.json", "DE", "ALL", p, `"id": "12"`, fmt.Sprintf(`"id": "T%d"`, i)))
		h.lists["locations"] = append(h.lists["locations"], hubObject(t, "spec/2.2.1/location_example.json", "BE", "BEC", p, `"id": "LOC1"`, fmt.Sprintf(`"id": "L%d"`, i)))
		for j := 0; j < 2; j++ {
			h.lists["cdrs"] = append(h.lists["cdrs"], hubObject(t, "bench/cdr_221_realistic.json", "NL", "ABC", p, `"id": "NLABC20241105-00012877"`, fmt.Sprintf(`"id": "C%d-%d"`, i, j)))
		}
	}
	h.lists["hubclientinfo"] = []string{
		`{"country_code":"DE","party_id":"AAA","role":"CPO","status":"CONNECTED","last_updated":"2024-05-01T00:00:00Z"}`,
		`{"country_code":"NL","party_id":"BBB","role":"CPO","status":"CONNECTED","last_updated":"2024-05-01T00:00:00Z"}`,
	}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

// hubObject is a spec example re-owned by party p with another id, compact.
func hubObject(t *testing.T, name, cc, pid string, p [2]string, oldID, newID string) string {
	s := spec(t, name)
	s = strings.Replace(s, `"country_code": "`+cc+`"`, `"country_code": "`+p[0]+`"`, 1)
	s = strings.Replace(s, `"party_id": "`+pid+`"`, `"party_id": "`+p[1]+`"`, 1)
	s = strings.Replace(s, oldID, newID, 1)
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func (h *fakeHub) credentials(token string) json.RawMessage {
	raw, _ := ocpi.MarshalCredentials(ocpi.Credentials{Token: token, URL: h.URL + "/versions",
		Roles: []ocpi.CredentialsRole{{Role: "HUB", CountryCode: "DE", PartyID: "HUB", BusinessDetails: ocpi.BusinessDetails{Name: "Hub"}}}}, ocpi.V221)
	return raw
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	cands, _ := ocpi.TokenCandidates(r.Header.Get("Authorization"))
	h.mu.Lock()
	ok := false
	for _, c := range cands {
		ok = ok || h.accepts[c.Token]
	}
	h.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	reply := func(data any) {
		body, _ := ocpi.MarshalEnvelope(data, ocpi.StatusSuccess, "", time.Now())
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
	module := strings.Trim(r.URL.Path, "/")
	switch {
	case module == "versions":
		reply([]ocpi.VersionInfo{{Version: ocpi.V221, URL: h.URL + "/details"}})
	case module == "details":
		eps := []ocpi.Endpoint{{Identifier: "credentials", Role: "RECEIVER", URL: h.URL + "/credentials"}}
		for _, m := range []string{"hubclientinfo", "tariffs", "locations", "cdrs"} {
			eps = append(eps, ocpi.Endpoint{Identifier: m, Role: "SENDER", URL: h.URL + "/" + m})
		}
		reply(ocpi.VersionDetails{Version: ocpi.V221, Endpoints: eps})
	case module == "credentials" && r.Method == "POST":
		// roamsettle connects; this hub does not call back.
		body, _ := io.ReadAll(r.Body)
		theirs, probs := ocpi.UnmarshalCredentials(body, ocpi.V221)
		if len(probs) > 0 {
			w.WriteHeader(400)
			return
		}
		h.mu.Lock()
		h.accepts = map[string]bool{"hub-token-for-roamsettle": true}
		h.mu.Unlock()
		_ = theirs
		reply(h.credentials("hub-token-for-roamsettle"))
	case h.lists[module] != nil:
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		items := h.lists[module]
		per := 2
		if module == "hubclientinfo" {
			per = 1
		}
		end := min(offset+per, len(items))
		w.Header().Set("X-Total-Count", strconv.Itoa(len(items)))
		if end < len(items) {
			q := r.URL.Query()
			q.Set("offset", strconv.Itoa(end))
			w.Header().Set("Link", ocpi.FormatNextLink(h.URL+r.URL.Path+"?"+q.Encode()))
		}
		reply(json.RawMessage("[" + strings.Join(items[offset:end], ",") + "]"))
	default:
		w.WriteHeader(404)
	}
}

// TestE2EHubPull: `connect` to a hub registers it as HUB from its
// credentials and reads the two parties it fronts; `pull` stores every
// tariff, location and CDR they own and refuses FR-FFF's (kept as owner
// rejects), exiting 3 with the reason, and withdraws nothing from the
// filtered tariff list.
func TestE2EHubPull(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.duckdb")
	hub := newFakeHub(t, "hub-token-a")
	out, errs, code := run(t, "connect", "--db", db, "--url", hub.URL+"/versions", "--token", "hub-token-a", "--listen", "127.0.0.1:0")
	if code != 0 || !strings.Contains(out, "connected to DE-HUB (HUB, as its credentials say) with OCPI 2.2.1") ||
		!strings.Contains(out, "hub DE-HUB fronts 2 parties: DE-AAA connected, NL-BBB connected") {
		t.Fatalf("connect: exit %d\n%s\n%s", code, out, errs)
	}
	out, _, _ = run(t, "partners", "list", "--db", db)
	if !strings.Contains(out, "DE-HUB  HUB") || !strings.Contains(out, "hub DE-HUB fronts DE-AAA connected, NL-BBB connected (hubclientinfo of") {
		t.Errorf("partners list:\n%s", out)
	}
	for _, module := range []string{"tariffs", "locations", "cdrs"} {
		per := map[string]int{"tariffs": 1, "locations": 1, "cdrs": 2}[module]
		out, errs, code := run(t, "pull", module, "--db", db, "--partner", "DE-HUB")
		want := fmt.Sprintf("%d objects: accepted %d, duplicates 0, conflicts 0, rejected %d (of which not ours %d)", 3*per, 2*per, per, per)
		if code != 3 || !strings.Contains(out, "DE-HUB is a hub fronting 2 parties") || !strings.Contains(out, want) ||
			!strings.Contains(errs, fmt.Sprintf("%d of %d objects from DE-HUB were not stored: %d owned by a party the hub does not front", per, 3*per, per)) ||
			!strings.Contains(errs, "FR-FFF "+strconv.Itoa(per)) {
			t.Errorf("pull %s: exit %d, want 3\n%s\n%s", module, code, out, errs)
		}
		if module == "tariffs" && !strings.Contains(out, "tariff list not taken as complete, nothing withdrawn") {
			t.Errorf("pull tariffs did not say why nothing was withdrawn:\n%s", out)
		}
	}
	got := counts(t, db)
	if got.TariffVersions != 2 || got.Locations != 2 || got.CDRs != 4 || got.RejectsByRule[ocpi.RuleOwner] != 4 {
		t.Errorf("stored %+v, want 2 tariffs, 2 locations, 4 CDRs, 4 owner rejects", got)
	}
	// A party joins the hub: the next pull rereads hubclientinfo first and
	// accepts its objects.
	hub.mu.Lock()
	hub.lists["hubclientinfo"] = append(hub.lists["hubclientinfo"], `{"country_code":"FR","party_id":"FFF","role":"CPO","status":"CONNECTED","last_updated":"2024-06-01T00:00:00Z"}`)
	hub.mu.Unlock()
	out, errs, code = run(t, "pull", "cdrs", "--db", db, "--partner", "DE-HUB", "--full")
	if code != 0 || !strings.Contains(out, "fronting 3 parties") || !strings.Contains(out, "accepted 2, duplicates 4") {
		t.Errorf("pull after FR-FFF joined: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestE2EHubPush: a hub added with `partners add --role HUB` registers with
// `serve`, which reads its hubclientinfo; it then pushes CDRs, tariffs and
// locations of its parties (with and without routing headers), all stored,
// and one CDR of FR-FFF, refused and kept as an owner reject.
func TestE2EHubPush(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hubpush.duckdb")
	tokA := addPartner(t, db, "--country", "DE", "--party", "HUB", "--role", "HUB")
	var logs syncBuffer
	base, stop := startServe(t, db, &logs)
	c := client{t, base}
	hub := newFakeHub(t, "roamsettle-calls-hub-with-this")
	auth := func(tok string) string { return ocpi.AuthorizationHeader(tok, ocpi.AuthBase64, ocpi.V221) }
	r := c.do("POST", "/ocpi/2.2.1/credentials", auth(tokA), hub.credentials("roamsettle-calls-hub-with-this"))
	ours, probs := ocpi.UnmarshalCredentials(r.env.Data, ocpi.V221)
	if r.status != 200 || len(probs) > 0 {
		t.Fatalf("hub registration: %d %s", r.status, r.body)
	}
	tokC := auth(ours.Token)
	// serve reads the hub's client list in the background after answering.
	for i := 0; ; i++ {
		if r := c.do("GET", "/ocpi/2.2.1/hubclientinfo/NL/BBB", tokC, nil); r.status == 200 {
			break
		}
		if i == 100 {
			t.Fatalf("serve did not read the hub's client list:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	from := func(cc, pid string) []string {
		return []string{"OCPI-from-country-code", cc, "OCPI-from-party-id", pid}
	}
	pushes := []struct {
		name, method, path string
		body               string
		header             []string
		status             int
		code               ocpi.StatusCode
	}{
		{"CDR of DE-AAA", "POST", "/ocpi/2.2.1/cdrs", hub.lists["cdrs"][0], from("DE", "AAA"), 201, ocpi.StatusSuccess},
		{"CDR of NL-BBB without routing headers", "POST", "/ocpi/2.2.1/cdrs", hub.lists["cdrs"][2], nil, 201, ocpi.StatusSuccess},
		{"tariff of NL-BBB", "PUT", "/ocpi/2.2.1/tariffs/NL/BBB/T1", hub.lists["tariffs"][1], from("NL", "BBB"), 201, ocpi.StatusSuccess},
		{"location of DE-AAA", "PUT", "/ocpi/2.2.1/locations/DE/AAA/L0", hub.lists["locations"][0], from("DE", "AAA"), 201, ocpi.StatusSuccess},
		{"CDR of FR-FFF", "POST", "/ocpi/2.2.1/cdrs", hub.lists["cdrs"][4], from("FR", "FFF"), 404, ocpi.StatusInvalidParameters},
		{"CDR of FR-FFF without routing headers", "POST", "/ocpi/2.2.1/cdrs", hub.lists["cdrs"][5], nil, 200, ocpi.StatusInvalidParameters},
	}
	for _, p := range pushes {
		r := c.do(p.method, p.path, tokC, []byte(p.body), p.header...)
		if r.status != p.status || r.env.StatusCode != p.code {
			t.Errorf("%s: HTTP %d OCPI %d, want %d %d: %s", p.name, r.status, r.env.StatusCode, p.status, p.code, r.body)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs.String())
	}
	got := counts(t, db)
	if got.CDRs != 2 || got.TariffVersions != 1 || got.Locations != 1 || got.RejectsByRule[ocpi.RuleOwner] != 2 {
		t.Errorf("stored %+v, want 2 CDRs, 1 tariff, 1 location, 2 owner rejects", got)
	}
	out, _, _ := run(t, "partners", "list", "--db", db)
	if !strings.Contains(out, "hub DE-HUB fronts DE-AAA connected, NL-BBB connected") {
		t.Errorf("partners list:\n%s", out)
	}
}
