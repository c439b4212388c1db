package receiver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ocpi"
)

// NewToken makes a fresh credentials token: 32 random bytes, URL-safe
// Base64 without padding (43 characters, printable, never mistaken for a
// padded Base64 encoding of another token).
func NewToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // Read never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the digest under which tokens are stored and compared.
func Hash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// ourCredentials is our credentials object with the token the partner must
// use.
func (s *Server) ourCredentials(token string) ocpi.Credentials {
	return ocpi.Credentials{Token: token, URL: s.VersionsURL(), Roles: s.cfg.Self}
}

func (s *Server) replyCredentials(c *call, httpStatus int, token string) {
	raw, err := ocpi.MarshalCredentials(s.ourCredentials(token), c.version)
	if err != nil {
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "cannot encode credentials")
		return
	}
	s.reply(c, httpStatus, ocpi.StatusSuccess, "", jsonRaw(raw))
}

// getCredentials returns our credentials with the token the caller used.
func (s *Server) getCredentials(c *call) { s.replyCredentials(c, http.StatusOK, c.presented) }

// postCredentials is registration: the partner authenticates with token A
// and sends its token B; we call its versions endpoint with B, store what
// we found and answer with a fresh token C.
func (s *Server) postCredentials(c *call) {
	if c.token != tokenA {
		s.fail(c, http.StatusMethodNotAllowed, ocpi.StatusClientError, "", "",
			"already registered: use PUT to update or DELETE to unregister")
		return
	}
	s.register(c, http.StatusOK)
}

// putCredentials updates a registration: new endpoints, version or token.
func (s *Server) putCredentials(c *call) {
	if c.token != tokenIssued || !c.conn.Registered() {
		s.fail(c, http.StatusMethodNotAllowed, ocpi.StatusClientError, "", "", "not registered: POST to register first")
		return
	}
	s.register(c, http.StatusOK)
}

// deleteCredentials unregisters: every token of the partner stops working.
func (s *Server) deleteCredentials(c *call) {
	if c.token != tokenIssued || !c.conn.Registered() {
		s.fail(c, http.StatusMethodNotAllowed, ocpi.StatusClientError, "", "", "not registered")
		return
	}
	s.handshakeMu.Lock()
	defer s.handshakeMu.Unlock()
	conn := *c.conn
	now := s.cfg.Now().UTC()
	conn.UnregisteredAt = &now
	conn.TokenA, conn.TokenB, conn.TokenC, conn.TokenBSealed = [32]byte{}, [32]byte{}, [32]byte{}, nil
	if err := s.cfg.Partners.UpdatePartner(c.r.Context(), conn); err != nil {
		s.cfg.Log.Error("unregister", "partner", conn.Party(), "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not record the unregistration")
		return
	}
	s.auth.reload(c.r.Context())
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", nil)
}

func (s *Server) register(c *call, okStatus int) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	theirs, probs := ocpi.UnmarshalCredentials(body, c.version)
	if len(probs) > 0 {
		p := probs[0]
		if p.Rule == ocpi.RuleSyntax {
			s.fail(c, http.StatusBadRequest, ocpi.StatusClientError, p.Rule, p.Path, p.Message)
			return
		}
		s.fail(c, http.StatusOK, ocpi.StatusInvalidParameters, p.Rule, p.Path, p.Message)
		return
	}
	conn := *c.conn
	roles, why := allowedRoles(&conn, theirs)
	if why != "" {
		s.fail(c, http.StatusOK, ocpi.StatusInvalidParameters, ocpi.RuleOwner, "roles", why)
		return
	}
	s.handshakeMu.Lock()
	defer s.handshakeMu.Unlock()

	// Call the partner back with its new token, in the version of the
	// credentials endpoint that was called.
	mode := conn.AuthMode
	auth := ocpi.AuthorizationHeader(theirs.Token, mode, c.version)
	details, err := s.cfg.Client.DiscoverVersion(c.r.Context(), theirs.URL, auth, c.version)
	if err != nil {
		var se *puller.StatusError
		if errors.As(err, &se) && se.OCPIStatus == ocpi.StatusUnsupportedVersion {
			s.fail(c, http.StatusOK, ocpi.StatusUnsupportedVersion, "", "url", "the partner does not offer version "+string(c.version))
			return
		}
		s.cfg.Log.Warn("registration: partner API unreachable", "partner", conn.Party(), "err", redact(err, theirs.Token))
		s.fail(c, http.StatusOK, ocpi.StatusUnableToUseClientAPI, "", "url", "could not use the partner's versions or version details endpoint")
		return
	}
	if _, ok := details.Find(ocpi.ModuleCredentials, ""); !ok {
		s.fail(c, http.StatusOK, ocpi.StatusNoMatchingEndpoints, "", "url", "the partner publishes no credentials endpoint")
		return
	}
	sealed, err := s.cfg.Sealer.Seal(theirs.Token)
	if err != nil {
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not keep the partner's token")
		return
	}
	issued := NewToken()
	now := s.cfg.Now().UTC()
	conn.TokenA = [32]byte{} // A is dead once used
	conn.TokenC = Hash(issued)
	conn.TokenB = Hash(theirs.Token)
	conn.TokenBSealed = sealed
	conn.VersionsURL = theirs.URL
	conn.Version = c.version
	conn.Endpoints = details.Endpoints
	conn.Roles = roles
	if conn.RegisteredAt == nil {
		conn.RegisteredAt = &now
	}
	if err := s.cfg.Partners.UpdatePartner(c.r.Context(), conn); err != nil {
		s.cfg.Log.Error("registration: store", "partner", conn.Party(), "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not record the registration")
		return
	}
	if err := s.auth.reload(c.r.Context()); err != nil {
		s.cfg.Log.Error("registration: reload", "err", err)
	}
	s.cfg.Log.Info("partner registered", "partner", conn.Party(), "version", string(c.version), "endpoints", len(details.Endpoints))
	if hubRole(theirs) && !conn.IsHub() {
		s.cfg.Log.Warn("registration: the partner's credentials say it is a hub, but it was added as "+conn.Role+
			": objects of the parties behind it will be refused until it is added with --role HUB", "partner", conn.Party())
	}
	s.replyCredentials(c, okStatus, issued)
	if conn.IsHub() {
		s.refreshHub(conn, theirs.Token)
	}
}

func hubRole(c ocpi.Credentials) bool {
	for _, r := range c.Roles {
		if strings.EqualFold(r.Role, "HUB") {
			return true
		}
	}
	return c.HubPartyID != ""
}

// refreshHub reads a newly registered hub's client list in the background
// (the hub may not answer while it waits for our answer to its POST); Close
// waits for it. A failure is logged: the hub pushes its clients too.
func (s *Server) refreshHub(conn ocpi.Connection, token string) {
	if _, ok := (ocpi.VersionDetails{Endpoints: conn.Endpoints}).Find(ocpi.ModuleHubClientInfo, ocpi.InterfaceSender); !ok {
		return
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.handshakeMu.Lock()
		defer s.handshakeMu.Unlock()
		conn, _, err := puller.RefreshHub(ctx, s.cfg.Client, s.cfg.Partners, conn, token, s.cfg.Now())
		if err != nil {
			s.cfg.Log.Warn("hub registered, but its client list could not be read", "partner", conn.Party(), "err", redact(err, token))
			return
		}
		s.auth.reload(ctx)
		s.cfg.Log.Info("hub client list read", "partner", conn.Party(), "clients", len(conn.HubClients))
	}()
}

// allowedRoles checks the roles a partner claims against what it was set up
// for: a party must list itself; only a hub may list further parties.
func allowedRoles(conn *ocpi.Connection, theirs ocpi.Credentials) ([]ocpi.CredentialsRole, string) {
	own := false
	for _, r := range theirs.Roles {
		if ocpi.Key(r.CountryCode) == conn.CountryCode && ocpi.Key(r.PartyID) == conn.PartyID {
			own = true
		}
	}
	hub := strings.EqualFold(conn.Role, "HUB")
	if !own && !hub {
		return nil, "the credentials do not list the party this token was issued for (" + conn.Party() + ")"
	}
	if hub {
		return theirs.Roles, ""
	}
	var roles []ocpi.CredentialsRole
	for _, r := range theirs.Roles {
		if ocpi.Key(r.CountryCode) == conn.CountryCode && ocpi.Key(r.PartyID) == conn.PartyID {
			roles = append(roles, r)
		} else {
			return nil, "only a hub may register other parties than " + conn.Party() + " (found " +
				ocpi.PartyKey(r.CountryCode, r.PartyID) + ")"
		}
	}
	return roles, ""
}

// redact removes a token from an error text before it is logged.
func redact(err error, token string) string {
	msg := err.Error()
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[token]")
	}
	return msg
}
