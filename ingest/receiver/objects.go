package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ocpi"
)

// putObject stores a full client-owned object PUT to its URL (tariff,
// location, invoice reconciliation record).
func (s *Server) putObject(c *call, kind ocpi.Kind, maxID int) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	cc, pid, id, ok := s.pathObject(c, maxID, body)
	if !ok {
		return
	}
	rec := s.received(c, body, ocpi.Hint{Kind: kind, Version: c.version, CountryCode: cc, PartyID: pid})
	if s.refusedBeforeStore(c, &rec) {
		return
	}
	if _, _, bodyID := rec.Identity(); bodyID != "" && bodyID != ocpi.Key(id) {
		s.refuse(c, body, http.StatusOK, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "id", "the id in the body differs from the id in the URL")
		return
	}
	s.store(c, rec, "")
}

func (s *Server) putTariff(c *call) { s.putObject(c, ocpi.KindTariff, ocpi.MaxObjectIDLength) }

func (s *Server) deleteTariff(c *call) {
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxObjectIDLength, nil)
	if !ok {
		return
	}
	if err := s.cfg.Objects.WithdrawTariff(c.r.Context(), cc, pid, id, s.cfg.Now().UTC()); err != nil {
		s.cfg.Log.Error("withdraw tariff", "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not record the withdrawal")
		return
	}
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", nil)
}

// patchTariff (2.1.1 only) merges the patch's top-level fields into the
// newest stored version and stores the result as a new version. The stored
// raw payload is the merged document, so the next PATCH starts from it.
func (s *Server) patchTariff(c *call) {
	if c.version != ocpi.V211 {
		s.notAllowed(c, "tariffs are replaced with PUT since OCPI 2.2")
		return
	}
	patch, ok := s.readBody(c)
	if !ok {
		return
	}
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxObjectIDLength, patch)
	if !ok {
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil {
		s.refuse(c, patch, http.StatusBadRequest, ocpi.StatusClientError, ocpi.RuleSyntax, "", "the PATCH body is not a JSON object")
		return
	}
	base, err := s.cfg.Objects.LatestTariffRaw(c.r.Context(), cc, pid, id)
	if errors.Is(err, ErrNotFound) {
		s.refuse(c, patch, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "id", "no such tariff: PUT it first")
		return
	}
	if err != nil {
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not read the tariff")
		return
	}
	merged, err := mergeObject(base, fields)
	if err != nil {
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "the stored tariff is not a JSON object")
		return
	}
	rec := s.received(c, merged, ocpi.Hint{Kind: ocpi.KindTariff, Version: c.version, CountryCode: cc, PartyID: pid})
	if s.refusedBeforeStore(c, &rec) {
		return
	}
	if _, _, bodyID := rec.Identity(); bodyID != "" && bodyID != ocpi.Key(id) {
		s.refuse(c, patch, http.StatusOK, ocpi.StatusInvalidParameters, ocpi.RuleFormat, "id", "the PATCH changes the id")
		return
	}
	s.store(c, rec, "")
}

// mergeObject replaces base's top-level fields by the patch's.
func mergeObject(base []byte, patch map[string]json.RawMessage) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(base, &obj); err != nil {
		return nil, err
	}
	for k, v := range patch {
		obj[k] = v
	}
	return json.Marshal(obj)
}

// putLocation stores a location PUT; on an EVSE or connector URL the object
// replaces that part of the newest stored version.
func (s *Server) putLocation(c *call) {
	if c.r.PathValue("evse") == "" {
		s.putObject(c, ocpi.KindLocation, ocpi.MaxObjectIDLength)
		return
	}
	s.changeLocation(c, func(loc *ocpi.Location, body []byte, evse, connector string) (ocpi.Problems, string) {
		// Where the part goes in the stored location (i, j; j is -1 for an
		// EVSE): its problems are reported at that path, not at the
		// evses[0] of the document decodePart wraps it in.
		i := slices.IndexFunc(loc.EVSEs, func(x ocpi.EVSE) bool { return strings.EqualFold(x.UID, evse) })
		j := -1
		switch {
		case i < 0 && connector != "":
			return nil, "evse_uid: unknown EVSE " + evse + ": PUT it first"
		case i < 0:
			i = len(loc.EVSEs)
		case connector != "":
			j = slices.IndexFunc(loc.EVSEs[i].Connectors, func(x ocpi.Connector) bool { return strings.EqualFold(x.ID, connector) })
			if j < 0 {
				j = len(loc.EVSEs[i].Connectors)
			}
		}
		part, probs, why := decodePart(c.version, loc, body, evse, connector)
		for n := range probs {
			probs[n].Path = partPath(probs[n].Path, i, j)
		}
		if why != "" {
			return probs, partPath(why, i, j)
		}
		if connector == "" {
			e := part.EVSEs[0]
			if !strings.EqualFold(e.UID, evse) {
				return probs, "uid: the EVSE uid in the body differs from the URL"
			}
			if i == len(loc.EVSEs) {
				loc.EVSEs = append(loc.EVSEs, e)
			} else {
				loc.EVSEs[i] = e
			}
			loc.LastUpdated = laterOf(loc.LastUpdated, e.LastUpdated)
			return probs, ""
		}
		k := part.EVSEs[0].Connectors[0]
		if !strings.EqualFold(k.ID, connector) {
			return probs, "id: the connector id in the body differs from the URL"
		}
		e := &loc.EVSEs[i]
		if j == len(e.Connectors) {
			e.Connectors = append(e.Connectors, k)
		} else {
			e.Connectors[j] = k
		}
		e.LastUpdated = laterOf(e.LastUpdated, k.LastUpdated)
		loc.LastUpdated = laterOf(loc.LastUpdated, k.LastUpdated)
		return probs, ""
	})
}

// partPath moves a path of decodePart's wrapper document, where the part is
// evses[0] (and its connectors[0]), to where the part goes: evses[i] (and
// connectors[j] when j >= 0). It also moves a "path: message" refusal.
func partPath(path string, i, j int) string {
	rest, ok := strings.CutPrefix(path, "evses[0]")
	if !ok {
		return path
	}
	if j >= 0 {
		if r, ok := strings.CutPrefix(rest, ".connectors[0]"); ok {
			return fmt.Sprintf("evses[%d].connectors[%d]%s", i, j, r)
		}
	}
	return fmt.Sprintf("evses[%d]%s", i, rest)
}

// patchLocation applies a PATCH on a location, EVSE or connector URL to the
// newest stored version and stores the result as a new version (new
// last_updated), keeping the patch body as the raw payload.
func (s *Server) patchLocation(c *call) {
	s.changeLocation(c, func(loc *ocpi.Location, body []byte, evse, connector string) (ocpi.Problems, string) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return nil, "the PATCH body is not a JSON object"
		}
		var lastUpdated time.Time
		if raw, ok := fields["last_updated"]; ok {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, "last_updated: not a DateTime"
			}
			t, err := ocpi.ParseDateTime(s)
			if err != nil {
				return nil, "last_updated: " + err.Error()
			}
			lastUpdated = t
		} else if c.version != ocpi.V211 {
			return nil, "last_updated: required in a PATCH since OCPI 2.2"
		} else {
			lastUpdated = time.Now().UTC().Truncate(time.Second)
		}
		var probs ocpi.Problems
		str := func(k string, dst *string) string {
			if raw, ok := fields[k]; ok {
				if patchValue(raw, dst, k, &probs) != nil {
					return k + ": not a string"
				}
			}
			return ""
		}
		switch {
		case evse == "":
			for k, dst := range map[string]*string{"time_zone": &loc.TimeZone, "name": &loc.Name, "address": &loc.Address,
				"city": &loc.City, "postal_code": &loc.PostalCode, "state": &loc.State, "country": &loc.Country} {
				if why := str(k, dst); why != "" {
					return nil, why
				}
			}
			if raw, ok := fields["publish"]; ok {
				var b bool
				if json.Unmarshal(raw, &b) != nil {
					return nil, "publish: not a boolean"
				}
				loc.Publish = &b
			}
			if raw, ok := fields["evses"]; ok {
				part, evseProbs, why := decodeEVSEs(c.version, loc, raw)
				if why != "" {
					return evseProbs, why
				}
				probs = append(probs, evseProbs...)
				loc.EVSEs = part.EVSEs
			}
		case connector == "":
			e := findEVSE(loc, evse)
			if e == nil {
				return nil, "evse_uid: unknown EVSE " + evse + ": PUT it first"
			}
			for k, dst := range map[string]*string{"status": &e.Status, "evse_id": &e.EVSEID} {
				if why := str(k, dst); why != "" {
					return nil, why
				}
			}
			e.LastUpdated = lastUpdated
		default:
			e := findEVSE(loc, evse)
			if e == nil {
				return nil, "evse_uid: unknown EVSE " + evse + ": PUT it first"
			}
			j := slices.IndexFunc(e.Connectors, func(x ocpi.Connector) bool { return strings.EqualFold(x.ID, connector) })
			if j < 0 {
				return nil, "connector_id: unknown connector " + connector + ": PUT it first"
			}
			k := &e.Connectors[j]
			for name, dst := range map[string]*string{"standard": &k.Standard, "format": &k.Format, "power_type": &k.PowerType} {
				if why := str(name, dst); why != "" {
					return nil, why
				}
			}
			if raw, ok := fields["tariff_ids"]; ok {
				var ids []string
				if patchValue(raw, &ids, "tariff_ids", &probs) != nil {
					return nil, "tariff_ids: not a list of strings"
				}
				k.TariffIDs = ids
			}
			if raw, ok := fields["tariff_id"]; ok { // 2.1.1
				var id *string
				if patchValue(raw, &id, "tariff_id", &probs) != nil {
					return nil, "tariff_id: not a string"
				}
				k.TariffIDs = nil
				if id != nil && *id != "" {
					k.TariffIDs = []string{*id}
				}
			}
			k.LastUpdated = lastUpdated
			e.LastUpdated = lastUpdated
		}
		loc.LastUpdated = lastUpdated
		return probs, ""
	})
}

// patchValue reads a PATCH field into dst. encoding/json reads a byte that
// is not UTF-8 as U+FFFD without a word; such bytes are written \xHH first,
// as the decoder writes them (ocpi.ValidText), and reported at path.
func patchValue(raw json.RawMessage, dst any, path string, probs *ocpi.Problems) error {
	if !utf8.Valid(raw) {
		const hex = "0123456789ABCDEF"
		esc := make([]byte, 0, len(raw)+8)
		for i := 0; i < len(raw); {
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				// Only a JSON string can hold the byte (the body is valid
				// JSON): an escaped backslash, then xHH.
				esc = append(esc, '\\', '\\', 'x', hex[raw[i]>>4], hex[raw[i]&0xF])
				i++
				continue
			}
			esc = append(esc, raw[i:i+n]...)
			i += n
		}
		raw = esc
		*probs = append(*probs, ocpi.Problem{Path: path, Rule: ocpi.RuleEncoding,
			Message: `not valid UTF-8: kept with each invalid byte written \xHH; the raw payload has the bytes as sent`})
	}
	return json.Unmarshal(raw, dst)
}

// changeLocation loads the newest stored version of the location in the
// URL, lets change modify it, validates the result and stores it as a new
// version with the request body as its raw payload.
func (s *Server) changeLocation(c *call, change func(loc *ocpi.Location, body []byte, evse, connector string) (ocpi.Problems, string)) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxObjectIDLength, body)
	if !ok {
		return
	}
	evse, connector := c.r.PathValue("evse"), c.r.PathValue("connector")
	for _, part := range []struct {
		path, id string
		max      int
	}{{"evse_uid", evse, ocpi.MaxObjectIDLength}, {"connector_id", connector, ocpi.MaxConnectorIDLength}} {
		if part.id != "" && !ocpi.IsIdentifier(part.id, part.max) {
			rule, msg := badURLID(part.id, part.max)
			s.refuse(c, body, http.StatusBadRequest, ocpi.StatusInvalidParameters, rule, part.path, msg)
			return
		}
	}
	if !json.Valid(body) {
		s.refuse(c, body, http.StatusBadRequest, ocpi.StatusClientError, ocpi.RuleSyntax, "", "the body is not well-formed JSON")
		return
	}
	loc, err := s.cfg.Objects.LatestLocation(c.r.Context(), cc, pid, id)
	if errors.Is(err, ErrNotFound) {
		s.refuse(c, body, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "id", "unknown location: PUT it first")
		return
	}
	if err != nil {
		s.cfg.Log.Error("load location", "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not read the location")
		return
	}
	previous := loc.LastUpdated
	probs, why := change(loc, body, evse, connector)
	if why != "" {
		path, msg, _ := strings.Cut(why, ": ")
		if msg == "" {
			path, msg = "", why
		}
		rule := ocpi.RuleFormat
		if strings.Contains(msg, "required") {
			rule = ocpi.RuleRequired
		}
		for _, p := range probs {
			if p.Blocking && p.Path == path && p.Path != "" {
				rule = p.Rule
				break
			}
		}
		s.refuse(c, body, http.StatusOK, ocpi.StatusInvalidParameters, rule, path, msg)
		return
	}
	if !loc.LastUpdated.After(previous) {
		loc.LastUpdated = previous.Add(time.Second)
	}
	loc.Version = c.version
	rec := ocpi.Received{
		Source:     ocpi.Source{Channel: ocpi.ChannelPush, Name: s.cfg.BaseURL + c.r.URL.Path, Partner: c.conn.Party()},
		ReceivedAt: s.cfg.Now().UTC(),
		Raw:        body,
		Kind:       ocpi.KindLocation,
		Version:    c.version,
		Location:   loc,
		Problems:   append(probs, validatedOnce(probs, ocpi.ValidateLocation(loc))...),
	}
	s.store(c, rec, "")
}

// validatedOnce is what validating the merged location found that the
// part's decoding did not already report at that path (as ocpi.Decode does).
func validatedOnce(decoded, validated ocpi.Problems) ocpi.Problems {
	return slices.DeleteFunc(validated, func(v ocpi.Problem) bool {
		return slices.ContainsFunc(decoded, func(d ocpi.Problem) bool { return d.Path == v.Path })
	})
}

func findEVSE(loc *ocpi.Location, uid string) *ocpi.EVSE {
	for i := range loc.EVSEs {
		if strings.EqualFold(loc.EVSEs[i].UID, uid) {
			return &loc.EVSEs[i]
		}
	}
	return nil
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// decodePart decodes an EVSE or connector body with the location decoder by
// wrapping it in its location, so it gets exactly the validation a full
// location PUT gets. Problems outside the part are the wrapper's and
// dropped.
func decodePart(v ocpi.Version, loc *ocpi.Location, body []byte, evse, connector string) (ocpi.Location, ocpi.Problems, string) {
	inner := body
	if connector != "" {
		inner = wrap(`{"uid":`, jsonString(evse), `,"status":"AVAILABLE","last_updated":"`,
			ocpi.FormatDateTime(loc.LastUpdated), `","connectors":[`, string(body), `]}`)
	}
	return decodeEVSEs(v, loc, wrap("[", string(inner), "]"))
}

func decodeEVSEs(v ocpi.Version, loc *ocpi.Location, evses []byte) (ocpi.Location, ocpi.Problems, string) {
	doc := wrap(`{"country_code":`, jsonString(loc.CountryCode), `,"party_id":`, jsonString(loc.PartyID),
		`,"id":`, jsonString(loc.ID), `,"last_updated":"`, ocpi.FormatDateTime(loc.LastUpdated), `","evses":`, string(evses), `}`)
	d := ocpi.Decode(doc, ocpi.Hint{Kind: ocpi.KindLocation, Version: v, CountryCode: loc.CountryCode, PartyID: loc.PartyID})
	var probs ocpi.Problems
	for _, p := range d.Problems {
		if strings.HasPrefix(p.Path, "evses") {
			probs = append(probs, p)
		}
	}
	if d.Rejected || d.Location == nil || len(d.Location.EVSEs) == 0 {
		return ocpi.Location{}, probs, "the body is not a valid EVSE or connector"
	}
	for _, e := range d.Location.EVSEs {
		if len(e.Connectors) == 0 && bytes.Contains(doc, []byte(`"connectors":[`)) {
			return ocpi.Location{}, probs, "the body is not a valid connector"
		}
	}
	for _, p := range probs {
		// A byte that is not UTF-8 is kept written \xHH with its finding,
		// as in a whole location's PUT (issue 12 item 6).
		if p.Blocking && p.Rule != ocpi.RuleEncoding {
			return ocpi.Location{}, probs, p.Path + ": " + p.Message
		}
	}
	return *d.Location, probs, ""
}

func wrap(parts ...string) []byte { return []byte(strings.Join(parts, "")) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// postInvoice stores a new 2.3.0 invoice reconciliation record (POST
// without URL segments: the owner comes from the body, checked against the
// connection).
func (s *Server) postInvoice(c *call) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	cc, pid, ok := s.owner(c, body)
	if !ok {
		return
	}
	rec := s.received(c, body, ocpi.Hint{Kind: ocpi.KindInvoice, Version: c.version, CountryCode: cc, PartyID: pid})
	if s.refusedBeforeStore(c, &rec) {
		return
	}
	s.store(c, rec, "")
}

func (s *Server) putInvoice(c *call) { s.putObject(c, ocpi.KindInvoice, ocpi.MaxObjectIDLength) }

func (s *Server) getInvoice(c *call) {
	s.getLive(c, "invoice reconciliation record", s.cfg.Objects.LatestInvoiceRaw, s.cfg.Objects.InvoiceWithdrawnAt)
}

// deleteInvoice records the withdrawal of an invoice reconciliation record;
// its versions stay (invoices were matched against them).
func (s *Server) deleteInvoice(c *call) {
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxObjectIDLength, nil)
	if !ok {
		return
	}
	if err := s.cfg.Objects.WithdrawInvoice(c.r.Context(), cc, pid, id, s.cfg.Now().UTC()); err != nil {
		s.cfg.Log.Error("withdraw invoice reconciliation record", "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not record the withdrawal")
		return
	}
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", nil)
}

func (s *Server) getTariff(c *call) {
	s.getLive(c, "tariff", s.cfg.Objects.LatestTariffRaw, s.cfg.Objects.TariffWithdrawnAt)
}

// getLive answers the GET of a client-owned versioned object (tariff,
// invoice reconciliation record) with the raw body of its newest version,
// exactly as it was received, so the owner can compare it with its own
// copy. An object never stored, or withdrawn since its newest version (see
// puller.Withdrawn), is answered 404 with 2003, as for a CDR.
func (s *Server) getLive(c *call, what string,
	latest func(ctx context.Context, cc, pid, id string) ([]byte, error),
	withdrawnAt func(ctx context.Context, cc, pid, id string) (time.Time, bool, error)) {
	cc, pid, id, ok := s.pathObject(c, ocpi.MaxObjectIDLength, nil)
	if !ok {
		return
	}
	raw, err := latest(c.r.Context(), cc, pid, id)
	if errors.Is(err, ErrNotFound) {
		s.fail(c, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "id", "no such "+what)
		return
	}
	if err != nil {
		s.cfg.Log.Error("get "+what, "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not read the "+what)
		return
	}
	at, recorded, err := withdrawnAt(c.r.Context(), cc, pid, id)
	if err != nil {
		s.cfg.Log.Error("get "+what, "err", err)
		s.fail(c, http.StatusInternalServerError, ocpi.StatusServerError, "", "", "could not read the "+what)
		return
	}
	if puller.Withdrawn(lastUpdatedOf(raw), at, recorded) {
		s.fail(c, http.StatusNotFound, ocpi.StatusUnknownLocation, "", "id", "the "+what+" was withdrawn")
		return
	}
	s.reply(c, http.StatusOK, ocpi.StatusSuccess, "", jsonRaw(raw))
}

// lastUpdatedOf reads last_updated from a stored raw body (zero when it
// has none, so that any withdrawal hides it).
func lastUpdatedOf(raw []byte) time.Time {
	var v struct {
		LastUpdated string `json:"last_updated"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return time.Time{}
	}
	t, err := ocpi.ParseDateTime(v.LastUpdated)
	if err != nil {
		return time.Time{}
	}
	return t
}
