package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Counts summarises what is stored.
type Counts struct {
	RawPayloads    int64 // distinct payloads
	Receipts       int64 // payloads received, duplicates included
	CDRs           int64
	Periods        int64
	Dimensions     int64
	TariffVersions int64
	Locations      int64 // location versions
	Invoices       int64 // invoice reconciliation record versions
	Conflicts      int64
	RejectsByRule  map[ocpi.Rule]int64 // one per problem of a rejected payload
	FindingsByRule map[ocpi.Rule]int64
}

// Counts returns the row counts used by summaries.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	c := Counts{RejectsByRule: map[ocpi.Rule]int64{}, FindingsByRule: map[ocpi.Rule]int64{}}
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM raw_payloads), (SELECT count(*) FROM receipts),
		(SELECT count(*) FROM cdrs), (SELECT count(*) FROM charging_periods),
		(SELECT count(*) FROM cdr_dimensions), (SELECT count(*) FROM tariffs),
		(SELECT count(*) FROM locations), (SELECT count(*) FROM invoice_reconciliations),
		(SELECT count(*) FROM conflicts)`).Scan(&c.RawPayloads, &c.Receipts, &c.CDRs, &c.Periods,
		&c.Dimensions, &c.TariffVersions, &c.Locations, &c.Invoices, &c.Conflicts)
	if err != nil {
		return c, errorf("counts", "", err)
	}
	for table, m := range map[string]map[ocpi.Rule]int64{"rejects": c.RejectsByRule, "findings": c.FindingsByRule} {
		rows, err := s.db.QueryContext(ctx, `SELECT rule, count(*) FROM `+table+` GROUP BY rule`)
		if err != nil {
			return c, errorf("counts", table, err)
		}
		for rows.Next() {
			var rule string
			var n int64
			if err := rows.Scan(&rule, &n); err != nil {
				rows.Close()
				return c, errorf("counts", table, err)
			}
			m[ocpi.Rule(rule)] = n
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return c, errorf("counts", table, err)
		}
	}
	return c, nil
}

// Reject is one problem of a payload that was not stored as an object.
type Reject struct {
	RawSHA256  [32]byte
	Raw        []byte
	Source     ocpi.Source
	ReceivedAt time.Time
	Kind       ocpi.Kind
	Version    ocpi.Version
	Problem    ocpi.Problem
}

// Rejects returns up to limit rejects, the most recent first, with their raw
// payloads.
func (s *Store) Rejects(ctx context.Context, limit int) ([]Reject, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.raw_sha256, p.segment, p.byte_offset, p.size, r.channel, r.source_name, r.partner,
			r.position, r.received_at, r.kind, r.version, r.path, r.rule, r.message, coalesce(r.blocking, false)
		FROM rejects r JOIN raw_payloads p ON p.sha256 = r.raw_sha256
		ORDER BY r.received_at DESC, r.source_name, r.position, r.rule, r.path LIMIT ?`, limit)
	if err != nil {
		return nil, errorf("rejects", "", err)
	}
	defer rows.Close()
	var out []Reject
	for rows.Next() {
		var r Reject
		var sha []byte
		var seg int
		var off, size int64
		var channel, rule string
		var name, partner, kind, version, path, message sql.NullString
		var blocking bool
		if err := rows.Scan(&sha, &seg, &off, &size, &channel, &name, &partner, &r.Source.Position, &r.ReceivedAt,
			&kind, &version, &path, &rule, &message, &blocking); err != nil {
			return nil, errorf("rejects", "", err)
		}
		r.RawSHA256 = [32]byte(sha)
		if r.Raw, err = s.raw.read(seg, off, size); err != nil {
			return nil, errorf("rejects", "", err)
		}
		r.Source.Channel, r.Source.Name, r.Source.Partner = ocpi.Channel(channel), name.String, partner.String
		r.Kind, r.Version = ocpi.Kind(kind.String), ocpi.Version(version.String)
		r.Problem = ocpi.Problem{Path: path.String, Rule: ocpi.Rule(rule), Message: message.String, Blocking: blocking}
		out = append(out, r)
	}
	return out, errorf("rejects", "", rows.Err())
}

// CDR returns a stored CDR by its identity (case-insensitive) with the raw
// payload it was accepted from. A CDR not stored gives an error matching
// ErrNotFound.
//
// Values come back as stored: decimals with 6 places (4.40 reads 4.400000,
// equal by value), times in UTC with microseconds.
func (s *Store) CDR(ctx context.Context, countryCode, partyID, id string) (*ocpi.CDR, []byte, error) {
	object := ocpi.PartyKey(countryCode, partyID) + "*" + ocpi.Key(id)
	c, key, raw, err := s.loadCDR(ctx, ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id))
	if err != nil {
		return nil, nil, errorf("cdr", object, err)
	}
	if err := s.loadPeriods(ctx, key, c); err != nil {
		return nil, nil, errorf("cdr", object, err)
	}
	tariffs, err := s.loadTariffs(ctx, `SELECT tariff_key FROM cdr_tariffs WHERE cdr_key = ? ORDER BY position`, key)
	if err != nil {
		return nil, nil, errorf("cdr", object, err)
	}
	c.Tariffs = tariffs
	return c, raw, nil
}

func (s *Store) loadCDR(ctx context.Context, cc, pid, id string) (*ocpi.CDR, int64, []byte, error) {
	var c ocpi.CDR
	var key int64
	var seg int
	var off, size int64
	var version string
	var ccSent, pidSent, idSent sql.NullString
	var start, end, lastUpdated sql.NullTime
	str := make([]sql.NullString, 30)
	var tariffIDs stringList
	dec := make([]nullDecimal, 15)
	var taxes sql.NullString
	dests := []any{&key, &ccSent, &pidSent, &idSent, &version, &seg, &off, &size, &start, &end}
	for i := range str {
		dests = append(dests, &str[i])
	}
	dests = append(dests, &tariffIDs)
	for i := range dec {
		dests = append(dests, &dec[i])
	}
	dests = append(dests, &taxes, &c.Credit, &c.HomeChargingCompensation, &lastUpdated)
	err := s.db.QueryRowContext(ctx, `SELECT c.cdr_key, c.country_code_as_sent, c.party_id_as_sent, c.id_as_sent,
			c.version, p.segment, p.byte_offset, p.size, c.start_date_time, c.end_date_time,
			c.session_id, c.token_country_code, c.token_party_id, c.token_uid, c.token_type, c.token_contract_id,
			c.auth_method, c.authorization_reference,
			c.location_id, c.location_name, c.location_address, c.location_city, c.location_postal_code,
			c.location_state, c.location_country, c.location_latitude, c.location_longitude,
			c.evse_uid, c.evse_id, c.connector_id, c.connector_standard, c.connector_format,
			c.connector_power_type, c.location_time_zone,
			c.meter_id, c.currency, c.signed_data, c.remark, c.invoice_reference_id, c.credit_reference_id,
			c.location_tariff_ids,
			c.total_cost_excl_vat, c.total_cost_incl_vat, c.total_fixed_cost_excl_vat, c.total_fixed_cost_incl_vat,
			c.total_energy, c.total_energy_cost_excl_vat, c.total_energy_cost_incl_vat,
			c.total_time, c.total_time_cost_excl_vat, c.total_time_cost_incl_vat,
			c.total_parking_time, c.total_parking_cost_excl_vat, c.total_parking_cost_incl_vat,
			c.total_reservation_cost_excl_vat, c.total_reservation_cost_incl_vat,
			c.taxes, c.credit, c.home_charging_compensation, c.last_updated
		FROM cdrs c JOIN raw_payloads p ON p.sha256 = c.raw_sha256
		WHERE c.country_code = ? AND c.party_id = ? AND c.id = ?`, cc, pid, id).Scan(dests...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil, ErrNotFound
	}
	if err != nil {
		return nil, 0, nil, err
	}
	raw, err := s.raw.read(seg, off, size)
	if err != nil {
		return nil, 0, nil, err
	}
	c.Version = ocpi.Version(version)
	c.CountryCode, c.PartyID, c.ID = orKey(ccSent, cc), orKey(pidSent, pid), orKey(idSent, id)
	c.StartDateTime, c.EndDateTime, c.LastUpdated = utc(start), utc(end), utc(lastUpdated)
	l := &c.Location
	for i, p := range []*string{&c.SessionID, &c.Token.CountryCode, &c.Token.PartyID, &c.Token.UID, &c.Token.Type,
		&c.Token.ContractID, &c.AuthMethod, &c.AuthorizationReference,
		&l.ID, &l.Name, &l.Address, &l.City, &l.PostalCode, &l.State, &l.Country, &l.Coordinates.Latitude,
		&l.Coordinates.Longitude, &l.EVSEUID, &l.EVSEID, &l.ConnectorID, &l.ConnectorStandard, &l.ConnectorFormat,
		&l.ConnectorPowerType, &l.TimeZone, &c.MeterID, &c.Currency, nil, &c.Remark, &c.InvoiceReferenceID,
		&c.CreditReferenceID} {
		if p != nil {
			*p = str[i].String
		}
	}
	if str[26].Valid {
		c.SignedData = json.RawMessage(str[26].String)
	}
	l.TariffIDs = tariffIDs
	var taxLines map[string][]taxJSON
	if taxes.Valid {
		if err := json.Unmarshal([]byte(taxes.String), &taxLines); err != nil {
			return nil, 0, nil, fmt.Errorf("taxes: %w", err)
		}
	}
	price := func(name string, excl, incl nullDecimal) *ocpi.Price {
		if !excl.Valid {
			return nil
		}
		p := &ocpi.Price{ExclVAT: excl.Decimal, InclVAT: incl.NullDecimal}
		for _, t := range taxLines[name] {
			p.Taxes = append(p.Taxes, ocpi.TaxAmount(t))
		}
		return p
	}
	c.TotalCost = price("total_cost", dec[0], dec[1])
	c.TotalFixedCost = price("total_fixed_cost", dec[2], dec[3])
	c.TotalEnergy = dec[4].Decimal
	c.TotalEnergyCost = price("total_energy_cost", dec[5], dec[6])
	c.TotalTime = dec[7].Decimal
	c.TotalTimeCost = price("total_time_cost", dec[8], dec[9])
	c.TotalParkingTime = dec[10].NullDecimal
	c.TotalParkingCost = price("total_parking_cost", dec[11], dec[12])
	c.TotalReservationCost = price("total_reservation_cost", dec[13], dec[14])
	return &c, key, raw, nil
}

func orKey(asSent sql.NullString, key string) string {
	if asSent.Valid {
		return asSent.String
	}
	return key
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func (s *Store) loadPeriods(ctx context.Context, key int64, c *ocpi.CDR) error {
	rows, err := s.db.QueryContext(ctx, `SELECT period_index, start_date_time, tariff_id
		FROM charging_periods WHERE cdr_key = ? ORDER BY period_index`, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var start sql.NullTime
		var tariffID sql.NullString
		if err := rows.Scan(&idx, &start, &tariffID); err != nil {
			return err
		}
		c.ChargingPeriods = append(c.ChargingPeriods, ocpi.ChargingPeriod{StartDateTime: utc(start), TariffID: tariffID.String})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	dims, err := s.db.QueryContext(ctx, `SELECT period_index, type, volume FROM cdr_dimensions_named
		WHERE cdr_key = ? ORDER BY period_index, dimension_index`, key)
	if err != nil {
		return err
	}
	defer dims.Close()
	for dims.Next() {
		var idx int
		var typ string
		var vol nullDecimal
		if err := dims.Scan(&idx, &typ, &vol); err != nil {
			return err
		}
		if idx >= len(c.ChargingPeriods) {
			return fmt.Errorf("dimension of period %d without the period", idx)
		}
		p := &c.ChargingPeriods[idx]
		p.Dimensions = append(p.Dimensions, ocpi.CDRDimension{Type: typ, Volume: vol.Decimal})
	}
	return dims.Err()
}

// TariffVersions returns every stored version of a published tariff, oldest
// last_updated first; ErrNotFound when there is none. Withdrawn tariffs keep
// their versions (see WithdrawTariff).
func (s *Store) TariffVersions(ctx context.Context, countryCode, partyID, id string) ([]ocpi.Tariff, error) {
	object := ocpi.PartyKey(countryCode, partyID) + "*" + ocpi.Key(id)
	ts, err := s.loadTariffs(ctx, `SELECT tariff_key FROM tariffs
		WHERE country_code = ? AND party_id = ? AND id = ? ORDER BY last_updated`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id))
	if err == nil && len(ts) == 0 {
		err = ErrNotFound
	}
	return ts, errorf("tariff versions", object, err)
}

// WithdrawTariff records that the owner withdrew a tariff (an OCPI DELETE).
// No version is deleted: CDRs priced under it can still be re-priced.
func (s *Store) WithdrawTariff(ctx context.Context, countryCode, partyID, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tariff_withdrawals VALUES (?, ?, ?, ?)`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id), at.UTC())
	return errorf("withdraw tariff", ocpi.PartyKey(countryCode, partyID)+"*"+ocpi.Key(id), err)
}

// TariffWithdrawnAt returns when a tariff was withdrawn, if it was.
func (s *Store) TariffWithdrawnAt(ctx context.Context, countryCode, partyID, id string) (time.Time, bool, error) {
	var at sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT max(withdrawn_at) FROM tariff_withdrawals
		WHERE country_code = ? AND party_id = ? AND id = ?`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id)).Scan(&at)
	return utc(at), at.Valid, errorf("tariff withdrawn", ocpi.PartyKey(countryCode, partyID)+"*"+ocpi.Key(id), err)
}

// loadTariffs loads the tariff bodies whose keys the query selects, in its order.
func (s *Store) loadTariffs(ctx context.Context, keysQuery string, args ...any) ([]ocpi.Tariff, error) {
	ts, _, err := loadTariffsKeyed(ctx, s.db, keysQuery, args...)
	return ts, err
}

// loadTariffsKeyed is loadTariffs that also returns each tariff's key (a
// key the query selects that has no body is left out).
func loadTariffsKeyed(ctx context.Context, q querier, keysQuery string, args ...any) ([]ocpi.Tariff, []int64, error) {
	rows, err := q.QueryContext(ctx, `WITH k AS (SELECT tariff_key, row_number() OVER () AS ord FROM (`+keysQuery+`))
		SELECT k.tariff_key, b.version, b.country_code, b.party_id, b.id, b.currency, b.type, b.alt_text, b.alt_url,
			b.min_price_excl_vat, b.min_price_incl_vat, b.max_price_excl_vat, b.max_price_incl_vat,
			b.tax_included, b.start_date_time, b.end_date_time, b.energy_mix, b.last_updated
		FROM k JOIN tariff_bodies b USING (tariff_key) ORDER BY k.ord`, args...)
	if err != nil {
		return nil, nil, err
	}
	var out []ocpi.Tariff
	var keys []int64
	for rows.Next() {
		var t ocpi.Tariff
		var key int64
		var version string
		var cc, pid, id, currency, typ, altText, altURL, taxIncl, energyMix sql.NullString
		var minE, minI, maxE, maxI nullDecimal
		var start, end, lastUpdated sql.NullTime
		if err := rows.Scan(&key, &version, &cc, &pid, &id, &currency, &typ, &altText, &altURL,
			&minE, &minI, &maxE, &maxI, &taxIncl, &start, &end, &energyMix, &lastUpdated); err != nil {
			rows.Close()
			return nil, nil, err
		}
		t.Version = ocpi.Version(version)
		t.CountryCode, t.PartyID, t.ID, t.Currency, t.Type = cc.String, pid.String, id.String, currency.String, typ.String
		t.AltURL, t.TaxIncluded = altURL.String, taxIncl.String
		if altText.Valid {
			var dts []displayTextJSON
			if err := json.Unmarshal([]byte(altText.String), &dts); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("alt_text: %w", err)
			}
			t.AltText = make([]ocpi.DisplayText, len(dts))
			for i, d := range dts {
				t.AltText[i] = ocpi.DisplayText(d)
			}
		}
		if minE.Valid {
			t.MinPrice = &ocpi.PriceLimit{ExclVAT: minE.Decimal, InclVAT: minI.NullDecimal}
		}
		if maxE.Valid {
			t.MaxPrice = &ocpi.PriceLimit{ExclVAT: maxE.Decimal, InclVAT: maxI.NullDecimal}
		}
		if start.Valid {
			v := start.Time.UTC()
			t.StartDateTime = &v
		}
		if end.Valid {
			v := end.Time.UTC()
			t.EndDateTime = &v
		}
		if energyMix.Valid {
			t.EnergyMix = json.RawMessage(energyMix.String)
		}
		t.LastUpdated = utc(lastUpdated)
		out = append(out, t)
		keys = append(keys, key)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, nil, err
	}
	if err := loadElements(ctx, q, keys, out); err != nil {
		return nil, nil, err
	}
	return out, keys, nil
}

// loadElements fills the elements and price components of out[i], whose
// body is keys[i], with one query per table for every key (a query per
// tariff cost ~2 ms each: ~5 s for the ~900 versions of a database that
// has lived ten months). A key that appears twice gets its own copies.
func loadElements(ctx context.Context, q querier, keys []int64, out []ocpi.Tariff) error {
	at := map[int64][]int{}
	var distinct []int64
	for i, k := range keys {
		if at[k] == nil {
			distinct = append(distinct, k)
		}
		at[k] = append(at[k], i)
	}
	for from := 0; from < len(distinct); from += 20000 {
		in := keyList(distinct[from:min(from+20000, len(distinct))])
		if err := loadElementRows(ctx, q, in, at, out); err != nil {
			return err
		}
		if err := loadComponentRows(ctx, q, in, at, out); err != nil {
			return err
		}
	}
	return nil
}

func loadElementRows(ctx context.Context, q querier, in string, at map[int64][]int, out []ocpi.Tariff) error {
	rows, err := q.QueryContext(ctx, `SELECT tariff_key, has_restrictions, start_time, end_time, start_date, end_date,
			min_kwh, max_kwh, min_current, max_current, min_power, max_power, min_duration, max_duration,
			day_of_week, reservation
		FROM tariff_elements WHERE tariff_key IN (`+in+`) ORDER BY tariff_key, element_index`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key int64
		var has bool
		var st, et, sd, ed, res sql.NullString
		var minK, maxK, minC, maxC, minP, maxP nullDecimal
		var minD, maxD sql.NullInt64
		var days stringList
		if err := rows.Scan(&key, &has, &st, &et, &sd, &ed, &minK, &maxK, &minC, &maxC, &minP, &maxP,
			&minD, &maxD, &days, &res); err != nil {
			return err
		}
		for _, i := range at[key] {
			var e ocpi.TariffElement
			if has {
				r := &ocpi.TariffRestrictions{}
				r.StartTime, r.EndTime, r.StartDate, r.EndDate, r.Reservation = st.String, et.String, sd.String, ed.String, res.String
				r.MinKWh, r.MaxKWh = minK.NullDecimal, maxK.NullDecimal
				r.MinCurrent, r.MaxCurrent = minC.NullDecimal, maxC.NullDecimal
				r.MinPower, r.MaxPower = minP.NullDecimal, maxP.NullDecimal
				r.MinDuration, r.MaxDuration = optInt(minD), optInt(maxD)
				if days != nil {
					r.DayOfWeek = append([]string{}, days...)
				}
				e.Restrictions = r
			}
			out[i].Elements = append(out[i].Elements, e)
		}
	}
	return rows.Err()
}

func loadComponentRows(ctx context.Context, q querier, in string, at map[int64][]int, out []ocpi.Tariff) error {
	rows, err := q.QueryContext(ctx, `SELECT tariff_key, element_index, type, price, vat, step_size
		FROM tariff_components WHERE tariff_key IN (`+in+`) ORDER BY tariff_key, element_index, component_index`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key int64
		var idx int
		var pc ocpi.PriceComponent
		var price, vat nullDecimal
		if err := rows.Scan(&key, &idx, &pc.Type, &price, &vat, &pc.StepSize); err != nil {
			return err
		}
		pc.Price, pc.VAT = price.Decimal, vat.NullDecimal
		for _, i := range at[key] {
			t := &out[i]
			if idx >= len(t.Elements) {
				return fmt.Errorf("tariff component of element %d without the element", idx)
			}
			e := &t.Elements[idx]
			e.PriceComponents = append(e.PriceComponents, pc)
		}
	}
	return rows.Err()
}

func optInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

// LocationAt returns the version of a location in effect at the given time:
// the one with the latest last_updated not after at. When every stored
// version is newer (a location first pulled after the session), it returns
// the oldest; the caller can tell from LastUpdated.After(at). ErrNotFound
// when the location is not stored at all.
func (s *Store) LocationAt(ctx context.Context, countryCode, partyID, id string, at time.Time) (*ocpi.Location, error) {
	object := ocpi.PartyKey(countryCode, partyID) + "*" + ocpi.Key(id)
	l, err := s.locationAt(ctx, ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id), at)
	return l, errorf("location at", object, err)
}

func (s *Store) locationAt(ctx context.Context, cc, pid, id string, at time.Time) (*ocpi.Location, error) {
	var l ocpi.Location
	var key int64
	var version string
	var ccSent, pidSent, idSent, name, address, city, postal, state, country, lat, lon, tz sql.NullString
	var publish sql.NullBool
	var lastUpdated sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT location_key, version, country_code_as_sent, party_id_as_sent,
			id_as_sent, publish, name, address, city, postal_code, state, country, latitude, longitude,
			time_zone, last_updated
		FROM locations WHERE country_code = ? AND party_id = ? AND id = ?
		ORDER BY (last_updated <= ?) DESC, CASE WHEN last_updated <= ? THEN last_updated END DESC, last_updated
		LIMIT 1`, cc, pid, id, at, at).Scan(&key, &version, &ccSent, &pidSent, &idSent, &publish,
		&name, &address, &city, &postal, &state, &country, &lat, &lon, &tz, &lastUpdated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	l.Version = ocpi.Version(version)
	l.CountryCode, l.PartyID, l.ID = orKey(ccSent, cc), orKey(pidSent, pid), orKey(idSent, id)
	if publish.Valid {
		l.Publish = &publish.Bool
	}
	l.Name, l.Address, l.City, l.PostalCode, l.State, l.Country = name.String, address.String, city.String,
		postal.String, state.String, country.String
	l.Coordinates = ocpi.GeoLocation{Latitude: lat.String, Longitude: lon.String}
	l.TimeZone, l.LastUpdated = tz.String, utc(lastUpdated)

	rows, err := s.db.QueryContext(ctx, `SELECT uid, evse_id, status, last_updated FROM location_evses
		WHERE location_key = ? ORDER BY evse_index`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var uid, evseID, status sql.NullString
		var lu sql.NullTime
		if err := rows.Scan(&uid, &evseID, &status, &lu); err != nil {
			return nil, err
		}
		l.EVSEs = append(l.EVSEs, ocpi.EVSE{UID: uid.String, EVSEID: evseID.String, Status: status.String, LastUpdated: utc(lu)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	conns, err := s.db.QueryContext(ctx, `SELECT evse_index, id, standard, format, power_type, max_voltage,
			max_amperage, max_electric_power, tariff_ids, last_updated
		FROM location_connectors WHERE location_key = ? ORDER BY evse_index, connector_index`, key)
	if err != nil {
		return nil, err
	}
	defer conns.Close()
	for conns.Next() {
		var idx int
		var k ocpi.Connector
		var cid, std, format, power sql.NullString
		var maxPower sql.NullInt64
		var tariffIDs stringList
		var lu sql.NullTime
		if err := conns.Scan(&idx, &cid, &std, &format, &power, &k.MaxVoltage, &k.MaxAmperage, &maxPower,
			&tariffIDs, &lu); err != nil {
			return nil, err
		}
		if idx >= len(l.EVSEs) {
			return nil, fmt.Errorf("connector of EVSE %d without the EVSE", idx)
		}
		k.ID, k.Standard, k.Format, k.PowerType = cid.String, std.String, format.String, power.String
		k.MaxElectricPower, k.TariffIDs, k.LastUpdated = optInt(maxPower), tariffIDs, utc(lu)
		e := &l.EVSEs[idx]
		e.Connectors = append(e.Connectors, k)
	}
	return &l, conns.Err()
}
