package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/settle"
)

// The reconcile read path: whole CDRs (every field the validation rules
// read) of a selection, in key chunks with one query per table, their
// decoder findings, and what the store knows beyond them (duplicate
// receipts, refused conflicting bodies, the CDRs credits reference).

// cdrColumns are the columns readCDRBatch reads, in its order: times as
// epoch_us, the 29 strings of cdrStrings, the 15 decimals of its totals.
const cdrColumns = `c.cdr_key, c.country_code, c.party_id, c.id, c.country_code_as_sent, c.party_id_as_sent, c.id_as_sent,
	c.version, epoch_us(c.start_date_time), epoch_us(c.end_date_time),
	c.session_id, c.token_country_code, c.token_party_id, c.token_uid, c.token_type, c.token_contract_id,
	c.auth_method, c.authorization_reference,
	c.location_id, c.location_name, c.location_address, c.location_city, c.location_postal_code,
	c.location_state, c.location_country, c.location_latitude, c.location_longitude,
	c.evse_uid, c.evse_id, c.connector_id, c.connector_standard, c.connector_format,
	c.connector_power_type, c.location_time_zone,
	c.meter_id, c.currency, c.remark, c.invoice_reference_id, c.credit_reference_id,
	c.location_tariff_ids,
	c.total_cost_excl_vat, c.total_cost_incl_vat, c.total_fixed_cost_excl_vat, c.total_fixed_cost_incl_vat,
	c.total_energy, c.total_energy_cost_excl_vat, c.total_energy_cost_incl_vat,
	c.total_time, c.total_time_cost_excl_vat, c.total_time_cost_incl_vat,
	c.total_parking_time, c.total_parking_cost_excl_vat, c.total_parking_cost_incl_vat,
	c.total_reservation_cost_excl_vat, c.total_reservation_cost_incl_vat,
	c.taxes, c.credit, c.home_charging_compensation, epoch_us(c.last_updated)`

// cdrColumnCount is how many columns cdrColumns names.
const cdrColumnCount = 59

// cdrStrings are the fields of cdrColumns' 29 strings (columns 10-38), in
// their order; NULL reads as "".
func cdrStrings(c *ocpi.CDR) [29]*string {
	l := &c.Location
	return [29]*string{&c.SessionID, &c.Token.CountryCode, &c.Token.PartyID, &c.Token.UID, &c.Token.Type,
		&c.Token.ContractID, &c.AuthMethod, &c.AuthorizationReference,
		&l.ID, &l.Name, &l.Address, &l.City, &l.PostalCode, &l.State, &l.Country, &l.Coordinates.Latitude,
		&l.Coordinates.Longitude, &l.EVSEUID, &l.EVSEID, &l.ConnectorID, &l.ConnectorStandard, &l.ConnectorFormat,
		&l.ConnectorPowerType, &l.TimeZone, &c.MeterID, &c.Currency, &c.Remark, &c.InvoiceReferenceID,
		&c.CreditReferenceID}
}

// readCDRBatch reads a batch of cdrColumns into CDRs by key. Strings are
// copied out of the batch once each (in: a month repeats its places,
// parties and currencies), the ids on their own. Through database/sql's
// rows (every value boxed, every decimal a big.Int), reading the 610 k
// CDRs the 10 M month evaluates whole, with their periods, took 12.5
// CPU-s in Go; through Arrow, 8.
func readCDRBatch(rec arrow.RecordBatch, out map[int64]*ocpi.CDR, in interner) error {
	c := newArrowCols(rec)
	str := func(col, i int) string { return in.of(c.strs[col], i) }
	own := func(col, i int) string { return c.str(col, i) }
	tariffIDs, ok := rec.Column(39).(*array.List)
	if !ok {
		return fmt.Errorf("location_tariff_ids is %s, want a list", rec.Column(39).DataType())
	}
	var decs [15]decimalColumn
	for k := range decs {
		var err error
		if decs[k], err = decimalColumnOf(rec.Column(40 + k)); err != nil {
			return err
		}
	}
	credit, ok1 := rec.Column(56).(*array.Boolean)
	home, ok2 := rec.Column(57).(*array.Boolean)
	if !ok1 || !ok2 {
		return fmt.Errorf("credit or home_charging_compensation is not a boolean")
	}
	for i := range int(rec.NumRows()) {
		cdr := &ocpi.CDR{}
		key := c.i64(0, i)
		id := own(3, i)
		cdr.CountryCode, cdr.PartyID, cdr.ID = str(1, i), str(2, i), id
		if c.valid(4, i) {
			cdr.CountryCode = str(4, i)
		}
		if c.valid(5, i) {
			cdr.PartyID = str(5, i)
		}
		if c.valid(6, i) {
			cdr.ID = own(6, i)
		}
		cdr.Version = ocpi.Version(str(7, i))
		cdr.StartDateTime, cdr.EndDateTime = c.micros(8, i), c.micros(9, i)
		for k, p := range cdrStrings(cdr) {
			*p = str(10+k, i)
		}
		cdr.Location.TariffIDs = in.list(tariffIDs, i)
		var taxLines map[string][]taxJSON
		if c.valid(55, i) {
			if err := json.Unmarshal([]byte(c.strs[55].Value(i)), &taxLines); err != nil {
				return fmt.Errorf("CDR %s: taxes: %w", id, err)
			}
		}
		dec := func(k int) decimal.NullDecimal { return decs[k].at(i) }
		price := func(name string, excl, incl int) *ocpi.Price {
			x := dec(excl)
			if !x.Valid {
				return nil
			}
			p := &ocpi.Price{ExclVAT: x.Decimal, InclVAT: dec(incl)}
			for _, t := range taxLines[name] {
				p.Taxes = append(p.Taxes, ocpi.TaxAmount(t))
			}
			return p
		}
		cdr.TotalCost = price("total_cost", 0, 1)
		cdr.TotalFixedCost = price("total_fixed_cost", 2, 3)
		cdr.TotalEnergy = dec(4).Decimal
		cdr.TotalEnergyCost = price("total_energy_cost", 5, 6)
		cdr.TotalTime = dec(7).Decimal
		cdr.TotalTimeCost = price("total_time_cost", 8, 9)
		cdr.TotalParkingTime = dec(10)
		cdr.TotalParkingCost = price("total_parking_cost", 11, 12)
		cdr.TotalReservationCost = price("total_reservation_cost", 13, 14)
		cdr.Credit, cdr.HomeChargingCompensation = credit.Value(i), home.Value(i)
		cdr.LastUpdated = c.micros(58, i)
		out[key] = cdr
	}
	return nil
}

// loadWholeCDRs loads the filter's CDRs: every field, the periods with
// their dimensions and the embedded tariffs.
func loadWholeCDRs(ctx context.Context, q *sql.Conn, filter keyFilter, n int) (map[int64]*ocpi.CDR, error) {
	out := make(map[int64]*ocpi.CDR, n)
	in := interner{}
	err := arrowQueryOn(ctx, q, `SELECT `+cdrColumns+` FROM cdrs c WHERE `+filter("c.cdr_key"), nil, cdrColumnCount,
		func(rec arrow.RecordBatch) error { return readCDRBatch(rec, out, in) })
	if err != nil {
		return nil, err
	}
	if err := repricePeriods(ctx, q, filter, out); err != nil {
		return nil, err
	}
	embedded, err := embeddedTariffKeys(ctx, q, filter)
	if err != nil || len(embedded) == 0 {
		return out, err
	}
	var need []int64
	for _, ts := range embedded {
		need = append(need, ts...)
	}
	bodies, err := tariffBodies(ctx, q, need)
	if err != nil {
		return nil, err
	}
	for k, ts := range embedded {
		if c := out[k]; c != nil {
			for _, t := range ts {
				c.Tariffs = append(c.Tariffs, bodies[t])
			}
		}
	}
	return out, nil
}

// ReconcileCDRs loads every CDR of the selection (whole, in cdr_key order)
// with the decoder's findings by reconcile.IdentityKey.
func (s *Store) ReconcileCDRs(ctx context.Context, sel *settle.Selection) ([]*ocpi.CDR, map[string]ocpi.Problems, error) {
	scope, args := scopeSQL(sel, "cdr_key")
	keys, err := s.int64s(ctx, `SELECT cdr_key FROM `+scope+` ORDER BY cdr_key`, args...)
	if err != nil {
		return nil, nil, errorf("reconcile cdrs", "", err)
	}
	return s.cdrsWithProblems(ctx, keys)
}

// CDRsByID loads an owner's CDRs by id (case-insensitive); ids we do not
// hold are left out.
func (s *Store) CDRsByID(ctx context.Context, countryCode, partyID string, ids []string) ([]*ocpi.CDR, map[string]ocpi.Problems, error) {
	keys, err := s.keysByID(ctx, countryCode, partyID, ids)
	if err != nil || len(keys) == 0 {
		return nil, nil, err
	}
	return s.cdrsWithProblems(ctx, keys)
}

// CreditedCDRs implements settle.ReconcileSource: of an owner's CDRs by id
// (case-insensitive), what the credit rules read: the identity as sent and
// total_cost. A period's credits can reference tens of thousands of CDRs,
// and loading them whole took a tenth of the 10 M month's reconciliation.
func (s *Store) CreditedCDRs(ctx context.Context, countryCode, partyID string, ids []string) ([]*ocpi.CDR, error) {
	keys, err := s.keysByID(ctx, countryCode, partyID, ids)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	var out []*ocpi.CDR
	err = s.withKeys(ctx, keys, func(q *sql.Conn, filter keyFilter) error {
		rows, err := q.QueryContext(ctx, `SELECT country_code, party_id, id, country_code_as_sent, party_id_as_sent, id_as_sent,
				total_cost_excl_vat, total_cost_incl_vat
			FROM cdrs WHERE `+filter("cdr_key")+` ORDER BY cdr_key`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var cc, pid, id string
			var ccSent, pidSent, idSent sql.NullString
			var excl, incl nullDecimal
			if err := rows.Scan(&cc, &pid, &id, &ccSent, &pidSent, &idSent, &excl, &incl); err != nil {
				rows.Close()
				return err
			}
			c := &ocpi.CDR{CountryCode: orKey(ccSent, cc), PartyID: orKey(pidSent, pid), ID: orKey(idSent, id)}
			if excl.Valid {
				c.TotalCost = &ocpi.Price{ExclVAT: excl.Decimal, InclVAT: incl.NullDecimal}
			}
			out = append(out, c)
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	return out, errorf("credited cdrs", ocpi.PartyKey(countryCode, partyID), err)
}

// keysByID returns the keys of an owner's CDRs by id (case-insensitive),
// in key order.
func (s *Store) keysByID(ctx context.Context, countryCode, partyID string, ids []string) ([]int64, error) {
	var keys []int64
	for from := 0; from < len(ids); from += 5000 {
		chunk := ids[from:min(from+5000, len(ids))]
		ph := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
		args := []any{ocpi.Key(countryCode), ocpi.Key(partyID)}
		for _, id := range chunk {
			args = append(args, ocpi.Key(id))
		}
		ks, err := s.int64s(ctx, `SELECT cdr_key FROM cdrs WHERE country_code = ? AND party_id = ? AND id IN (`+ph+`)`, args...)
		if err != nil {
			return nil, errorf("cdrs by id", ocpi.PartyKey(countryCode, partyID), err)
		}
		keys = append(keys, ks...)
	}
	slices.Sort(keys)
	return keys, nil
}

func (s *Store) cdrsWithProblems(ctx context.Context, keys []int64) ([]*ocpi.CDR, map[string]ocpi.Problems, error) {
	var byKey map[int64]*ocpi.CDR
	probs := map[string]ocpi.Problems{}
	err := s.withKeys(ctx, keys, func(q *sql.Conn, filter keyFilter) (err error) {
		if byKey, err = loadWholeCDRs(ctx, q, filter, len(keys)); err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx, `SELECT object_key, coalesce(path, ''), rule, coalesce(message, ''), blocking
			FROM findings WHERE kind = 'cdr' AND `+filter("object_key")+` ORDER BY object_key, path, rule`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k int64
			var p ocpi.Problem
			if err := rows.Scan(&k, &p.Path, &p.Rule, &p.Message, &p.Blocking); err != nil {
				rows.Close()
				return err
			}
			if c := byKey[k]; c != nil {
				id := reconcile.IdentityKey(c.CountryCode, c.PartyID, c.ID)
				probs[id] = append(probs[id], p)
			}
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	if err != nil {
		return nil, nil, errorf("load cdrs", "", err)
	}
	out := make([]*ocpi.CDR, 0, len(keys))
	for _, k := range keys {
		if c := byKey[k]; c != nil {
			out = append(out, c)
		}
	}
	return out, probs, nil
}

func (s *Store) int64s(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ReceivedAgain counts, per CDR identity (reconcile.IdentityKey) of the
// owner, the same CDR received again (receipts of its exact bytes from
// other places: another push, another position of a file; importing the
// same file twice is not the partner's duplicate) and the different bodies
// under its id that were refused (conflicts).
func (s *Store) ReceivedAgain(ctx context.Context, countryCode, partyID string) (duplicates, conflicts map[string]int, err error) {
	owner := settle.NewParty(countryCode, partyID)
	dups, confs, err := s.ReceivedAgainOf(ctx, []settle.Party{owner})
	if err != nil {
		return nil, nil, err
	}
	return dups[owner], confs[owner], nil
}

// ReceivedAgainOf is ReceivedAgain for several owners at once, by owner
// (every owner asked for has its maps): one join of the CDRs with the
// receipts instead of one per owner (settle.ReceivedAgainOwners).
func (s *Store) ReceivedAgainOf(ctx context.Context, owners []settle.Party) (duplicates, conflicts map[settle.Party]map[string]int, err error) {
	duplicates, conflicts = map[settle.Party]map[string]int{}, map[settle.Party]map[string]int{}
	var list []string
	var args []any
	for _, o := range owners {
		cc, pid := ocpi.Key(o.CountryCode), ocpi.Key(o.PartyID)
		p := settle.NewParty(cc, pid)
		duplicates[o], conflicts[o] = map[string]int{}, map[string]int{}
		if o != p {
			duplicates[p], conflicts[p] = duplicates[o], conflicts[o]
		}
		list = append(list, "(?, ?)")
		args = append(args, cc, pid)
	}
	if len(owners) == 0 {
		return duplicates, conflicts, nil
	}
	in := `(` + strings.Join(list, ", ") + `)`
	count := func(q string, into map[settle.Party]map[string]int) error {
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var cc, pid, id string
			var n int
			if err := rows.Scan(&cc, &pid, &id, &n); err != nil {
				return err
			}
			into[settle.NewParty(cc, pid)][reconcile.IdentityKey(cc, pid, id)] = n
		}
		return rows.Err()
	}
	who := fmt.Sprintf("%d owners", len(owners))
	// The owners' payloads received more than once first (their repeated
	// receipts, marked at ingest: grouping every receipt of the database
	// by hash cost 5 CPU-s for 10 M), then their distinct places: a CDR is
	// stored once per identity, with its one payload (doc.go), so its
	// places are its payload's.
	if err := count(`WITH mine AS (SELECT country_code, party_id, id, raw_sha256 FROM cdrs WHERE (country_code, party_id) IN `+in+`),
		several AS (SELECT DISTINCT sha256 FROM receipts WHERE repeated),
		places AS (SELECT sha256, count(DISTINCT (channel, coalesce(source_name, ''), position)) AS n
			FROM receipts WHERE sha256 IN (SELECT sha256 FROM several) GROUP BY sha256 HAVING n > 1)
		SELECT m.country_code, m.party_id, m.id, p.n - 1
		FROM mine m JOIN places p ON p.sha256 = m.raw_sha256`, duplicates); err != nil {
		return nil, nil, errorf("duplicate receipts", who, err)
	}
	if err := count(`SELECT country_code, party_id, id, count(DISTINCT refused_sha256) FROM conflicts
		WHERE kind = 'cdr' AND (country_code, party_id) IN `+in+` GROUP BY ALL`, conflicts); err != nil {
		return nil, nil, errorf("conflicts", who, err)
	}
	return duplicates, conflicts, nil
}

// ReconcileInput loads what reconciling the selection's owner's period
// reads from the store: the period's CDRs and their decoder findings, the
// owner's tariff versions, locations (zones, connector tariffs, published
// EVSEs), duplicate receipts and conflicts, and the CDRs its credit CDRs
// reference. The caller adds the policy, tolerance, tokens and invoices.
func (s *Store) ReconcileInput(ctx context.Context, sel *settle.Selection) (*reconcile.Input, error) {
	owner := sel.Owner
	if owner.IsZero() {
		return nil, errorf("reconcile input", "", errors.New("reconcile needs one partner"))
	}
	in := &reconcile.Input{Versions: map[string][]ocpi.Tariff{}}
	var err error
	if in.CDRs, in.Problems, err = s.ReconcileCDRs(ctx, sel); err != nil {
		return nil, err
	}
	if err := s.ReconcileOwner(ctx, owner, in); err != nil {
		return nil, err
	}
	dups, conflicts, err := s.ReceivedAgain(ctx, owner.CountryCode, owner.PartyID)
	if err != nil {
		return nil, err
	}
	stored := &reconcile.MemoryStored{Duplicates: dups, Conflicts: conflicts, CDRs: map[string]*ocpi.CDR{}}
	var refs []string
	for _, c := range in.CDRs {
		stored.CDRs[reconcile.IdentityKey(c.CountryCode, c.PartyID, c.ID)] = c
		if c.Credit && c.CreditReferenceID != "" {
			refs = append(refs, c.CreditReferenceID)
		}
	}
	credited, _, err := s.CDRsByID(ctx, owner.CountryCode, owner.PartyID, refs)
	if err != nil {
		return nil, err
	}
	for _, c := range credited {
		stored.CDRs[reconcile.IdentityKey(c.CountryCode, c.PartyID, c.ID)] = c
	}
	in.Stored = stored
	return in, nil
}

// ReconcileOwner fills what an owner's CDRs are priced and checked with:
// its tariff versions, its locations (zones, connector tariffs, published
// EVSEs).
func (s *Store) ReconcileOwner(ctx context.Context, owner settle.Party, in *reconcile.Input) error {
	if in.Versions == nil {
		in.Versions = map[string][]ocpi.Tariff{}
	}
	ts, err := s.PublishedTariffs(ctx, owner.CountryCode, owner.PartyID)
	if err != nil {
		return err
	}
	type version struct {
		id string
		at int64
	}
	blocked := map[version]string{}
	for _, t := range ts {
		k := ocpi.Key(t.ID)
		in.Versions[k] = append(in.Versions[k], t.Tariff)
		if t.Blocking != "" {
			blocked[version{k, t.LastUpdated.UnixNano()}] = t.Blocking
		}
	}
	in.Blocked = func(t *ocpi.Tariff) string { return blocked[version{ocpi.Key(t.ID), t.LastUpdated.UnixNano()}] }
	locs, err := s.LocationVersions(ctx, owner)
	if err != nil {
		return err
	}
	idx := newLocationIndex(locs)
	in.Locations, in.ConnectorTariffs = idx.published, idx.connectorTariffs
	in.Zones = pricing.ZoneChain{idx, pricing.CountryZones{}, pricing.DefaultCoordinateZones()}
	return nil
}

// locationIndex answers, from the owner's stored location versions, the
// version in effect at a session's start: its time zone (a
// pricing.ZoneResolver) and its connector's tariff ids.
type locationIndex struct {
	byID      map[string][]*settle.LocationVersion // upper id -> versions, oldest first
	published *reconcile.Locations
}

func newLocationIndex(vs []LocationVersion) *locationIndex {
	idx := &locationIndex{byID: map[string][]*settle.LocationVersion{}, published: reconcile.NewLocations()}
	for i := range vs {
		v := &vs[i]
		idx.byID[v.ID] = append(idx.byID[v.ID], v)
		var evses []string
		for k := range v.Connectors {
			evses = append(evses, k[0])
		}
		idx.published.Add(v.CountryCode, v.PartyID, v.ID, evses...)
	}
	return idx
}

func (x *locationIndex) at(c *ocpi.CDR) *settle.LocationVersion {
	vs := x.byID[ocpi.Key(c.Location.ID)]
	if len(vs) == 0 {
		return nil
	}
	best := vs[0]
	for _, v := range vs {
		if !v.LastUpdated.After(c.StartDateTime) {
			best = v
		}
	}
	return best
}

// ResolveZone implements pricing.ZoneResolver: the stored location's
// time_zone, else the CDR's own (2.1.1).
func (x *locationIndex) ResolveZone(c *ocpi.CDR) (pricing.ResolvedZone, bool) {
	tz := ""
	if v := x.at(c); v != nil {
		tz = v.TimeZone
	}
	return pricing.LocationZones(func(_, _, _ string) (string, bool) { return tz, tz != "" }).ResolveZone(c)
}

func (x *locationIndex) connectorTariffs(c *ocpi.CDR) []string {
	v := x.at(c)
	if v == nil {
		return nil
	}
	return v.Connectors[[2]string{ocpi.Key(c.Location.EVSEUID), ocpi.Key(c.Location.ConnectorID)}]
}
