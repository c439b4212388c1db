package receiver

import (
	"net/http"

	"github.com/roamsettle/roamsettle/ocpi"
)

// The hubclientinfo Receiver interface (2.2+): a hub pushes the parties it
// fronts, one ClientInfo at a time, to {endpoint}/{country_code}/{party_id}.
// Only a connection registered as HUB may push; what it pushes decides
// which parties' objects it may write (DESIGN invariant 9).

// hubCall checks that the caller is a hub and reads the party of the URL.
// It has answered when ok is false.
func (s *Server) hubCall(c *call) (cc, pid string, ok bool) {
	if !c.conn.IsHub() {
		s.fail(c, http.StatusNotFound, ocpi.StatusClientError, ocpi.RuleOwner, "",
			c.conn.Party()+" is registered as "+c.conn.Role+", not as a hub: only a hub sends client info")
		return "", "", false
	}
	cc, pid = c.r.PathValue("cc"), c.r.PathValue("pid")
	if !ocpi.IsCountryCode(cc) || !ocpi.IsPartyID(pid) {
		s.fail(c, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "country_code/party_id",
			"the URL must end in a two-letter country code and a three-character party id")
		return "", "", false
	}
	return ocpi.Key(cc), ocpi.Key(pid), true
}

func (s *Server) getClient(c *call) {
	cc, pid, ok := s.hubCall(c)
	if !ok {
		return
	}
	ci, found := ocpi.FindClient(c.conn.HubClients, cc, pid)
	if !found {
		s.fail(c, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "", "no client info for "+ocpi.PartyKey(cc, pid))
		return
	}
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", clientJSON(ci))
}

func (s *Server) putClient(c *call)   { s.changeClient(c, false) }
func (s *Server) patchClient(c *call) { s.changeClient(c, true) }

// changeClient stores a pushed ClientInfo (PUT: the whole object; PATCH:
// the fields it has, on the stored one) in the hub's list.
func (s *Server) changeClient(c *call, patch bool) {
	cc, pid, ok := s.hubCall(c)
	if !ok {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	s.handshakeMu.Lock() // one change of a partner row at a time
	defer s.handshakeMu.Unlock()
	conn, err := s.partner(c, c.conn.ID)
	if err != nil {
		s.cfg.Log.Error("hub client info: read partner", "partner", c.conn.Party(), "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not read the hub's client list")
		return
	}
	var base *ocpi.ClientInfo
	stored, found := ocpi.FindClient(conn.HubClients, cc, pid)
	if patch {
		if !found {
			s.fail(c, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "", "no client info for "+ocpi.PartyKey(cc, pid)+": PUT it first")
			return
		}
		base = &stored
	}
	ci, probs := ocpi.DecodeClientInfo(body, base)
	if len(probs) > 0 {
		p := probs[0]
		status := http.StatusOK
		if p.Rule == ocpi.RuleSyntax {
			status = http.StatusBadRequest
		}
		s.fail(c, status, ocpi.StatusInvalidParameters, p.Rule, p.Path, p.Message)
		return
	}
	if ci.Party() != ocpi.PartyKey(cc, pid) {
		s.fail(c, http.StatusOK, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "country_code/party_id",
			"the body names "+ci.Party()+" but the URL "+ocpi.PartyKey(cc, pid))
		return
	}
	now := s.cfg.Now().UTC()
	list := ocpi.MergeClient(conn.HubClients, ci)
	if err := s.cfg.Partners.SaveHubClients(c.r.Context(), conn.ID, list, now); err != nil {
		s.cfg.Log.Error("hub client info: store", "partner", conn.Party(), "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not store the client info, retry later")
		return
	}
	if err := s.auth.reload(c.r.Context()); err != nil {
		s.cfg.Log.Error("hub client info: reload", "err", err)
	}
	s.cfg.Log.Info("hub client info", "partner", conn.Party(), "client", ci.Party(), "status", ci.Status)
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", nil)
}

// partner rereads one partner from the store (the authenticated copy may
// predate a change made by a concurrent request).
func (s *Server) partner(c *call, id int64) (ocpi.Connection, error) {
	conns, err := s.cfg.Partners.Partners(c.r.Context())
	if err != nil {
		return ocpi.Connection{}, err
	}
	for _, p := range conns {
		if p.ID == id {
			return p, nil
		}
	}
	return ocpi.Connection{}, ErrNotFound
}

// clientJSON is a ClientInfo in OCPI's shape.
func clientJSON(ci ocpi.ClientInfo) map[string]string {
	return map[string]string{"country_code": ci.CountryCode, "party_id": ci.PartyID, "role": ci.Role,
		"status": ci.Status, "last_updated": ocpi.FormatDateTime(ci.LastUpdated)}
}
