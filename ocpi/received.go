package ocpi

import (
	"strings"
	"time"
)

// Channel says how a payload reached roamsettle.
type Channel string

const (
	ChannelFile Channel = "file" // file import
	ChannelPush Channel = "push" // a partner's request to our receiver
	ChannelPull Channel = "pull" // our GET on a partner's sender
)

// Source says where one payload came from.
type Source struct {
	Channel Channel
	// Name is the file path or the endpoint URL.
	Name string
	// Partner is the sending party as "CC-PID" (e.g. "NL-ABC"), empty when unknown.
	Partner string
	// Position is the record's index within the file or page, from 0.
	Position int64
}

// Received is one payload as received, with what could be decoded from it.
// It is what receivers and importers hand to storage: the raw bytes are kept
// whatever happens to the interpretation.
type Received struct {
	Source     Source
	ReceivedAt time.Time
	Raw        []byte
	SHA256     [32]byte
	Kind       Kind
	Version    Version
	// Exactly one of these is set when the payload could be decoded and
	// identified; none when it is Rejected.
	CDR      *CDR
	Tariff   *Tariff
	Location *Location
	Invoice  *InvoiceReconciliationRecord
	// Problems found while decoding and validating.
	Problems Problems
	// Rejected is true when the payload could not be decoded or identified
	// (no owner and id): it is kept only in the rejects table.
	Rejected bool
}

// Identity returns the (country_code, party_id, id) of the decoded object in
// the upper case used as its key, or empty strings when nothing was decoded.
func (r *Received) Identity() (countryCode, partyID, id string) {
	switch {
	case r.CDR != nil:
		return Key(r.CDR.CountryCode), Key(r.CDR.PartyID), Key(r.CDR.ID)
	case r.Tariff != nil:
		return Key(r.Tariff.CountryCode), Key(r.Tariff.PartyID), Key(r.Tariff.ID)
	case r.Location != nil:
		return Key(r.Location.CountryCode), Key(r.Location.PartyID), Key(r.Location.ID)
	case r.Invoice != nil:
		return Key(r.Invoice.CountryCode), Key(r.Invoice.PartyID), Key(r.Invoice.ID)
	}
	return "", "", ""
}

// Outcome is what storage did with one Received payload.
type Outcome string

const (
	OutcomeAccepted  Outcome = "accepted"  // stored as a new object or tariff/location version
	OutcomeDuplicate Outcome = "duplicate" // the same object again: acknowledged, nothing changed
	OutcomeConflict  Outcome = "conflict"  // a different CDR under a stored identity: refused and recorded
	OutcomeRejected  Outcome = "rejected"  // not decodable or not identifiable: kept in rejects
)

// Key normalises a case-insensitive OCPI identifier (CiString) for identity
// and joins.
func Key(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// PartyKey formats a party as "CC-PID" in upper case: the one spelling of a
// party in flags, output and messages (a "*" would be a shell wildcard in a
// flag).
func PartyKey(countryCode, partyID string) string {
	return Key(countryCode) + "-" + Key(partyID)
}
