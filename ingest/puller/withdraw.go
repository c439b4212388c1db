package puller

import (
	"context"
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// StoredTariff is what the store holds of one tariff: the last_updated of
// its newest version and its latest recorded withdrawal, if any.
type StoredTariff struct {
	CountryCode, PartyID, ID string
	LastUpdated              time.Time
	WithdrawnAt              time.Time
	Withdrawn                bool // a withdrawal is recorded (see Withdrawn for whether it still holds)
}

// Tariffs lists and withdraws a party's stored tariffs, for the replacement
// a complete tariff pull makes (digest 4.1: anything the Sender did not
// return is no longer valid).
type Tariffs interface {
	StoredTariffs(ctx context.Context, countryCode, partyID string) ([]StoredTariff, error)
	WithdrawTariff(ctx context.Context, countryCode, partyID, id string, at time.Time) error
}

// Withdrawn reports whether a versioned object (tariff, invoice
// reconciliation record) whose newest version has lastUpdated is withdrawn:
// a withdrawal is recorded at or after that version. A version published
// after the withdrawal brings the object back. The withdrawal time is ours
// and last_updated the owner's, so a large clock skew can misorder the two.
func Withdrawn(lastUpdated, withdrawnAt time.Time, recorded bool) bool {
	return recorded && !withdrawnAt.Before(lastUpdated)
}

// parties are the parties a connection serves: its own and its routed roles.
func parties(conn ocpi.Connection) [][2]string {
	out := [][2]string{{ocpi.Key(conn.CountryCode), ocpi.Key(conn.PartyID)}}
	for _, r := range conn.Roles {
		p := [2]string{ocpi.Key(r.CountryCode), ocpi.Key(r.PartyID)}
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// withdrawUnreturned withdraws, at the pull's date_to, every live stored
// tariff of the connection's parties that a complete pull did not return.
// A tariff whose newest version is not before date_to was outside the
// window and is kept.
func (p *Puller) withdrawUnreturned(ctx context.Context, conn ocpi.Connection, returned map[string]bool, windowTo time.Time) (int, error) {
	n := 0
	for _, party := range parties(conn) {
		stored, err := p.Tariffs.StoredTariffs(ctx, party[0], party[1])
		if err != nil {
			return n, fmt.Errorf("pull tariffs from %s: stored tariffs of %s: %w", conn.Party(), ocpi.PartyKey(party[0], party[1]), err)
		}
		for _, t := range stored {
			if returned[objectKey(t.CountryCode, t.PartyID, t.ID)] || Withdrawn(t.LastUpdated, t.WithdrawnAt, t.Withdrawn) ||
				!t.LastUpdated.Before(windowTo) {
				continue
			}
			if err := p.Tariffs.WithdrawTariff(ctx, t.CountryCode, t.PartyID, t.ID, windowTo); err != nil {
				return n, fmt.Errorf("pull tariffs from %s: withdraw %s: %w", conn.Party(), objectKey(t.CountryCode, t.PartyID, t.ID), err)
			}
			n++
		}
	}
	return n, nil
}

func objectKey(cc, pid, id string) string { return ocpi.PartyKey(cc, pid) + "*" + ocpi.Key(id) }
