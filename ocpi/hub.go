package ocpi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ModuleHubClientInfo is the 2.2+ configuration module through which a hub
// says which parties it connects (digest 2.1).
const ModuleHubClientInfo = "hubclientinfo"

// Connection statuses of a ClientInfo.
const (
	ClientConnected = "CONNECTED"
	ClientOffline   = "OFFLINE"
	ClientPlanned   = "PLANNED"
	ClientSuspended = "SUSPENDED"
)

// ClientInfo is one party behind a hub, as its hubclientinfo module lists
// it. A hub connection may write objects owned by any party it lists,
// whatever the status: OFFLINE and SUSPENDED parties still have CDRs in
// flight, and a refused object would be lost to settlement.
type ClientInfo struct {
	CountryCode string    `json:"country_code"`
	PartyID     string    `json:"party_id"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	LastUpdated time.Time `json:"last_updated"`
}

// Party is the client's party as "CC-PID".
func (c ClientInfo) Party() string { return PartyKey(c.CountryCode, c.PartyID) }

type clientInfoJSON struct {
	CountryCode *string `json:"country_code"`
	PartyID     *string `json:"party_id"`
	Role        *string `json:"role"`
	Status      *string `json:"status"`
	LastUpdated *string `json:"last_updated"`
}

// DecodeClientInfo reads a ClientInfo object (a full one, or a PATCH with
// only some fields when base is not nil: the fields it has replace base's).
// Problems name the field; a ClientInfo with any problem is not used.
func DecodeClientInfo(raw []byte, base *ClientInfo) (ClientInfo, Problems) {
	var in clientInfoJSON
	var out ClientInfo
	if base != nil {
		out = *base
	}
	var probs Problems
	bad := func(path string, rule Rule, msg string) {
		probs = append(probs, Problem{Path: path, Rule: rule, Message: msg, Blocking: true})
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		if !json.Valid(raw) {
			bad("", RuleSyntax, "the body is not well-formed JSON")
		} else {
			bad("", RuleType, "not a ClientInfo object: "+err.Error())
		}
		return out, probs
	}
	str := func(path string, v *string, dst *string) {
		switch {
		case v != nil:
			*dst = strings.TrimSpace(*v)
		case base == nil:
			bad(path, RuleRequired, "required field is missing")
		}
	}
	str("country_code", in.CountryCode, &out.CountryCode)
	str("party_id", in.PartyID, &out.PartyID)
	str("role", in.Role, &out.Role)
	str("status", in.Status, &out.Status)
	if in.CountryCode != nil && !IsCountryCode(out.CountryCode) {
		bad("country_code", RuleFormat, fmt.Sprintf("%q is not a two-letter country code", out.CountryCode))
	}
	if in.PartyID != nil && !IsPartyID(out.PartyID) {
		bad("party_id", RuleFormat, fmt.Sprintf("%q is not a three-character party id", out.PartyID))
	}
	out.CountryCode, out.PartyID, out.Role, out.Status = Key(out.CountryCode), Key(out.PartyID), Key(out.Role), Key(out.Status)
	if in.Status != nil && !slices.Contains([]string{ClientConnected, ClientOffline, ClientPlanned, ClientSuspended}, out.Status) {
		bad("status", RuleEnum, fmt.Sprintf("%q is not a ConnectionStatus (CONNECTED, OFFLINE, PLANNED, SUSPENDED)", out.Status))
	}
	switch {
	case in.LastUpdated != nil:
		t, err := ParseDateTime(*in.LastUpdated)
		if err != nil {
			bad("last_updated", RuleFormat, err.Error())
		}
		out.LastUpdated = t
	case base == nil:
		bad("last_updated", RuleRequired, "required field is missing")
	}
	return out, probs
}

// MergeClient puts c into list, replacing the entry of the same party, and
// returns the list sorted by party.
func MergeClient(list []ClientInfo, c ClientInfo) []ClientInfo {
	out := slices.DeleteFunc(slices.Clone(list), func(x ClientInfo) bool { return x.Party() == c.Party() })
	out = append(out, c)
	SortClients(out)
	return out
}

// SortClients orders clients by party.
func SortClients(list []ClientInfo) {
	slices.SortFunc(list, func(a, b ClientInfo) int { return strings.Compare(a.Party(), b.Party()) })
}

// FindClient returns the hub's entry for a party.
func FindClient(list []ClientInfo, countryCode, partyID string) (ClientInfo, bool) {
	k := PartyKey(countryCode, partyID)
	for _, c := range list {
		if c.Party() == k {
			return c, true
		}
	}
	return ClientInfo{}, false
}
