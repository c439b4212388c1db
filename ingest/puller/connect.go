package puller

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Partners keeps partner connections.
type Partners interface {
	UpdatePartner(ctx context.Context, c ocpi.Connection) error
}

// Sealer encrypts the token a partner gives us.
type Sealer interface {
	Seal(token string) ([]byte, error)
}

// Handshake is the credentials handshake roamsettle starts as the OCPI
// "Sender" of the credentials module.
type Handshake struct {
	Client *Client
	Sealer Sealer
	// Ours is our credentials object without the token: our versions URL
	// and roles.
	Ours ocpi.Credentials
	// Ready is called with the connection as it will be known (the digest
	// of the token we issue set, party possibly still unknown) before we
	// POST our credentials: the partner calls our versions endpoint with
	// that token before answering, so the server must accept it by then.
	Ready func(ctx context.Context, pending ocpi.Connection) error
	Now   func() time.Time
}

// Connect registers with a partner: with token A it reads the partner's
// versions and picks the highest common one (or conn.Version when set),
// reads its endpoints, POSTs our credentials with issued (the token the
// partner will call us with), and returns the connection with the party,
// role and roles the partner's credentials state (see Identify), its token
// (sealed), version and endpoints, and a note saying what was taken from
// the credentials. It stores nothing: the caller does.
//
// conn.CountryCode and conn.PartyID may be empty: the party is then taken
// from the credentials; when set, the credentials must list it.
func (h *Handshake) Connect(ctx context.Context, conn ocpi.Connection, versionsURL, tokenA, issued string) (ocpi.Connection, string, error) {
	who := conn.Party()
	if conn.CountryCode == "" {
		who = versionsURL
	}
	modes := []ocpi.AuthMode{conn.AuthMode}
	if conn.AuthMode == ocpi.AuthAuto || conn.AuthMode == "" {
		// Before the version is known, the encoding of token A is a guess:
		// the 2.2+ one first, then 2.1.1's raw token.
		modes = []ocpi.AuthMode{ocpi.AuthBase64, ocpi.AuthRaw}
	}
	var details ocpi.VersionDetails
	var mode ocpi.AuthMode
	var err error
	for _, m := range modes {
		mode = m
		details, err = h.Client.DiscoverVersion(ctx, versionsURL, ocpi.AuthorizationHeader(tokenA, m, ""), conn.Version)
		var se *StatusError
		if err == nil || !errors.As(err, &se) || se.HTTPStatus != 401 {
			break
		}
	}
	if err != nil {
		return conn, "", fmt.Errorf("connect %s: %w", who, err)
	}
	credsURL, ok := details.Find(ocpi.ModuleCredentials, "")
	if !ok {
		return conn, "", fmt.Errorf("connect %s: the partner publishes no credentials endpoint for %s", who, details.Version)
	}
	conn.TokenC = sha256.Sum256([]byte(issued))
	conn.Version = details.Version
	if h.Ready != nil {
		if err := h.Ready(ctx, conn); err != nil {
			return conn, "", err
		}
	}
	ours := h.Ours
	ours.Token = issued
	body, err := ocpi.MarshalCredentials(ours, details.Version)
	if err != nil {
		return conn, "", err
	}
	resp, err := h.Client.Send(ctx, "POST", credsURL, ocpi.AuthorizationHeader(tokenA, mode, details.Version), body)
	if err != nil {
		return conn, "", fmt.Errorf("connect %s: credentials POST: %w", who, err)
	}
	theirs, probs := ocpi.UnmarshalCredentials(resp.Envelope.Data, details.Version)
	if len(probs) > 0 {
		return conn, "", fmt.Errorf("connect %s: the partner's credentials: %s", who, probs[0])
	}
	conn, note, err := Identify(conn, theirs)
	if err != nil {
		return conn, "", fmt.Errorf("connect %s: %w", who, err)
	}
	sealed, err := h.Sealer.Seal(theirs.Token)
	if err != nil {
		return conn, "", err
	}
	now := time.Now().UTC()
	if h.Now != nil {
		now = h.Now().UTC()
	}
	conn.TokenA = [32]byte{}
	conn.TokenB = sha256.Sum256([]byte(theirs.Token))
	conn.TokenBSealed = sealed
	conn.VersionsURL = versionsURL
	conn.Endpoints = details.Endpoints
	if conn.AuthMode == "" {
		conn.AuthMode = ocpi.AuthAuto
	}
	conn.RegisteredAt = &now
	conn.UnregisteredAt = nil
	return conn, note, nil
}

// Identify takes the partner's party, role and roles from its credentials
// (item 5 of issue 12: the handshake tells who the partner is):
//
//   - a 2.3.0 credentials object with hub_party_id, or a 2.2.1 one with a
//     HUB role, is a hub: its party is the hub's, its roles all it lists
//     (2.3.0 hubs list the parties they front; 2.2.1 hubs name them in
//     hubclientinfo);
//   - otherwise the party is conn's when set (the credentials must list
//     it), else the first CPO party listed, else the first party; the role
//     is that party's (CPO preferred), and the roles are every one listed:
//     a platform may serve several parties (digest 2.2);
//   - 2.1.1 credentials carry one party and no role: the role stays conn's,
//     CPO when unset.
//
// The note says what was taken from the credentials and what changed.
func Identify(conn ocpi.Connection, theirs ocpi.Credentials) (ocpi.Connection, string, error) {
	if len(theirs.Roles) == 0 {
		return conn, "", errors.New("the partner's credentials list no party")
	}
	before := ""
	if conn.ID != 0 { // a stored partner: say when its role changes
		before = conn.Role
	}
	asked := conn.CountryCode != ""
	var party ocpi.CredentialsRole
	role := ""
	switch hub := slices.IndexFunc(theirs.Roles, func(r ocpi.CredentialsRole) bool { return strings.EqualFold(r.Role, "HUB") }); {
	case len(theirs.HubPartyID) == 5:
		party, role = ocpi.CredentialsRole{CountryCode: theirs.HubPartyID[:2], PartyID: theirs.HubPartyID[2:]}, "HUB"
	case hub >= 0:
		party, role = theirs.Roles[hub], "HUB"
	case asked:
		i := slices.IndexFunc(theirs.Roles, func(r ocpi.CredentialsRole) bool {
			return ocpi.PartyKey(r.CountryCode, r.PartyID) == conn.Party() && strings.EqualFold(r.Role, "CPO")
		})
		if i < 0 {
			i = slices.IndexFunc(theirs.Roles, func(r ocpi.CredentialsRole) bool { return ocpi.PartyKey(r.CountryCode, r.PartyID) == conn.Party() })
		}
		if i < 0 {
			return conn, "", fmt.Errorf("the partner's credentials do not list %s (they list %s)", conn.Party(), listParties(theirs.Roles))
		}
		party, role = theirs.Roles[i], theirs.Roles[i].Role
	default:
		i := max(slices.IndexFunc(theirs.Roles, func(r ocpi.CredentialsRole) bool { return strings.EqualFold(r.Role, "CPO") }), 0)
		party, role = theirs.Roles[i], theirs.Roles[i].Role
	}
	if asked && ocpi.PartyKey(party.CountryCode, party.PartyID) != conn.Party() {
		return conn, "", fmt.Errorf("%s was asked for, but the partner's credentials say it is the hub %s",
			conn.Party(), ocpi.PartyKey(party.CountryCode, party.PartyID))
	}
	if role == "" { // 2.1.1
		role = conn.Role
		if role == "" {
			role = "CPO"
		}
	}
	conn.CountryCode, conn.PartyID, conn.Role = ocpi.Key(party.CountryCode), ocpi.Key(party.PartyID), strings.ToUpper(role)
	conn.Roles = theirs.Roles
	if conn.Name == "" {
		conn.Name = party.BusinessDetails.Name
	}
	note := fmt.Sprintf("%s (%s, as its credentials say", conn.Party(), conn.Role)
	if before != "" && !strings.EqualFold(before, conn.Role) {
		note += "; it was registered as " + before
	}
	if len(theirs.Roles) > 1 || theirs.HubPartyID != "" {
		note += "; parties listed: " + listParties(theirs.Roles)
	}
	return conn, note + ")", nil
}

func listParties(roles []ocpi.CredentialsRole) string {
	var out []string
	for _, r := range roles {
		s := ocpi.PartyKey(r.CountryCode, r.PartyID)
		if r.Role != "" {
			s += " " + strings.ToUpper(r.Role)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}
