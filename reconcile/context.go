package reconcile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
)

// Context is what the rules know besides the CDR itself. Every part is
// optional: a rule whose context is missing is not checked (an unknown token
// cannot be told without the token list), never guessed.
type Context struct {
	// Period is the settlement period the CDR is reconciled in; zero: not
	// checked. Its bounds are instants, computed by the one period rule
	// (settle), so the check is a comparison of the CDR's end with them.
	Period Window
	// Tokens are the eMSP's tokens; nil: tokens unknown.
	Tokens *Tokens
	// Locations are the locations the owner published; nil: unknown.
	Locations *Locations
	// Stored answers what the store knows of other receipts and CDRs; nil:
	// duplicates, conflicts and credit references are not checked.
	Stored Stored
	// Tariff is the tariff version in effect that prices the CDR (nil: none
	// was found).
	Tariff *ocpi.Tariff
	// Priced is the reference's recomputation when there is one (it names
	// the periods a tariff boundary falls inside and the restrictions it
	// could not check); nil: not priced by the reference.
	Priced *pricing.Result
	// Problems are the decoder's findings for the CDR as stored: they tell
	// a missing number from 0, which the model cannot.
	Problems ocpi.Problems
	// Limits are the plausibility bounds (zero: DefaultLimits).
	Limits Limits
}

// Window is a settlement period: the instants [From, To).
type Window struct {
	From, To time.Time
	// Name is how the period is written ("2026-10").
	Name string
}

// IsZero reports whether no period was given.
func (w Window) IsZero() bool { return w.From.IsZero() && w.To.IsZero() }

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// Limits are plausibility bounds.
type Limits struct {
	// MaxSession is the longest plausible session (end - start).
	MaxSession time.Duration
}

// DefaultLimits: a session of more than 24 hours is implausible for public
// charging (parking included); partners with long-stay sites set their own.
func DefaultLimits() Limits { return Limits{MaxSession: 24 * time.Hour} }

// Stored is what the store knows beyond one CDR. Identities are compared
// upper-cased (ocpi.Key).
type Stored interface {
	// Received returns how many times the CDR was received again as the
	// same body (duplicates) and how many different bodies under its
	// identity were refused (conflicts).
	Received(countryCode, partyID, id string) (duplicates, conflicts int)
	// Credited returns the CDR a credit CDR references, by the credit's
	// owner and credit_reference_id, and whether we hold it.
	Credited(countryCode, partyID, id string) (*ocpi.CDR, bool)
}

// MemoryStored is a Stored held in maps (tests, single CDRs, small runs).
type MemoryStored struct {
	Duplicates map[string]int
	Conflicts  map[string]int
	CDRs       map[string]*ocpi.CDR
}

// IdentityKey is the map key of a CDR identity: "CC-PID/ID" upper-cased.
func IdentityKey(countryCode, partyID, id string) string {
	return ocpi.PartyKey(countryCode, partyID) + "/" + ocpi.Key(id)
}

// Received implements Stored.
func (m *MemoryStored) Received(cc, pid, id string) (int, int) {
	k := IdentityKey(cc, pid, id)
	return m.Duplicates[k], m.Conflicts[k]
}

// Credited implements Stored.
func (m *MemoryStored) Credited(cc, pid, id string) (*ocpi.CDR, bool) {
	c, ok := m.CDRs[IdentityKey(cc, pid, id)]
	return c, ok
}

// Tokens is the eMSP's token list: 2.2+ CDRs name a token by uid (and its
// owner, when given), 2.1.1 CDRs by auth_id, which is the contract id.
type Tokens struct {
	uids      map[string]struct{}
	contracts map[string]struct{}
}

// NewTokens returns an empty token list.
func NewTokens() *Tokens {
	return &Tokens{uids: map[string]struct{}{}, contracts: map[string]struct{}{}}
}

// Add records one token.
func (t *Tokens) Add(uid, contractID string) {
	if uid != "" {
		t.uids[ocpi.Key(uid)] = struct{}{}
	}
	if contractID != "" {
		t.contracts[ocpi.Key(contractID)] = struct{}{}
	}
}

// Len is the number of distinct uids and contract ids.
func (t *Tokens) Len() int { return len(t.uids) + len(t.contracts) }

// Known reports whether the CDR's token is on the list: by uid for 2.2+
// (the id the charge point saw), by contract id for 2.1.1 (auth_id).
func (t *Tokens) Known(tok *ocpi.CDRToken, v ocpi.Version) bool {
	if v == ocpi.V211 || tok.UID == "" {
		_, ok := t.contracts[ocpi.Key(tok.ContractID)]
		return ok
	}
	_, ok := t.uids[ocpi.Key(tok.UID)]
	return ok
}

// ReadTokens reads OCPI Token objects (2.1.1 auth_id or 2.2+ uid and
// contract_id) as NDJSON or one JSON array, or a token list exported as a
// CSV with uid and contract_id columns.
func ReadTokens(r io.Reader) (*Tokens, error) {
	br := bufio.NewReader(r)
	first, err := firstByte(br)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	t := NewTokens()
	type token struct {
		UID        string `json:"uid"`
		AuthID     string `json:"auth_id"`
		ContractID string `json:"contract_id"`
	}
	add := func(tk token) {
		c := tk.ContractID
		if c == "" {
			c = tk.AuthID
		}
		t.Add(tk.UID, c)
	}
	dec := json.NewDecoder(br)
	if first == '[' {
		var list []token
		if err := dec.Decode(&list); err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		for _, tk := range list {
			add(tk)
		}
		return t, nil
	}
	if first != '{' {
		return nil, fmt.Errorf("tokens: want OCPI Token objects as NDJSON or a JSON array, found %q", first)
	}
	for n := 1; ; n++ {
		var tk token
		if err := dec.Decode(&tk); err != nil {
			if errors.Is(err, io.EOF) {
				return t, nil
			}
			return nil, fmt.Errorf("tokens: object %d: %w", n, err)
		}
		add(tk)
	}
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, errors.New("empty")
			}
			return 0, err
		}
		if !strings.ContainsRune(" \t\r\n\ufeff", rune(b)) && b != 0xEF && b != 0xBB && b != 0xBF {
			return b, br.UnreadByte()
		}
	}
}

// Locations are the locations each owner published, with their EVSE uids.
type Locations struct {
	byOwner map[string]map[string]map[string]struct{}
}

// NewLocations returns an empty set.
func NewLocations() *Locations {
	return &Locations{byOwner: map[string]map[string]map[string]struct{}{}}
}

// Add records a location (any version) and its EVSEs.
func (l *Locations) Add(countryCode, partyID, locationID string, evseUIDs ...string) {
	o := ocpi.PartyKey(countryCode, partyID)
	m := l.byOwner[o]
	if m == nil {
		m = map[string]map[string]struct{}{}
		l.byOwner[o] = m
	}
	id := ocpi.Key(locationID)
	e := m[id]
	if e == nil {
		e = map[string]struct{}{}
		m[id] = e
	}
	for _, u := range evseUIDs {
		e[ocpi.Key(u)] = struct{}{}
	}
}

// lookup says whether the owner published any location, the location, and
// the EVSE in it.
func (l *Locations) lookup(countryCode, partyID, locationID, evseUID string) (owner, loc, evse bool) {
	m, owner := l.byOwner[ocpi.PartyKey(countryCode, partyID)]
	if !owner {
		return false, false, false
	}
	e, loc := m[ocpi.Key(locationID)]
	if !loc {
		return true, false, false
	}
	_, evse = e[ocpi.Key(evseUID)]
	return true, true, evse
}

// Published reports whether neither UNKNOWN_LOCATION nor UNKNOWN_EVSE can
// be found for a CDR at the location and EVSE (of any OCPI version).
func (l *Locations) Published(countryCode, partyID, locationID, evseUID string) bool {
	if locationID == "" {
		return true
	}
	owner, loc, evse := l.lookup(countryCode, partyID, locationID, evseUID)
	if owner && !loc {
		return false
	}
	return !loc || evse || evseUID == "" || evseUID == "#NA"
}
