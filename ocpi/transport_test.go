package ocpi

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestTokenCandidates(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header string
		want         []TokenCandidate
		wantErr      bool
	}{
		{"raw 2.1.1 token", "Token abc-123_XYZ", []TokenCandidate{{"abc-123_XYZ", AuthRaw}}, false},
		{"base64 2.2 token", "Token " + b64("example-token"), []TokenCandidate{{"example-token", AuthBase64}, {b64("example-token"), AuthRaw}}, false},
		{"scheme case-insensitive", "token abc", []TokenCandidate{{"abc", AuthRaw}}, false},
		{"spec 2.3.0 example with newline decodes to unprintable: raw only", "Token ZXhhbXBsZS10b2tlbgo=", []TokenCandidate{{"ZXhhbXBsZS10b2tlbgo=", AuthRaw}}, false},
		{"raw token that looks like base64 of binary", "Token AAAA", []TokenCandidate{{"AAAA", AuthRaw}}, false},
		{"missing", "", nil, true},
		{"bearer", "Bearer abc", nil, true},
		{"no value", "Token ", nil, true},
		{"space inside", "Token a b", nil, true},
		{"non-ascii", "Token abcé", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TokenCandidates(tt.header)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestAuthorizationHeaderRoundTrip(t *testing.T) {
	for _, v := range Versions {
		for _, m := range []AuthMode{AuthRaw, AuthBase64, AuthAuto} {
			h := AuthorizationHeader("tok-EN_1", m, v)
			wantMode := m
			if m == AuthAuto {
				wantMode = DefaultAuthMode(v)
			}
			cands, err := TokenCandidates(h)
			if err != nil {
				t.Fatalf("%s %s: %v", v, m, err)
			}
			if cands[0].Token != "tok-EN_1" || cands[0].Mode != wantMode {
				t.Errorf("%s %s: header %q read as %v", v, m, h, cands)
			}
		}
	}
	if DefaultAuthMode(V211) != AuthRaw || DefaultAuthMode(V221) != AuthBase64 || DefaultAuthMode(V230) != AuthBase64 {
		t.Error("default auth modes: want raw for 2.1.1, base64 for 2.2+")
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{`<https://x.example/cdrs/?offset=150&limit=50>; rel="next"`, "https://x.example/cdrs/?offset=150&limit=50", true},
		{`<https://x.example/a>; rel=next`, "https://x.example/a", true},
		{`<https://x.example/prev>; rel="prev", <https://x.example/n?date_from=2019-01-01T00:00:00Z>; rel="next"`, "https://x.example/n?date_from=2019-01-01T00:00:00Z", true},
		{`<https://x.example/a>; title="x"; REL="Next"`, "https://x.example/a", true},
		{`<https://x.example/a>; rel="prev"`, "", false},
		{``, "", false},
		{`https://x.example/a; rel="next"`, "", false},
		{`<https://x.example/a; rel="next"`, "", false},
	}
	for _, tt := range tests {
		got, ok := NextLink(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NextLink(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
	if got, _ := NextLink(FormatNextLink("http://h/p?offset=2")); got != "http://h/p?offset=2" {
		t.Errorf("FormatNextLink does not round trip: %q", got)
	}
}

func TestEnvelope(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	raw, err := MarshalEnvelope(map[string]string{"a": "b"}, StatusSuccess, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"data":{"a":"b"},"status_code":1000,"timestamp":"2024-05-06T07:08:09Z"}`; string(raw) != want {
		t.Errorf("got %s, want %s", raw, want)
	}
	raw, _ = MarshalEnvelope(nil, StatusInvalidParameters, "id: required", now)
	if strings.Contains(string(raw), `"data"`) {
		t.Errorf("error envelope carries data: %s", raw)
	}
	env, err := UnmarshalEnvelope(raw)
	if err != nil || env.StatusCode != StatusInvalidParameters || env.StatusMessage != "id: required" || env.Data != nil {
		t.Errorf("round trip: %+v, %v", env, err)
	}
	if _, err := UnmarshalEnvelope([]byte(`{"data":[]}`)); err != ErrNotEnvelope {
		t.Errorf("bare data: err = %v, want ErrNotEnvelope", err)
	}
	if _, err := UnmarshalEnvelope([]byte(`{"status_code":`)); err == nil {
		t.Error("malformed envelope accepted")
	}
	if env, _ := UnmarshalEnvelope([]byte(`{"status_code":1000,"data":null}`)); env.Data != nil {
		t.Error("data null should read as absent")
	}
	if !StatusSuccess.Success() || StatusClientError.Success() {
		t.Error("Success()")
	}
}

func TestCredentialsPerVersion(t *testing.T) {
	c := Credentials{Token: "tok", URL: "https://emsp.example/ocpi/versions", HubPartyID: "NLHUB",
		Roles: []CredentialsRole{{Role: "EMSP", BusinessDetails: BusinessDetails{Name: "Us"}, PartyID: "RSE", CountryCode: "NL"}}}
	want := map[Version]string{
		V211: `{"token":"tok","url":"https://emsp.example/ocpi/versions","business_details":{"name":"Us"},"party_id":"RSE","country_code":"NL"}`,
		V221: `{"token":"tok","url":"https://emsp.example/ocpi/versions","roles":[{"role":"EMSP","business_details":{"name":"Us"},"party_id":"RSE","country_code":"NL"}]}`,
		V230: `{"token":"tok","url":"https://emsp.example/ocpi/versions","roles":[{"role":"EMSP","business_details":{"name":"Us"},"party_id":"RSE","country_code":"NL"}],"hub_party_id":"NLHUB"}`,
	}
	for _, v := range Versions {
		raw, err := MarshalCredentials(c, v)
		if err != nil || string(raw) != want[v] {
			t.Errorf("%s: got %s (%v), want %s", v, raw, err, want[v])
		}
		back, probs := UnmarshalCredentials(raw, v)
		if len(probs) != 0 || back.Token != "tok" || back.Roles[0].PartyID != "RSE" {
			t.Errorf("%s: read back %+v %v", v, back, probs)
		}
	}
}

func TestCredentialsProblems(t *testing.T) {
	tests := []struct {
		name string
		v    Version
		body string
		path string
		rule Rule
	}{
		{"malformed", V221, `{"token":`, "", RuleSyntax},
		{"no token", V221, `{"url":"https://a/v","roles":[{"role":"CPO","business_details":{"name":"x"},"party_id":"ABC","country_code":"NL"}]}`, "token", RuleRequired},
		{"token too long", V230, `{"token":"` + strings.Repeat("a", 65) + `","url":"https://a/v","roles":[{"role":"CPO","business_details":{"name":"x"},"party_id":"ABC","country_code":"NL"}]}`, "token", RuleLength},
		{"token with space", V230, `{"token":"a b","url":"https://a/v","roles":[{"role":"CPO","business_details":{"name":"x"},"party_id":"ABC","country_code":"NL"}]}`, "token", RuleFormat},
		{"no roles", V221, `{"token":"t","url":"https://a/v"}`, "roles", RuleRequired},
		{"bad party", V221, `{"token":"t","url":"https://a/v","roles":[{"role":"CPO","business_details":{"name":"x"},"party_id":"ABCD","country_code":"NL"}]}`, "roles[0].party_id", RuleFormat},
		{"bad url", V211, `{"token":"t","url":"ftp://a/v","business_details":{"name":"x"},"party_id":"ABC","country_code":"NL"}`, "url", RuleFormat},
		{"2.1.1 bad country", V211, `{"token":"t","url":"https://a/v","business_details":{"name":"x"},"party_id":"ABC","country_code":"N1"}`, "country_code", RuleFormat},
		{"wrong type", V221, `{"token":5}`, "", RuleType},
	}
	for _, tt := range tests {
		_, probs := UnmarshalCredentials([]byte(tt.body), tt.v)
		found := false
		for _, p := range probs {
			found = found || (p.Path == tt.path && p.Rule == tt.rule)
		}
		if !found {
			t.Errorf("%s: problems %v, want %s [%s]", tt.name, probs, tt.path, tt.rule)
		}
	}
}

func TestHighestCommonVersion(t *testing.T) {
	got, ok := HighestCommonVersion([]VersionInfo{{"2.0", "a"}, {V211, "b"}, {V221, "c"}, {"2.4", "d"}})
	if !ok || got.Version != V221 || got.URL != "c" {
		t.Errorf("got %v %v", got, ok)
	}
	if _, ok := HighestCommonVersion([]VersionInfo{{"2.0", "a"}}); ok {
		t.Error("no common version must say so")
	}
}

func TestVersionDetails(t *testing.T) {
	d := VersionDetails{Version: V211, Endpoints: []Endpoint{{ModuleCDRs, InterfaceReceiver, "u"}}}
	if d.ForVersion(V211).Endpoints[0].Role != "" || d.Endpoints[0].Role == "" {
		t.Error("2.1.1 details must drop roles without touching the original")
	}
	if u, ok := d.Find(ModuleCDRs, InterfaceSender); ok {
		t.Errorf("found %q for the wrong role", u)
	}
	if u, ok := d.ForVersion(V211).Find(ModuleCDRs, InterfaceSender); !ok || u != "u" {
		t.Error("2.1.1 endpoints have no role and match any")
	}
}

func TestIdentifiers(t *testing.T) {
	for s, want := range map[string]bool{"NL": true, "nl": true, "N1": false, "NLD": false} {
		if IsCountryCode(s) != want {
			t.Errorf("IsCountryCode(%q) != %v", s, want)
		}
	}
	for s, want := range map[string]bool{"ABC": true, "a1c": true, "AB": false, "AB-": false} {
		if IsPartyID(s) != want {
			t.Errorf("IsPartyID(%q) != %v", s, want)
		}
	}
	for s, want := range map[string]bool{"CDR-1": true, "": false, "a/b": false, "a b": false, "a%2F": false, strings.Repeat("x", 40): false, strings.Repeat("x", 39): true} {
		if IsIdentifier(s, MaxCDRIDLength) != want {
			t.Errorf("IsIdentifier(%q) != %v", s, want)
		}
	}
}

func FuzzTransportDecoders(f *testing.F) {
	f.Add(`Token ZXhhbXBsZS10b2tlbg==`, `<https://a/b?offset=1>; rel="next"`, []byte(`{"token":"t","url":"https://a","roles":[]}`))
	f.Fuzz(func(t *testing.T, header, link string, body []byte) {
		if cands, err := TokenCandidates(header); err == nil {
			for _, c := range cands {
				if !IsTokenText(c.Token) {
					t.Fatalf("candidate %q is not token text", c.Token)
				}
			}
		}
		if u, ok := NextLink(link); ok && (u == "" || !strings.Contains(link, u)) {
			t.Fatalf("next link %q not taken verbatim from %q", u, link)
		}
		for _, v := range Versions {
			UnmarshalCredentials(body, v)
		}
		UnmarshalEnvelope(body)
	})
}
