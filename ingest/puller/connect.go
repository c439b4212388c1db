package puller

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
	Client   *Client
	Partners Partners
	Sealer   Sealer
	// Ours is our credentials object without the token: our versions URL
	// and roles.
	Ours ocpi.Credentials
	// Ready is called after the token we issue is stored and before we POST
	// it: the partner calls our versions endpoint with it before answering,
	// so the server must know it by then (reload its partner cache).
	Ready func(ctx context.Context) error
	Now   func() time.Time
}

// Connect registers with a partner: with token A it reads the partner's
// versions and picks the highest common one (or conn.Version when set), reads
// its endpoints, stores the digest of issued (the token the partner will
// call us with), POSTs our credentials, and stores the partner's token
// (sealed), version and endpoints. It returns the updated connection.
func (h *Handshake) Connect(ctx context.Context, conn ocpi.Connection, versionsURL, tokenA, issued string) (ocpi.Connection, error) {
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
		return conn, fmt.Errorf("connect %s: %w", conn.Party(), err)
	}
	credsURL, ok := details.Find(ocpi.ModuleCredentials, "")
	if !ok {
		return conn, fmt.Errorf("connect %s: the partner publishes no credentials endpoint for %s", conn.Party(), details.Version)
	}
	conn.TokenC = sha256.Sum256([]byte(issued))
	conn.Version = details.Version
	if err := h.Partners.UpdatePartner(ctx, conn); err != nil {
		return conn, err
	}
	if h.Ready != nil {
		if err := h.Ready(ctx); err != nil {
			return conn, err
		}
	}
	ours := h.Ours
	ours.Token = issued
	body, err := ocpi.MarshalCredentials(ours, details.Version)
	if err != nil {
		return conn, err
	}
	resp, err := h.Client.Send(ctx, "POST", credsURL, ocpi.AuthorizationHeader(tokenA, mode, details.Version), body)
	if err != nil {
		return conn, fmt.Errorf("connect %s: credentials POST: %w", conn.Party(), err)
	}
	theirs, probs := ocpi.UnmarshalCredentials(resp.Envelope.Data, details.Version)
	if len(probs) > 0 {
		return conn, fmt.Errorf("connect %s: the partner's credentials: %s", conn.Party(), probs[0])
	}
	roles := theirs.Roles
	if !strings.EqualFold(conn.Role, "HUB") {
		roles = nil
		for _, r := range theirs.Roles {
			if ocpi.Key(r.CountryCode) == conn.CountryCode && ocpi.Key(r.PartyID) == conn.PartyID {
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 {
			return conn, fmt.Errorf("connect %s: the partner's credentials do not list %s", conn.Party(), conn.Party())
		}
	}
	sealed, err := h.Sealer.Seal(theirs.Token)
	if err != nil {
		return conn, err
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
	conn.Roles = roles
	if conn.AuthMode == "" {
		conn.AuthMode = ocpi.AuthAuto
	}
	conn.RegisteredAt = &now
	conn.UnregisteredAt = nil
	if err := h.Partners.UpdatePartner(ctx, conn); err != nil {
		return conn, err
	}
	return conn, nil
}
