package receiver

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/roamsettle/roamsettle/ocpi"
)

func jsonRaw(b []byte) json.RawMessage { return json.RawMessage(b) }

// owner is the party a request writes for: the OCPI-from-* routing headers
// when present (2.2+, a hub relaying), otherwise the connection's own party.
// It has answered when ok is false.
func (s *Server) owner(c *call) (cc, pid string, ok bool) {
	cc, pid = c.conn.CountryCode, c.conn.PartyID
	fromCC, fromPID := c.r.Header.Get("OCPI-from-country-code"), c.r.Header.Get("OCPI-from-party-id")
	if c.version != ocpi.V211 && (fromCC != "" || fromPID != "") {
		if !ocpi.IsCountryCode(fromCC) || !ocpi.IsPartyID(fromPID) {
			s.fail(c, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "OCPI-from-country-code/OCPI-from-party-id",
				"routing headers must be a two-letter country code and a three-character party id")
			return "", "", false
		}
		if !c.conn.MayWriteFor(fromCC, fromPID) {
			s.fail(c, http.StatusNotFound, ocpi.StatusInvalidParameters, ocpi.RuleOwner, "OCPI-from-party-id",
				ocpi.PartyKey(fromCC, fromPID)+" is not a party of this connection")
			return "", "", false
		}
		cc, pid = ocpi.Key(fromCC), ocpi.Key(fromPID)
	}
	return cc, pid, true
}

// received builds the Received of a request body and decodes it the
// file-import way.
func (s *Server) received(c *call, body []byte, hint ocpi.Hint) ocpi.Received {
	rec := ocpi.Received{
		Source:     ocpi.Source{Channel: ocpi.ChannelPush, Name: s.cfg.BaseURL + c.r.URL.Path, Partner: c.conn.Party()},
		ReceivedAt: s.cfg.Now().UTC(),
		Raw:        body,
	}
	ocpi.DecodeReceived(&rec, hint)
	return rec
}

// refusedBeforeStore answers the decode results that must not reach the
// store: a body that is not JSON (400) and an object of a party the caller
// may not write for (2001). It reports whether it answered.
func (s *Server) refusedBeforeStore(c *call, rec *ocpi.Received) bool {
	if !rec.Rejected {
		return false
	}
	for _, p := range rec.Problems {
		switch p.Rule {
		case ocpi.RuleSyntax:
			s.fail(c, http.StatusBadRequest, ocpi.StatusClientError, p.Rule, p.Path, p.Message)
			return true
		case ocpi.RuleOwner:
			s.fail(c, http.StatusOK, ocpi.StatusInvalidParameters, p.Rule, "country_code/party_id", p.Message)
			return true
		case ocpi.RuleTooLarge, ocpi.RuleDepth:
			s.fail(c, http.StatusRequestEntityTooLarge, ocpi.StatusClientError, p.Rule, p.Path, p.Message)
			return true
		}
	}
	return false
}

// store saves one record through the group commit and answers with the
// outcome. location is the URL of the stored object (CDRs).
func (s *Server) store(c *call, rec ocpi.Received, location string) {
	outcome, err := s.batch.save(c.r.Context(), rec)
	if err != nil {
		if errors.Is(err, errClosed) {
			s.fail(c, http.StatusServiceUnavailable, ocpi.StatusServerError, "", "", "shutting down, retry later")
			return
		}
		s.cfg.Log.Error("store", "partner", c.conn.Party(), "module", c.module, "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not store the object, retry later")
		return
	}
	s.metrics.outcomes.WithLabelValues(string(rec.Kind), string(outcome)).Inc()
	if location != "" && (outcome == ocpi.OutcomeAccepted || outcome == ocpi.OutcomeDuplicate) {
		c.w.Header().Set("Location", location)
	}
	switch outcome {
	case ocpi.OutcomeAccepted:
		s.reply(c, http.StatusCreated, ocpi.StatusSuccess, findingsMessage(rec.Problems), nil)
	case ocpi.OutcomeDuplicate:
		s.reply(c, http.StatusOK, ocpi.StatusSuccess, "already received: nothing changed", nil)
	case ocpi.OutcomeConflict:
		s.fail(c, http.StatusOK, ocpi.StatusInvalidParameters, ocpi.RuleConflict, "",
			"a different "+string(rec.Kind)+" is stored under this identity; it is immutable, the conflict was recorded")
	default:
		p := firstProblem(rec.Problems)
		s.fail(c, http.StatusOK, ocpi.StatusInvalidParameters, p.Rule, p.Path, p.Message)
	}
}

func firstProblem(ps ocpi.Problems) ocpi.Problem {
	for _, p := range ps {
		if p.Blocking {
			return p
		}
	}
	if len(ps) > 0 {
		return ps[0]
	}
	return ocpi.Problem{Rule: ocpi.RuleKind, Message: "the object could not be stored"}
}

// findingsMessage tells the sender what was stored with problems.
func findingsMessage(ps ocpi.Problems) string {
	if len(ps) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("stored with findings: ")
	for i, p := range ps {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// postCDR stores a pushed CDR and answers with its Location.
func (s *Server) postCDR(c *call) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	cc, pid, ok := s.owner(c)
	if !ok {
		return
	}
	rec := s.received(c, body, ocpi.Hint{Kind: ocpi.KindCDR, Version: c.version, CountryCode: cc, PartyID: pid})
	if s.refusedBeforeStore(c, &rec) {
		return
	}
	location := ""
	if rec.CDR != nil {
		location = s.cdrURL(c.version, rec.CDR)
	}
	s.store(c, rec, location)
}

func (s *Server) cdrURL(v ocpi.Version, cdr *ocpi.CDR) string {
	return s.cfg.BaseURL + "/ocpi/" + string(v) + "/cdrs/" + url.PathEscape(ocpi.Key(cdr.CountryCode)) + "/" +
		url.PathEscape(ocpi.Key(cdr.PartyID)) + "/" + url.PathEscape(cdr.ID)
}

// pathObject reads and checks {cc}/{pid}/{id} of a client-owned object URL
// and that the caller may write for that party. It has answered when ok is
// false.
func (s *Server) pathObject(c *call, maxID int) (cc, pid, id string, ok bool) {
	cc, pid, id = c.r.PathValue("cc"), c.r.PathValue("pid"), c.r.PathValue("id")
	switch {
	case !ocpi.IsCountryCode(cc):
		s.fail(c, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "country_code", "not a two-letter country code in the URL")
		return "", "", "", false
	case !ocpi.IsPartyID(pid):
		s.fail(c, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "party_id", "not a three-character party id in the URL")
		return "", "", "", false
	case !ocpi.IsIdentifier(id, maxID):
		s.fail(c, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleLength, "id", "the id in the URL is empty, too long or has characters OCPI does not allow")
		return "", "", "", false
	}
	fromCC, fromPID, ok := s.owner(c)
	if !ok {
		return "", "", "", false
	}
	if !c.conn.MayWriteFor(cc, pid) || (fromCC != c.conn.CountryCode || fromPID != c.conn.PartyID) && (ocpi.Key(cc) != fromCC || ocpi.Key(pid) != fromPID) {
		s.fail(c, http.StatusNotFound, ocpi.StatusInvalidParameters, ocpi.RuleOwner, "country_code/party_id",
			ocpi.PartyKey(cc, pid)+" is not a party of this connection")
		return "", "", "", false
	}
	return ocpi.Key(cc), ocpi.Key(pid), id, true
}

// getCDR returns a stored CDR as it was received.
func (s *Server) getCDR(c *call) {
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxCDRIDLength)
	if !ok {
		return
	}
	raw, err := s.cfg.Objects.CDRRaw(c.r.Context(), cc, pid, id)
	if errors.Is(err, ErrNotFound) {
		s.fail(c, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "id", "no such CDR")
		return
	}
	if err != nil {
		s.cfg.Log.Error("get cdr", "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not read the CDR")
		return
	}
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", jsonRaw(raw))
}
