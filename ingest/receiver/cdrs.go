package receiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/roamsettle/roamsettle/ocpi"
)

func jsonRaw(b []byte) json.RawMessage { return json.RawMessage(b) }

// owner is the party a request writes for: the OCPI-from-* routing headers
// when present (2.2+, a hub relaying), otherwise the connection's own party,
// or for a hub without routing headers nobody in particular (empty: the
// object's own owner is then checked against the parties the hub fronts).
// It has answered when ok is false; body is kept as a raw copy of a refusal.
func (s *Server) owner(c *call, body []byte) (cc, pid string, ok bool) {
	cc, pid = c.conn.CountryCode, c.conn.PartyID
	fromCC, fromPID := c.r.Header.Get("OCPI-from-country-code"), c.r.Header.Get("OCPI-from-party-id")
	if c.version == ocpi.V211 || (fromCC == "" && fromPID == "") {
		if c.conn.IsHub() && c.version != ocpi.V211 {
			return "", "", true
		}
		return cc, pid, true
	}
	if !ocpi.IsCountryCode(fromCC) || !ocpi.IsPartyID(fromPID) {
		s.refuse(c, body, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "OCPI-from-country-code/OCPI-from-party-id",
			"routing headers must be a two-letter country code and a three-character party id")
		return "", "", false
	}
	if !c.conn.MayWriteFor(fromCC, fromPID) {
		s.refuse(c, body, http.StatusNotFound, ocpi.StatusInvalidParameters, ocpi.RuleOwner, "OCPI-from-party-id", s.notOurs(c, fromCC, fromPID))
		return "", "", false
	}
	return ocpi.Key(fromCC), ocpi.Key(fromPID), true
}

// notOurs says why a party may not write through this connection.
func (s *Server) notOurs(c *call, cc, pid string) string {
	if c.conn.IsHub() {
		return ocpi.PartyKey(cc, pid) + " is not a party the hub " + c.conn.Party() + " fronts (its hubclientinfo does not list it)"
	}
	return ocpi.PartyKey(cc, pid) + " is not a party of this connection"
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
// store as objects: a body that is not JSON (400), too large (413) or nested
// too deep (400), and an object of a party the caller may not write for
// (2001). Each keeps a bounded raw copy among the rejects. It reports
// whether it answered.
func (s *Server) refusedBeforeStore(c *call, rec *ocpi.Received) bool {
	if !rec.Rejected {
		if cc, pid, _ := rec.Identity(); cc != "" && !c.conn.MayWriteFor(cc, pid) {
			s.refuse(c, rec.Raw, http.StatusOK, ocpi.StatusInvalidParameters, ocpi.RuleOwner, "country_code/party_id", s.notOurs(c, cc, pid))
			return true
		}
		return false
	}
	for _, p := range rec.Problems {
		switch p.Rule {
		case ocpi.RuleSyntax, ocpi.RuleDepth:
			s.refuse(c, rec.Raw, http.StatusBadRequest, ocpi.StatusClientError, p.Rule, p.Path, p.Message)
			return true
		case ocpi.RuleOwner:
			s.refuse(c, rec.Raw, http.StatusOK, ocpi.StatusInvalidParameters, p.Rule, "country_code/party_id", p.Message)
			return true
		case ocpi.RuleTooLarge:
			s.refuse(c, rec.Raw, http.StatusRequestEntityTooLarge, ocpi.StatusClientError, p.Rule, p.Path, p.Message)
			return true
		}
	}
	return false
}

// MaxRefusedRaw bounds the raw copy kept of a request refused before it
// reached the store (invariant 2 without a disk-filling hole).
const MaxRefusedRaw = 64 << 10

// refuse answers a refusal and, when the request had a body and belongs to
// an object module, keeps its first MaxRefusedRaw bytes as a reject with
// the rule and message of the answer. Credentials bodies are never kept
// (they carry tokens).
func (s *Server) refuse(c *call, body []byte, httpStatus int, code ocpi.StatusCode, rule ocpi.Rule, path, message string) {
	s.fail(c, httpStatus, code, rule, path, message)
	kind, ok := moduleKinds[c.module]
	if !ok || body == nil {
		return
	}
	if rule == "" {
		rule = "protocol"
	}
	p := ocpi.Problem{Path: path, Rule: rule, Message: message, Blocking: true}
	if len(body) > MaxRefusedRaw {
		if rule != ocpi.RuleTooLarge { // readBody's message says it already
			p.Message += fmt.Sprintf(" (raw copy: the first %d of %s bytes)", MaxRefusedRaw, sizeText(c, len(body)))
		}
		body = body[:MaxRefusedRaw]
	}
	rec := ocpi.Received{
		Source:     ocpi.Source{Channel: ocpi.ChannelPush, Name: s.cfg.BaseURL + c.r.URL.Path, Partner: c.conn.Party()},
		ReceivedAt: s.cfg.Now().UTC(),
		Raw:        bytes.Clone(body),
		SHA256:     sha256.Sum256(body),
		Kind:       kind,
		Version:    c.version,
		Problems:   ocpi.Problems{p},
		Rejected:   true,
	}
	if _, err := s.batch.save(context.WithoutCancel(c.r.Context()), rec); err != nil {
		s.cfg.Log.Error("keep a refused payload", "partner", c.conn.Party(), "module", c.module, "err", err)
	}
}

// sizeText is the size of a body cut at the limit: "at least N" when the
// reader stopped there.
func sizeText(c *call, n int) string {
	if c.r.ContentLength > int64(n) {
		return strconv.FormatInt(c.r.ContentLength, 10)
	}
	return "at least " + strconv.Itoa(n)
}

var moduleKinds = map[string]ocpi.Kind{
	"cdrs": ocpi.KindCDR, "tariffs": ocpi.KindTariff, "locations": ocpi.KindLocation, "invoicereconciliation": ocpi.KindInvoice,
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
	cc, pid, ok := s.owner(c, body)
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

// cdrURL is where a stored CDR can be read back: every segment escaped, so
// an id with "/", spaces or other bytes OCPI does not allow still names one
// segment (a "." or ".." segment is escaped too, or it would be cleaned away).
func (s *Server) cdrURL(v ocpi.Version, cdr *ocpi.CDR) string {
	return s.cfg.BaseURL + "/ocpi/" + string(v) + "/cdrs/" + pathSegment(ocpi.Key(cdr.CountryCode)) + "/" +
		pathSegment(ocpi.Key(cdr.PartyID)) + "/" + pathSegment(cdr.ID)
}

func pathSegment(s string) string {
	if strings.Trim(s, ".") == "" {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// pathObject reads and checks {cc}/{pid}/{id} of a client-owned object URL
// and that the caller may write for that party; body (nil for GET and
// DELETE) is kept as a raw copy of a refusal. It has answered when ok is
// false.
func (s *Server) pathObject(c *call, maxID int, body []byte) (cc, pid, id string, ok bool) {
	cc, pid, id = c.r.PathValue("cc"), c.r.PathValue("pid"), c.r.PathValue("id")
	switch {
	case !ocpi.IsCountryCode(cc):
		s.refuse(c, body, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "country_code", "not a two-letter country code in the URL")
		return "", "", "", false
	case !ocpi.IsPartyID(pid):
		s.refuse(c, body, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "party_id", "not a three-character party id in the URL")
		return "", "", "", false
	case c.r.Method == http.MethodGet && !readableID(id):
		s.fail(c, http.StatusBadRequest, ocpi.StatusInvalidParameters, ocpi.RuleLength, "id", "the id in the URL is empty or too long")
		return "", "", "", false
	case c.r.Method != http.MethodGet && !ocpi.IsIdentifier(id, maxID):
		// A GET looks up what was stored, whatever its id (the Location of
		// a CDR with an id OCPI does not allow must work); a write must
		// name an id OCPI allows.
		rule, msg := badURLID(id, maxID)
		s.refuse(c, body, http.StatusBadRequest, ocpi.StatusInvalidParameters, rule, "id", msg)
		return "", "", "", false
	}
	fromCC, fromPID, ok := s.owner(c, body)
	if !ok {
		return "", "", "", false
	}
	routed := fromCC != "" && (fromCC != c.conn.CountryCode || fromPID != c.conn.PartyID)
	if !c.conn.MayWriteFor(cc, pid) || routed && (ocpi.Key(cc) != fromCC || ocpi.Key(pid) != fromPID) {
		s.refuse(c, body, http.StatusNotFound, ocpi.StatusInvalidParameters, ocpi.RuleOwner, "country_code/party_id", s.notOurs(c, cc, pid))
		return "", "", "", false
	}
	return ocpi.Key(cc), ocpi.Key(pid), id, true
}

// badURLID says why an id in a write's URL is not one ocpi.IsIdentifier
// allows: its length, or the first character a URL segment of OCPI may not
// hold.
func badURLID(id string, max int) (ocpi.Rule, string) {
	switch {
	case id == "":
		return ocpi.RuleRequired, "the id in the URL is empty"
	case len(id) > max:
		return ocpi.RuleLength, "the id in the URL is longer than " + strconv.Itoa(max) + " characters"
	}
	i := 0
	for ocpi.IsIdentifier(id[:i+1], max) {
		i++
	}
	return ocpi.RuleFormat, fmt.Sprintf("the id in the URL, %q, has characters OCPI does not allow "+
		"(printable ASCII without spaces, \"/\", \"?\", \"#\", \"%%\" or \"\\\"), the first at byte %d", id, i)
}

// readableID bounds the id of a GET or DELETE (any bytes: it is only looked
// up).
func readableID(id string) bool { return id != "" && len(id) <= 1024 }

// getCDR returns a stored CDR as it was received.
func (s *Server) getCDR(c *call) {
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxCDRIDLength, nil)
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
