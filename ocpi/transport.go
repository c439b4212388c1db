package ocpi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file is the OCPI transport layer without HTTP: the response envelope,
// status codes, the Authorization header per version, pagination links, and
// the configuration-module objects (versions, endpoints, credentials). The
// ocpi package never imports net/http; headers and statuses are strings and
// ints here and the receiver and puller put them on the wire.

// StatusCode is an OCPI status_code (digest 1.4).
type StatusCode int

const (
	StatusSuccess              StatusCode = 1000
	StatusClientError          StatusCode = 2000
	StatusInvalidParameters    StatusCode = 2001
	StatusNotEnoughInformation StatusCode = 2002
	StatusUnknownLocation      StatusCode = 2003 // also used for "unknown object" on GET
	StatusUnknownToken         StatusCode = 2004 // 2.2+
	StatusServerError          StatusCode = 3000
	StatusUnableToUseClientAPI StatusCode = 3001
	StatusUnsupportedVersion   StatusCode = 3002
	StatusNoMatchingEndpoints  StatusCode = 3003
	StatusHubError             StatusCode = 4000 // 2.2.1+
	StatusHubUnknownReceiver   StatusCode = 4001
	StatusHubTimeout           StatusCode = 4002
	StatusHubConnection        StatusCode = 4003
)

// Success reports whether the code is a 1xxx success.
func (c StatusCode) Success() bool { return c >= 1000 && c < 2000 }

// Envelope is the OCPI response wrapper. Data is kept raw: its shape depends
// on the endpoint, and on errors it may be absent or anything.
type Envelope struct {
	Data          json.RawMessage `json:"data,omitempty"`
	StatusCode    StatusCode      `json:"status_code"`
	StatusMessage string          `json:"status_message,omitempty"`
	Timestamp     string          `json:"timestamp"`
}

// MarshalEnvelope wraps data (nil leaves "data" out, as 2.3.0 advises when
// there is nothing to say) with the status and the time of the answer.
func MarshalEnvelope(data any, code StatusCode, message string, now time.Time) ([]byte, error) {
	env := Envelope{StatusCode: code, StatusMessage: message, Timestamp: FormatDateTime(now)}
	if data != nil {
		raw, ok := data.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(data); err != nil {
				return nil, fmt.Errorf("ocpi: envelope data: %w", err)
			}
		}
		env.Data = raw
	}
	return json.Marshal(env)
}

// ErrNotEnvelope is returned for a body that is JSON but not an OCPI
// response envelope (no status_code).
var ErrNotEnvelope = errors.New("ocpi: not a response envelope (no status_code)")

// UnmarshalEnvelope reads a response envelope. A body without status_code is
// ErrNotEnvelope: a partner that answers bare data is not speaking OCPI.
func UnmarshalEnvelope(raw []byte) (Envelope, error) {
	var probe struct {
		Data          json.RawMessage `json:"data"`
		StatusCode    *StatusCode     `json:"status_code"`
		StatusMessage string          `json:"status_message"`
		Timestamp     string          `json:"timestamp"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Envelope{}, fmt.Errorf("ocpi: envelope: %w", err)
	}
	if probe.StatusCode == nil {
		return Envelope{}, ErrNotEnvelope
	}
	data := probe.Data
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		data = nil
	}
	return Envelope{Data: data, StatusCode: *probe.StatusCode, StatusMessage: probe.StatusMessage,
		Timestamp: probe.Timestamp}, nil
}

// AuthMode is how a credentials token travels in the Authorization header.
type AuthMode string

const (
	// AuthRaw sends the token as is (2.1.1, and many 2.2 implementations).
	AuthRaw AuthMode = "raw"
	// AuthBase64 sends Base64 (RFC 4648 §4, padded) of the token (2.2+).
	AuthBase64 AuthMode = "base64"
	// AuthAuto accepts both on inbound requests (Base64 tried first) and
	// sends the version's default (DefaultAuthMode) outbound.
	AuthAuto AuthMode = "auto"
)

// ParseAuthMode reads "raw", "base64" or "auto" (empty is auto).
func ParseAuthMode(s string) (AuthMode, error) {
	switch m := AuthMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return AuthAuto, nil
	case AuthRaw, AuthBase64, AuthAuto:
		return m, nil
	}
	return "", fmt.Errorf("ocpi: auth mode %q: want raw, base64 or auto", s)
}

// DefaultAuthMode is what a version's text prescribes: raw for 2.1.1,
// Base64 from 2.2 on.
func DefaultAuthMode(v Version) AuthMode {
	if v == V211 {
		return AuthRaw
	}
	return AuthBase64
}

// AuthorizationHeader is the Authorization header value for an outbound
// request: "Token " and the token, encoded by mode (auto: the version's
// default).
func AuthorizationHeader(token string, mode AuthMode, v Version) string {
	if mode == AuthAuto || mode == "" {
		mode = DefaultAuthMode(v)
	}
	if mode == AuthBase64 {
		return "Token " + base64.StdEncoding.EncodeToString([]byte(token))
	}
	return "Token " + token
}

// ErrNoToken is returned for a missing or malformed Authorization header.
var ErrNoToken = errors.New("ocpi: no credentials token (want Authorization: Token <token>)")

// TokenCandidate is one reading of an inbound Authorization header.
type TokenCandidate struct {
	Token string
	Mode  AuthMode // AuthRaw or AuthBase64: how the token was found
}

// TokenCandidates reads an inbound Authorization header into the tokens it
// may carry, the Base64-decoded reading first (digest 1.2, auto mode): the
// caller looks each up and checks the partner's mode allows the reading that
// matched. The decoded reading is offered only when the value is padded
// standard Base64 of printable non-space ASCII, so an ordinary raw token is
// not mistaken for an encoding.
func TokenCandidates(header string) ([]TokenCandidate, error) {
	scheme, value, ok := strings.Cut(strings.TrimSpace(header), " ")
	value = strings.TrimSpace(value)
	if !ok || !strings.EqualFold(scheme, "Token") || value == "" || !IsTokenText(value) {
		return nil, ErrNoToken
	}
	out := make([]TokenCandidate, 0, 2)
	if len(value)%4 == 0 {
		if dec, err := base64.StdEncoding.Strict().DecodeString(value); err == nil && len(dec) > 0 && IsTokenText(string(dec)) {
			out = append(out, TokenCandidate{Token: string(dec), Mode: AuthBase64})
		}
	}
	return append(out, TokenCandidate{Token: value, Mode: AuthRaw}), nil
}

// MaxTokenLength is the credentials token's string(64).
const MaxTokenLength = 64

// IsTokenText reports whether s is made of printable, non-space ASCII
// (U+0021..U+007E), as 2.3.0 requires of a token.
func IsTokenText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// NextLink returns the URL of the rel="next" link in a Link header, verbatim
// (digest 1.5: follow it, never rebuild it), and whether there was one.
func NextLink(header string) (string, bool) {
	for header != "" {
		open := strings.IndexByte(header, '<')
		if open < 0 {
			return "", false
		}
		end := strings.IndexByte(header[open:], '>')
		if end < 0 {
			return "", false
		}
		url := header[open+1 : open+end]
		rest := header[open+end+1:]
		params := rest
		if next := strings.IndexByte(rest, '<'); next >= 0 {
			params = rest[:next]
		}
		for _, p := range strings.Split(params, ";") {
			name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `",`)) {
				if strings.EqualFold(rel, "next") && url != "" {
					return url, true
				}
			}
		}
		header = rest
	}
	return "", false
}

// FormatNextLink is the Link header value pointing at the next page.
func FormatNextLink(url string) string { return "<" + url + `>; rel="next"` }

// VersionInfo is one entry of the versions list.
type VersionInfo struct {
	Version Version `json:"version"`
	URL     string  `json:"url"`
}

// Module identifiers roamsettle serves or uses.
const (
	ModuleCredentials           = "credentials"
	ModuleCDRs                  = "cdrs"
	ModuleTariffs               = "tariffs"
	ModuleLocations             = "locations"
	ModuleInvoiceReconciliation = "invoicereconciliation"
)

// Interface roles of an endpoint (2.2+).
const (
	InterfaceSender   = "SENDER"
	InterfaceReceiver = "RECEIVER"
)

// Endpoint is one module endpoint of a version. Role is empty in 2.1.1.
type Endpoint struct {
	Identifier string `json:"identifier"`
	Role       string `json:"role,omitempty"`
	URL        string `json:"url"`
}

// VersionDetails is the version details object.
type VersionDetails struct {
	Version   Version    `json:"version"`
	Endpoints []Endpoint `json:"endpoints"`
}

// ForVersion returns the details as a version publishes them: 2.1.1 has no
// interface roles.
func (d VersionDetails) ForVersion(v Version) VersionDetails {
	out := VersionDetails{Version: d.Version, Endpoints: make([]Endpoint, len(d.Endpoints))}
	copy(out.Endpoints, d.Endpoints)
	if v == V211 {
		for i := range out.Endpoints {
			out.Endpoints[i].Role = ""
		}
	}
	return out
}

// Find returns the URL of a module's endpoint with the role (any role when
// role is empty or the endpoint has none, as in 2.1.1).
func (d VersionDetails) Find(module, role string) (string, bool) {
	for _, e := range d.Endpoints {
		if e.Identifier == module && (role == "" || e.Role == "" || e.Role == role) {
			return e.URL, true
		}
	}
	return "", false
}

// HighestCommonVersion picks the highest version both sides speak, and
// whether there is one.
func HighestCommonVersion(theirs []VersionInfo) (VersionInfo, bool) {
	var best VersionInfo
	found := false
	for _, v := range Versions { // oldest first, so the last match is the highest
		for _, t := range theirs {
			if t.Version == v {
				best, found = t, true
			}
		}
	}
	return best, found
}

// BusinessDetails names a party.
type BusinessDetails struct {
	Name    string `json:"name"`
	Website string `json:"website,omitempty"`
}

// CredentialsRole is one party/role a platform serves (2.2+).
type CredentialsRole struct {
	Role            string          `json:"role"`
	BusinessDetails BusinessDetails `json:"business_details"`
	PartyID         string          `json:"party_id"`
	CountryCode     string          `json:"country_code"`
}

// Credentials is the credentials object normalised over versions: 2.1.1's
// single party is one role (with an empty Role).
type Credentials struct {
	Token      string
	URL        string
	Roles      []CredentialsRole
	HubPartyID string // 2.3.0
}

type credentials211 struct {
	Token           string          `json:"token"`
	URL             string          `json:"url"`
	BusinessDetails BusinessDetails `json:"business_details"`
	PartyID         string          `json:"party_id"`
	CountryCode     string          `json:"country_code"`
}

type credentials22 struct {
	Token      string            `json:"token"`
	URL        string            `json:"url"`
	Roles      []CredentialsRole `json:"roles"`
	HubPartyID string            `json:"hub_party_id,omitempty"`
}

// MarshalCredentials writes the credentials object of a version.
func MarshalCredentials(c Credentials, v Version) ([]byte, error) {
	if v == V211 {
		var r CredentialsRole
		if len(c.Roles) > 0 {
			r = c.Roles[0]
		}
		return json.Marshal(credentials211{Token: c.Token, URL: c.URL, BusinessDetails: r.BusinessDetails,
			PartyID: r.PartyID, CountryCode: r.CountryCode})
	}
	out := credentials22{Token: c.Token, URL: c.URL, Roles: c.Roles}
	if v == V230 {
		out.HubPartyID = c.HubPartyID
	}
	return json.Marshal(out)
}

// UnmarshalCredentials reads and checks a credentials object of a version.
// Problems name the field path; any problem makes the object unusable
// (the answer is 2001).
func UnmarshalCredentials(raw []byte, v Version) (Credentials, Problems) {
	var c Credentials
	var probs Problems
	bad := func(path string, rule Rule, msg string) {
		probs = append(probs, Problem{Path: path, Rule: rule, Message: msg, Blocking: true})
	}
	if !json.Valid(raw) {
		bad("", RuleSyntax, "the body is not well-formed JSON")
		return c, probs
	}
	if v == V211 {
		var in credentials211
		if err := json.Unmarshal(raw, &in); err != nil {
			bad("", RuleType, err.Error())
			return c, probs
		}
		c = Credentials{Token: in.Token, URL: in.URL, Roles: []CredentialsRole{{BusinessDetails: in.BusinessDetails,
			PartyID: in.PartyID, CountryCode: in.CountryCode}}}
	} else {
		var in credentials22
		if err := json.Unmarshal(raw, &in); err != nil {
			bad("", RuleType, err.Error())
			return c, probs
		}
		c = Credentials{Token: in.Token, URL: in.URL, Roles: in.Roles, HubPartyID: in.HubPartyID}
		if len(c.Roles) == 0 {
			bad("roles", RuleRequired, "at least one role is required")
		}
	}
	switch {
	case c.Token == "":
		bad("token", RuleRequired, "the token is required")
	case len(c.Token) > MaxTokenLength:
		bad("token", RuleLength, fmt.Sprintf("the token has %d characters, at most %d are allowed", len(c.Token), MaxTokenLength))
	case !IsTokenText(c.Token):
		bad("token", RuleFormat, "the token must be printable ASCII without spaces")
	}
	switch {
	case c.URL == "":
		bad("url", RuleRequired, "the versions URL is required")
	case len(c.URL) > 255:
		bad("url", RuleLength, "the versions URL is longer than 255 characters")
	case !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://"):
		bad("url", RuleFormat, "the versions URL must be http(s)")
	}
	for i, r := range c.Roles {
		at := "roles[" + fmt.Sprint(i) + "]."
		if v == V211 {
			at = ""
		}
		if !IsCountryCode(r.CountryCode) {
			bad(at+"country_code", RuleFormat, fmt.Sprintf("%q is not a two-letter country code", r.CountryCode))
		}
		if !IsPartyID(r.PartyID) {
			bad(at+"party_id", RuleFormat, fmt.Sprintf("%q is not a three-character party id", r.PartyID))
		}
		if v != V211 && r.Role == "" {
			bad(at+"role", RuleRequired, "the role is required")
		}
	}
	return c, probs
}

// IsCountryCode reports whether s is two ASCII letters.
func IsCountryCode(s string) bool {
	return len(s) == 2 && isAlpha(s[0]) && isAlpha(s[1])
}

// IsPartyID reports whether s is three ASCII letters or digits.
func IsPartyID(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if !isAlpha(s[i]) && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func isAlpha(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// IsIdentifier reports whether s may be an OCPI identifier of at most max
// characters in a URL path: a CiString (printable ASCII) without the
// characters that would change the path's meaning.
func IsIdentifier(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '/' || c == '?' || c == '#' || c == '%' || c == '\\' {
			return false
		}
	}
	return true
}

// Identifier length limits used in URL paths (digest 1.9, the larger of the
// versions' limits so no version's valid identifier is refused).
const (
	MaxCDRIDLength       = 39
	MaxObjectIDLength    = 39 // tariff, location, EVSE uid, IRR id
	MaxConnectorIDLength = 36
)

// Connection is one partner platform as roamsettle knows it: who it is, how
// to reach it, and the hashes of the tokens in play. Tokens themselves are
// never kept here: TokenA, TokenC and TokenB are SHA-256 digests (zero when
// not set); TokenBSealed is token B encrypted by the caller (roamsettle needs
// B in clear to call the partner, so it is sealed with a key kept outside
// the database).
type Connection struct {
	ID          int64
	CountryCode string
	PartyID     string
	Role        string // CPO, EMSP, HUB, ...
	Name        string
	// VersionsURL is the partner's versions endpoint; Version the version in
	// use (or wanted, before registration).
	VersionsURL string
	Version     Version
	// TokenA is the registration token we handed out (dies at registration).
	TokenA [32]byte
	// TokenC is the token we issued for the partner to call us.
	TokenC [32]byte
	// TokenB is the token the partner issued for us to call it.
	TokenB       [32]byte
	TokenBSealed []byte
	// AuthMode is how the partner's Authorization header is encoded, both
	// ways (auto: accept both inbound, the version's default outbound).
	AuthMode AuthMode
	// Endpoints are the partner's endpoints for Version.
	Endpoints []Endpoint
	// Roles are the parties the partner may write for: its own, or for a
	// hub the parties routed through it (2.3.0 hubs list them here).
	Roles []CredentialsRole
	// HubClients are the parties a hub fronts, from its hubclientinfo
	// module (2.2.1 hubs list only themselves in their credentials), and
	// HubClientsAt when the list was last read or pushed.
	HubClients     []ClientInfo
	HubClientsAt   time.Time
	CreatedAt      time.Time
	RegisteredAt   *time.Time
	UnregisteredAt *time.Time
}

// Party is the connection's own party as "CC-PID".
func (c *Connection) Party() string { return PartyKey(c.CountryCode, c.PartyID) }

// Registered reports whether the credentials handshake completed and was not
// undone.
func (c *Connection) Registered() bool { return c.RegisteredAt != nil && c.UnregisteredAt == nil }

// IsHub reports whether the partner is a roaming hub (DESIGN invariant 9:
// a window onto the parties behind it).
func (c *Connection) IsHub() bool { return strings.EqualFold(c.Role, "HUB") }

// MayWriteFor reports whether the connection may write objects owned by the
// party: its own party, a role it registered, or, for a hub, a party its
// hubclientinfo lists.
func (c *Connection) MayWriteFor(countryCode, partyID string) bool {
	if Key(countryCode) == Key(c.CountryCode) && Key(partyID) == Key(c.PartyID) {
		return true
	}
	for _, r := range c.Roles {
		if Key(countryCode) == Key(r.CountryCode) && Key(partyID) == Key(r.PartyID) {
			return true
		}
	}
	if c.IsHub() {
		_, ok := FindClient(c.HubClients, countryCode, partyID)
		return ok
	}
	return false
}
