package receiver

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t     *testing.T
	store *memStore
	srv   *Server
	http  *httptest.Server
	logs  *syncBuffer
}

const (
	tokenAOfABC = "registration-token-for-abc"
	tokenCOfXYZ = "issued-token-for-xyz"
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	m := newMemStore()
	now := time.Now().UTC()
	m.partners = []ocpi.Connection{
		{ID: 1, CountryCode: "NL", PartyID: "ABC", Role: "CPO", TokenA: Hash(tokenAOfABC), AuthMode: ocpi.AuthAuto},
		{ID: 2, CountryCode: "DE", PartyID: "XYZ", Role: "CPO", TokenC: Hash(tokenCOfXYZ), AuthMode: ocpi.AuthAuto,
			Version: ocpi.V221, RegisteredAt: &now},
		{ID: 3, CountryCode: "NL", PartyID: "HUB", Role: "HUB", TokenC: Hash("hub-token"), AuthMode: ocpi.AuthBase64,
			Version: ocpi.V221, RegisteredAt: &now, Roles: []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "BE", PartyID: "BEC"}}},
	}
	hs := httptest.NewUnstartedServer(nil)
	logs := &syncBuffer{}
	srv, err := New(Config{
		BaseURL: "http://" + hs.Listener.Addr().String(),
		Self:    []ocpi.CredentialsRole{{Role: "EMSP", CountryCode: "NL", PartyID: "RSE", BusinessDetails: ocpi.BusinessDetails{Name: "roamsettle"}}},
		Sink:    m, Partners: m, Objects: m, Sealer: plainSealer{},
		Log:     slog.New(slog.NewJSONHandler(logs, nil)),
		MaxBody: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &harness{t: t, store: m, srv: srv, http: hs, logs: logs}
}

type answer struct {
	status int
	header http.Header
	env    ocpi.Envelope
	body   string
}

func (h *harness) do(method, path, auth string, body []byte, header ...string) answer {
	h.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = h.http.URL + path
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, body: string(raw)}
	a.env, _ = ocpi.UnmarshalEnvelope(raw)
	return a
}

func b64(token string) string { return "Token " + base64.StdEncoding.EncodeToString([]byte(token)) }

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cdrBody is the realistic 2.2.1 CDR of party cc*pid with another id.
func cdrBody(t *testing.T, cc, pid, id string) []byte {
	s := string(fixture(t, "cdr_221.json"))
	s = strings.Replace(s, `"id": "NLABC20241105-00012877"`, `"id": "`+id+`"`, 1)
	s = strings.Replace(s, `"country_code": "NL",`+"\n"+`  "party_id": "ABC"`, `"country_code": "`+cc+`",`+"\n"+`  "party_id": "`+pid+`"`, 1)
	return []byte(s)
}

// register runs the handshake partner NL*ABC starts with its token A and
// returns the token C we issued.
func (h *harness) register(version ocpi.Version, mode ocpi.AuthMode) string {
	h.t.Helper()
	partner := fakePartner(h.t, version, "token-b-of-abc", mode)
	creds, _ := ocpi.MarshalCredentials(ocpi.Credentials{Token: "token-b-of-abc", URL: partner.URL + "/versions",
		Roles: []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "NL", PartyID: "ABC", BusinessDetails: ocpi.BusinessDetails{Name: "ABC"}}}}, version)
	a := h.do("POST", "/ocpi/"+string(version)+"/credentials", ocpi.AuthorizationHeader(tokenAOfABC, mode, version), creds)
	if a.status != 200 || a.env.StatusCode != ocpi.StatusSuccess {
		h.t.Fatalf("registration: %d %s", a.status, a.body)
	}
	ours, probs := ocpi.UnmarshalCredentials(a.env.Data, version)
	if len(probs) > 0 || ours.URL != h.srv.VersionsURL() {
		h.t.Fatalf("our credentials: %+v %v", ours, probs)
	}
	return ours.Token
}

func TestVersionsAndDetails(t *testing.T) {
	h := newHarness(t)
	a := h.do("GET", "/ocpi/versions", "Token "+tokenAOfABC, nil)
	var vs []ocpi.VersionInfo
	if a.status != 200 || json.Unmarshal(a.env.Data, &vs) != nil || len(vs) != 3 || vs[2].Version != ocpi.V230 {
		t.Fatalf("versions: %d %s", a.status, a.body)
	}
	for _, v := range vs {
		a := h.do("GET", v.URL, b64(tokenCOfXYZ), nil)
		var d ocpi.VersionDetails
		if a.status != 200 || json.Unmarshal(a.env.Data, &d) != nil || d.Version != v.Version {
			t.Fatalf("details %s: %d %s", v.Version, a.status, a.body)
		}
		if _, ok := d.Find("cdrs", ocpi.InterfaceReceiver); !ok {
			t.Errorf("%s: no cdrs receiver", v.Version)
		}
		if v.Version == ocpi.V211 && strings.Contains(a.body, `"role"`) {
			t.Errorf("2.1.1 details carry roles: %s", a.body)
		}
		_, irr := d.Find(ocpi.ModuleInvoiceReconciliation, "")
		if irr != (v.Version == ocpi.V230) {
			t.Errorf("%s: invoicereconciliation published = %v", v.Version, irr)
		}
	}
	if a := h.do("GET", "/ocpi/2.0", "Token "+tokenAOfABC, nil); a.status != 404 || a.env.StatusCode != ocpi.StatusUnsupportedVersion {
		t.Errorf("unknown version: %d %s", a.status, a.body)
	}
	if a := h.do("GET", "/health", "", nil); a.status != 200 {
		t.Errorf("health: %d", a.status)
	}
}

func TestRegistrationHandshakeEachVersion(t *testing.T) {
	for _, v := range ocpi.Versions {
		t.Run(string(v), func(t *testing.T) {
			h := newHarness(t)
			mode := ocpi.DefaultAuthMode(v)
			tokenC := h.register(v, mode)
			p := h.store.partner(1)
			if !p.Registered() || p.TokenA != ([32]byte{}) || p.TokenC != Hash(tokenC) || p.Version != v ||
				string(p.TokenBSealed) != "sealed:token-b-of-abc" || len(p.Endpoints) != 2 {
				t.Fatalf("stored partner %+v", p)
			}
			auth := ocpi.AuthorizationHeader(tokenC, mode, v)
			// Token A is dead everywhere now.
			for _, path := range []string{"/ocpi/versions", "/ocpi/" + string(v) + "/credentials"} {
				if a := h.do("GET", path, ocpi.AuthorizationHeader(tokenAOfABC, mode, v), nil); a.status != 401 {
					t.Errorf("token A after registration on %s: %d", path, a.status)
				}
			}
			a := h.do("POST", "/ocpi/"+string(v)+"/cdrs", auth, cdrBody(t, "NL", "ABC", "CDR-1"))
			if a.status != 201 || a.env.StatusCode != 1000 || !strings.HasSuffix(a.header.Get("Location"), "/cdrs/NL/ABC/CDR-1") {
				t.Fatalf("CDR POST: %d %v %s", a.status, a.header.Get("Location"), a.body)
			}
			// A second POST is 405.
			creds, _ := ocpi.MarshalCredentials(ocpi.Credentials{Token: "x", URL: "http://127.0.0.1:1/v", Roles: []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "NL", PartyID: "ABC"}}}, v)
			if a := h.do("POST", "/ocpi/"+string(v)+"/credentials", auth, creds); a.status != 405 {
				t.Errorf("POST when registered: %d %s", a.status, a.body)
			}
			// GET credentials answers with the caller's token.
			a = h.do("GET", "/ocpi/"+string(v)+"/credentials", auth, nil)
			if got, _ := ocpi.UnmarshalCredentials(a.env.Data, v); got.Token != tokenC {
				t.Errorf("GET credentials: %s", a.body)
			}
		})
	}
}

func TestRotationAndUnregister(t *testing.T) {
	h := newHarness(t)
	tokenC := h.register(ocpi.V221, ocpi.AuthBase64)
	partner := fakePartner(t, ocpi.V221, "token-b2", ocpi.AuthBase64)
	creds, _ := ocpi.MarshalCredentials(ocpi.Credentials{Token: "token-b2", URL: partner.URL + "/versions",
		Roles: []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "NL", PartyID: "ABC"}}}, ocpi.V221)
	a := h.do("PUT", "/ocpi/2.2.1/credentials", b64(tokenC), creds)
	if a.status != 200 || a.env.StatusCode != 1000 {
		t.Fatalf("rotation: %d %s", a.status, a.body)
	}
	rotated, _ := ocpi.UnmarshalCredentials(a.env.Data, ocpi.V221)
	if rotated.Token == tokenC {
		t.Fatal("rotation kept the token")
	}
	if a := h.do("POST", "/ocpi/2.2.1/cdrs", b64(tokenC), cdrBody(t, "NL", "ABC", "X")); a.status != 401 {
		t.Errorf("old token after rotation: %d", a.status)
	}
	if p := h.store.partner(1); string(p.TokenBSealed) != "sealed:token-b2" {
		t.Errorf("new token B not kept: %q", p.TokenBSealed)
	}
	if a := h.do("DELETE", "/ocpi/2.2.1/credentials", b64(rotated.Token), nil); a.status != 200 || a.env.StatusCode != 1000 {
		t.Fatalf("unregister: %d %s", a.status, a.body)
	}
	if a := h.do("POST", "/ocpi/2.2.1/cdrs", b64(rotated.Token), cdrBody(t, "NL", "ABC", "X")); a.status != 401 {
		t.Errorf("token after unregister: %d", a.status)
	}
	if a := h.do("DELETE", "/ocpi/2.2.1/credentials", b64(rotated.Token), nil); a.status != 401 {
		t.Errorf("second unregister: %d", a.status)
	}
	if h.store.received() != 0 {
		t.Errorf("the sink saw %d records", h.store.received())
	}
}

func TestRegistrationFailures(t *testing.T) {
	h := newHarness(t)
	roles := []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "NL", PartyID: "ABC"}}
	body := func(url string, roles []ocpi.CredentialsRole) []byte {
		b, _ := ocpi.MarshalCredentials(ocpi.Credentials{Token: "tb", URL: url, Roles: roles}, ocpi.V221)
		return b
	}
	partner := fakePartner(t, ocpi.V211, "tb", ocpi.AuthBase64) // reachable, but offers 2.1.1 only
	tests := []struct {
		name   string
		body   []byte
		status int
		code   ocpi.StatusCode
	}{
		{"unreachable partner", body("http://127.0.0.1:1/versions", roles), 200, ocpi.StatusUnableToUseClientAPI},
		{"no common version", body(partner.URL+"/versions", roles), 200, ocpi.StatusUnsupportedVersion},
		{"another party", body(partner.URL+"/versions", []ocpi.CredentialsRole{{Role: "CPO", CountryCode: "DE", PartyID: "XYZ"}}), 200, ocpi.StatusInvalidParameters},
		{"malformed", []byte(`{"token":`), 400, ocpi.StatusClientError},
		{"missing token", []byte(`{"url":"http://a/v","roles":[]}`), 200, ocpi.StatusInvalidParameters},
	}
	for _, tt := range tests {
		a := h.do("POST", "/ocpi/2.2.1/credentials", b64(tokenAOfABC), tt.body)
		if a.status != tt.status || a.env.StatusCode != tt.code {
			t.Errorf("%s: %d %s, want %d %d", tt.name, a.status, a.body, tt.status, tt.code)
		}
	}
	if p := h.store.partner(1); p.Registered() || p.TokenA != Hash(tokenAOfABC) {
		t.Errorf("a failed registration changed the partner: %+v", p)
	}
	if a := h.do("PUT", "/ocpi/2.2.1/credentials", b64(tokenAOfABC), body("http://a/v", roles)); a.status != 405 {
		t.Errorf("PUT when not registered: %d", a.status)
	}
	if a := h.do("DELETE", "/ocpi/2.2.1/credentials", b64(tokenAOfABC), nil); a.status != 405 {
		t.Errorf("DELETE when not registered: %d", a.status)
	}
}

func TestSecurityRefusalsLeaveStoreUnchanged(t *testing.T) {
	h := newHarness(t)
	xyz := b64(tokenCOfXYZ)
	huge := append(cdrBody(t, "DE", "XYZ", "BIG"), bytes.Repeat([]byte(" "), 70<<10)...)
	tests := []struct {
		name, method, path, auth string
		body                     []byte
		status                   int
		header                   []string
	}{
		{"missing header", "POST", "/ocpi/2.2.1/cdrs", "", cdrBody(t, "DE", "XYZ", "1"), 401, nil},
		{"wrong token", "POST", "/ocpi/2.2.1/cdrs", b64("nope"), cdrBody(t, "DE", "XYZ", "1"), 401, nil},
		{"bearer scheme", "POST", "/ocpi/2.2.1/cdrs", "Bearer " + tokenCOfXYZ, cdrBody(t, "DE", "XYZ", "1"), 401, nil},
		{"token A on a functional module", "POST", "/ocpi/2.2.1/cdrs", b64(tokenAOfABC), cdrBody(t, "NL", "ABC", "1"), 401, nil},
		{"hub token raw but hub is base64-only", "POST", "/ocpi/2.2.1/cdrs", "Token hub-token", cdrBody(t, "BE", "BEC", "1"), 401, nil},
		{"CDR of another party", "POST", "/ocpi/2.2.1/cdrs", xyz, cdrBody(t, "NL", "ABC", "1"), 200, nil},
		{"tariff of another party", "PUT", "/ocpi/2.2.1/tariffs/NL/ABC/12", xyz, fixture(t, "tariff_221.json"), 404, nil},
		{"hub routing to a party it does not serve", "POST", "/ocpi/2.2.1/cdrs", b64("hub-token"), cdrBody(t, "FR", "FFF", "1"), 404,
			[]string{"OCPI-from-country-code", "FR", "OCPI-from-party-id", "FFF"}},
		{"oversized body", "POST", "/ocpi/2.2.1/cdrs", xyz, huge, 413, nil},
		{"malformed JSON", "POST", "/ocpi/2.2.1/cdrs", xyz, []byte(`{"id": "1", `), 400, nil},
		{"bad country code in path", "PUT", "/ocpi/2.2.1/tariffs/N1/XYZ/12", xyz, fixture(t, "tariff_221.json"), 400, nil},
		{"overlong id in path", "PUT", "/ocpi/2.2.1/tariffs/DE/XYZ/" + strings.Repeat("x", 40), xyz, fixture(t, "tariff_221.json"), 400, nil},
		{"PATCH tariff in 2.2.1", "PATCH", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, []byte(`{}`), 405, nil},
		{"method not allowed", "DELETE", "/ocpi/2.2.1/cdrs", xyz, nil, 405, nil},
	}
	for _, tt := range tests {
		a := h.do(tt.method, tt.path, tt.auth, tt.body, tt.header...)
		if a.status != tt.status {
			t.Errorf("%s: HTTP %d %s, want %d", tt.name, a.status, a.body, tt.status)
		}
		if a.status == 200 && a.env.StatusCode == ocpi.StatusSuccess {
			t.Errorf("%s: answered success", tt.name)
		}
	}
	// Nothing refused is stored as an object, but what an authenticated
	// partner sent is kept as a reject with the rule of the answer (issue
	// 12 item 18), the oversized body cut at MaxRefusedRaw; nothing of an
	// unauthenticated request or of a request without a body is kept.
	wantRules := []ocpi.Rule{ocpi.RuleOwner, ocpi.RuleOwner, ocpi.RuleOwner, ocpi.RuleTooLarge, ocpi.RuleSyntax, ocpi.RuleFormat, ocpi.RuleLength}
	h.store.mu.Lock()
	kept := slices.Clone(h.store.records)
	h.store.mu.Unlock()
	if len(kept) != len(wantRules) || len(h.store.objects) != 0 {
		t.Fatalf("kept %d refused payloads (want %d) and %d objects (want 0)", len(kept), len(wantRules), len(h.store.objects))
	}
	for i, r := range kept {
		if !r.Rejected || r.Problems[0].Rule != wantRules[i] || r.SHA256 != sha256.Sum256(r.Raw) || r.Source.Partner == "" {
			t.Errorf("kept payload %d: rejected %v, %v, partner %q; want rule %s", i, r.Rejected, r.Problems, r.Source.Partner, wantRules[i])
		}
	}
	if big := kept[3]; len(big.Raw) != MaxRefusedRaw || !bytes.HasPrefix(huge, big.Raw) || !strings.Contains(big.Problems[0].Message, "raw copy: the first 65536 of") {
		t.Errorf("oversized body kept as %d bytes: %v", len(big.Raw), big.Problems)
	}
	if !strings.Contains(h.do("GET", "/metrics", "", nil).body, `roamsettle_rejects_total{rule="auth"} 5`) {
		t.Errorf("rejects by rule not counted")
	}
}

func TestCDRPushOutcomes(t *testing.T) {
	h := newHarness(t)
	xyz := b64(tokenCOfXYZ)
	body := cdrBody(t, "DE", "XYZ", "CDR-9")
	a := h.do("POST", "/ocpi/2.2.1/cdrs", xyz, body, "X-Request-ID", "req-1", "X-Correlation-ID", "corr-1")
	loc := a.header.Get("Location")
	if a.status != 201 || loc == "" || a.header.Get("X-Request-ID") != "req-1" || a.header.Get("X-Correlation-ID") != "corr-1" {
		t.Fatalf("first POST: %d %v %s", a.status, a.header, a.body)
	}
	a = h.do("POST", "/ocpi/2.2.1/cdrs", xyz, body)
	if a.status != 200 || a.env.StatusCode != 1000 || a.header.Get("Location") != loc {
		t.Fatalf("duplicate: %d %s %s", a.status, a.header.Get("Location"), a.body)
	}
	changed := bytes.Replace(body, []byte(`"auth_method": "AUTH_REQUEST"`), []byte(`"auth_method": "WHITELIST"`), 1)
	a = h.do("POST", "/ocpi/2.2.1/cdrs", xyz, changed)
	if a.status != 200 || a.env.StatusCode != ocpi.StatusInvalidParameters || !strings.Contains(a.env.StatusMessage, "conflict") {
		t.Fatalf("conflict: %d %s", a.status, a.body)
	}
	a = h.do("POST", "/ocpi/2.2.1/cdrs", xyz, []byte(`{"country_code":"DE","party_id":"XYZ","start_date_time":"2024-01-01T00:00:00Z"}`))
	if a.status != 200 || a.env.StatusCode != ocpi.StatusInvalidParameters || !strings.Contains(a.env.StatusMessage, "id: ") {
		t.Fatalf("reject: %d %s", a.status, a.body)
	}
	a = h.do("GET", loc, xyz, nil)
	var compact bytes.Buffer
	json.Compact(&compact, body)
	if a.status != 200 || !bytes.Equal(a.env.Data, compact.Bytes()) {
		t.Fatalf("GET by Location: %d %s", a.status, a.body)
	}
	if a := h.do("GET", strings.Replace(loc, "/DE/XYZ/", "/NL/ABC/", 1), xyz, nil); a.status != 404 {
		t.Errorf("GET of another party's CDR: %d", a.status)
	}
	if a := h.do("GET", strings.Replace(loc, "CDR-9", "CDR-404", 1), xyz, nil); a.status != 404 || a.env.StatusCode != ocpi.StatusUnknownLocation {
		t.Errorf("GET of an unknown CDR: %d %s", a.status, a.body)
	}
	// A hub relays for a routed party.
	a = h.do("POST", "/ocpi/2.2.1/cdrs", b64("hub-token"), cdrBody(t, "BE", "BEC", "H1"),
		"OCPI-from-country-code", "BE", "OCPI-from-party-id", "BEC")
	if a.status != 201 {
		t.Errorf("hub relay: %d %s", a.status, a.body)
	}
	if got := h.store.count(ocpi.KindCDR); got != 2 {
		t.Errorf("%d CDRs stored, want 2", got)
	}
}

func TestTariffsAndLocations(t *testing.T) {
	h := newHarness(t)
	xyz := b64(tokenCOfXYZ)
	tariff := bytes.Replace(bytes.Replace(fixture(t, "tariff_221.json"), []byte(`"DE"`), []byte(`"DE"`), 1),
		[]byte(`"party_id": "ALL"`), []byte(`"party_id": "XYZ"`), 1)
	if a := h.do("PUT", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, tariff); a.status != 201 {
		t.Fatalf("tariff PUT: %d %s", a.status, a.body)
	}
	if a := h.do("PUT", "/ocpi/2.2.1/tariffs/DE/XYZ/13", xyz, tariff); a.env.StatusCode != ocpi.StatusInvalidParameters {
		t.Errorf("URL id differs from body: %s", a.body)
	}
	if a := h.do("DELETE", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, nil); a.status != 200 || len(h.store.withdrawn) != 1 {
		t.Errorf("tariff DELETE: %d %v", a.status, h.store.withdrawn)
	}

	loc := bytes.Replace(bytes.Replace(fixture(t, "location_221.json"), []byte(`"country_code": "BE"`), []byte(`"country_code": "DE"`), 1),
		[]byte(`"party_id": "BEC"`), []byte(`"party_id": "XYZ"`), 1)
	if a := h.do("PUT", "/ocpi/2.2.1/locations/DE/XYZ/LOC1", xyz, loc); a.status != 201 {
		t.Fatalf("location PUT: %d %s", a.status, a.body)
	}
	a := h.do("PATCH", "/ocpi/2.2.1/locations/DE/XYZ/LOC1/3256/1", xyz, []byte(`{"tariff_ids":["15"],"last_updated":"2030-06-24T12:39:09Z"}`))
	if a.status != 201 {
		t.Fatalf("connector PATCH: %d %s", a.status, a.body)
	}
	l, _ := h.store.LatestLocation(nil, "DE", "XYZ", "LOC1")
	if k := l.EVSEs[0].Connectors[0]; len(k.TariffIDs) != 1 || k.TariffIDs[0] != "15" || !l.LastUpdated.Equal(time.Date(2030, 6, 24, 12, 39, 9, 0, time.UTC)) {
		t.Errorf("patched connector %+v, location last_updated %v", k, l.LastUpdated)
	}
	a = h.do("PATCH", "/ocpi/2.2.1/locations/DE/XYZ/LOC1", xyz, []byte(`{"time_zone":"Europe/Brussels","last_updated":"2030-06-25T00:00:00Z"}`))
	if a.status != 201 {
		t.Fatalf("location PATCH: %d %s", a.status, a.body)
	}
	if l, _ := h.store.LatestLocation(nil, "DE", "XYZ", "LOC1"); l.TimeZone != "Europe/Brussels" {
		t.Errorf("time zone not patched: %q", l.TimeZone)
	}
	if a := h.do("PATCH", "/ocpi/2.2.1/locations/DE/XYZ/LOC1", xyz, []byte(`{"time_zone":"Europe/Brussels"}`)); a.env.StatusCode != ocpi.StatusInvalidParameters {
		t.Errorf("2.2.1 PATCH without last_updated: %s", a.body)
	}
	if a := h.do("PATCH", "/ocpi/2.2.1/locations/DE/XYZ/NOPE", xyz, []byte(`{"last_updated":"2030-06-25T00:00:00Z"}`)); a.status != 404 {
		t.Errorf("PATCH of unknown location: %d", a.status)
	}
	connector := []byte(`{"id":"9","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":16,"tariff_ids":["12"],"last_updated":"2030-07-01T00:00:00Z"}`)
	if a := h.do("PUT", "/ocpi/2.2.1/locations/DE/XYZ/LOC1/3256/9", xyz, connector); a.status != 201 {
		t.Fatalf("connector PUT: %d %s", a.status, a.body)
	}
	if l, _ := h.store.LatestLocation(nil, "DE", "XYZ", "LOC1"); len(l.EVSEs[0].Connectors) != 3 {
		t.Errorf("connector not added: %+v", l.EVSEs[0].Connectors)
	}
}

func TestAccessLogsCarryNoSecrets(t *testing.T) {
	h := newHarness(t)
	tokenC := h.register(ocpi.V221, ocpi.AuthBase64)
	h.do("POST", "/ocpi/2.2.1/cdrs", b64(tokenC), cdrBody(t, "NL", "ABC", "L1"), "X-Request-ID", "rid-42")
	h.do("POST", "/ocpi/2.2.1/cdrs", "Token wrong-secret-token", nil)
	logs := h.logs.String()
	for _, secret := range []string{tokenAOfABC, tokenC, "token-b-of-abc", base64.StdEncoding.EncodeToString([]byte(tokenC)),
		base64.StdEncoding.EncodeToString([]byte(tokenAOfABC)), "wrong-secret-token", "Authorization", "business_details"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, `"request_id":"rid-42"`) || !strings.Contains(logs, `"partner":"NL-ABC"`) {
		t.Errorf("access log lacks ids:\n%s", logs)
	}
}

func TestGroupCommitBatchesConcurrentPosts(t *testing.T) {
	h := newHarness(t)
	xyz := b64(tokenCOfXYZ)
	var wg sync.WaitGroup
	const n = 64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := h.do("POST", "/ocpi/2.2.1/cdrs", xyz, cdrBody(t, "DE", "XYZ", "G-"+strings.Repeat("x", i%7)+string(rune('A'+i%26))+string(rune('a'+i/26))))
			if a.status != 201 {
				t.Errorf("POST: %d %s", a.status, a.body)
			}
		}()
	}
	wg.Wait()
	if got := h.store.count(ocpi.KindCDR); got != n {
		t.Errorf("%d CDRs stored, want %d", got, n)
	}
	h.store.mu.Lock()
	saves := h.store.saves
	h.store.mu.Unlock()
	t.Logf("%d POSTs in %d saves", n, saves)
}
