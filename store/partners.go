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

// Partner connections (the OCPI credentials module's state) and pull
// checkpoints. These tables are small and written rarely, so they go through
// plain SQL, not the bulk Save path.

// ErrPartnerExists: an active partner already has that party and role.
var ErrPartnerExists = errors.New("partner already registered")

const partnerColumns = `partner_id, country_code, party_id, role, name, versions_url, version,
	token_a_sha256, token_c_sha256, token_b_sha256, token_b_sealed, auth_mode, endpoints, roles,
	created_at, registered_at, unregistered_at, hub_clients, hub_clients_at`

// AddPartner records a new partner connection and returns it with its id.
// An active (not unregistered) partner with the same party and role is
// ErrPartnerExists.
func (s *Store) AddPartner(ctx context.Context, c ocpi.Connection) (ocpi.Connection, error) {
	c.CountryCode, c.PartyID = ocpi.Key(c.CountryCode), ocpi.Key(c.PartyID)
	object := c.Party() + " " + c.Role
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM partners
		WHERE country_code = ? AND party_id = ? AND role = ? AND unregistered_at IS NULL`,
		c.CountryCode, c.PartyID, c.Role).Scan(&n); err != nil {
		return c, errorf("add partner", object, err)
	}
	if n > 0 {
		return c, errorf("add partner", object, ErrPartnerExists)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC()
	}
	args, err := partnerArgs(&c)
	if err != nil {
		return c, errorf("add partner", object, err)
	}
	err = s.db.QueryRowContext(ctx, `INSERT INTO partners (country_code, party_id, role, name, versions_url, version,
		token_a_sha256, token_c_sha256, token_b_sha256, token_b_sealed, auth_mode, endpoints, roles,
		created_at, registered_at, unregistered_at, hub_clients, hub_clients_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING partner_id`, args...).Scan(&c.ID)
	return c, errorf("add partner", object, err)
}

// UpdatePartner writes every field of a stored partner (found by ID).
func (s *Store) UpdatePartner(ctx context.Context, c ocpi.Connection) error {
	c.CountryCode, c.PartyID = ocpi.Key(c.CountryCode), ocpi.Key(c.PartyID)
	args, err := partnerArgs(&c)
	if err != nil {
		return errorf("update partner", c.Party(), err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE partners SET country_code = ?, party_id = ?, role = ?, name = ?,
		versions_url = ?, version = ?, token_a_sha256 = ?, token_c_sha256 = ?, token_b_sha256 = ?,
		token_b_sealed = ?, auth_mode = ?, endpoints = ?, roles = ?, created_at = ?, registered_at = ?,
		unregistered_at = ?, hub_clients = ?, hub_clients_at = ? WHERE partner_id = ?`, append(args, c.ID)...)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = ErrNotFound
		}
	}
	return errorf("update partner", c.Party(), err)
}

// Partners returns every partner, active or not, oldest first.
func (s *Store) Partners(ctx context.Context) ([]ocpi.Connection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+partnerColumns+` FROM partners ORDER BY partner_id`)
	if err != nil {
		return nil, errorf("partners", "", err)
	}
	defer rows.Close()
	var out []ocpi.Connection
	for rows.Next() {
		c, err := scanPartner(rows)
		if err != nil {
			return nil, errorf("partners", "", err)
		}
		out = append(out, c)
	}
	return out, errorf("partners", "", rows.Err())
}

// Partner returns the active partner of a party (any role when role is
// empty; the most recent if several), or ErrNotFound.
func (s *Store) Partner(ctx context.Context, countryCode, partyID, role string) (ocpi.Connection, error) {
	object := ocpi.PartyKey(countryCode, partyID)
	row := s.db.QueryRowContext(ctx, `SELECT `+partnerColumns+` FROM partners
		WHERE country_code = ? AND party_id = ? AND (? = '' OR role = ?) AND unregistered_at IS NULL
		ORDER BY partner_id DESC LIMIT 1`, ocpi.Key(countryCode), ocpi.Key(partyID), role, role)
	c, err := scanPartner(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return c, errorf("partner", object, err)
}

// RemovePartner unregisters the active partners of a party (every role when
// role is empty): their token digests are cleared so no token works any
// more. The rows stay for the record. Removing nothing is ErrNotFound.
func (s *Store) RemovePartner(ctx context.Context, countryCode, partyID, role string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE partners SET unregistered_at = ?, token_a_sha256 = NULL,
		token_c_sha256 = NULL, token_b_sha256 = NULL, token_b_sealed = NULL
		WHERE country_code = ? AND party_id = ? AND (? = '' OR role = ?) AND unregistered_at IS NULL`,
		at.UTC(), ocpi.Key(countryCode), ocpi.Key(partyID), role, role)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = ErrNotFound
		}
	}
	return errorf("remove partner", ocpi.PartyKey(countryCode, partyID), err)
}

func partnerArgs(c *ocpi.Connection) ([]any, error) {
	endpoints, err := json.Marshal(c.Endpoints)
	if err != nil {
		return nil, err
	}
	roles, err := json.Marshal(c.Roles)
	if err != nil {
		return nil, err
	}
	mode := c.AuthMode
	if mode == "" {
		mode = ocpi.AuthAuto
	}
	clients, clientsAt, err := hubClientArgs(c.HubClients, c.HubClientsAt)
	if err != nil {
		return nil, err
	}
	return []any{c.CountryCode, c.PartyID, c.Role, nullString(c.Name), nullString(c.VersionsURL),
		nullString(string(c.Version)), digest(c.TokenA), digest(c.TokenC), digest(c.TokenB), nilIfEmpty(c.TokenBSealed),
		string(mode), string(endpoints), string(roles), c.CreatedAt.UTC(), timeOrNil(c.RegisteredAt),
		timeOrNil(c.UnregisteredAt), clients, clientsAt}, nil
}

func hubClientArgs(list []ocpi.ClientInfo, at time.Time) (any, any, error) {
	if list == nil && at.IsZero() {
		return nil, nil, nil
	}
	if list == nil {
		list = []ocpi.ClientInfo{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, nil, err
	}
	var when any
	if !at.IsZero() {
		when = at.UTC()
	}
	return string(b), when, nil
}

// SaveHubClients replaces the list of parties a hub fronts (its
// hubclientinfo), as read or pushed at at.
func (s *Store) SaveHubClients(ctx context.Context, partnerID int64, clients []ocpi.ClientInfo, at time.Time) error {
	object := fmt.Sprintf("partner %d", partnerID)
	list, when, err := hubClientArgs(clients, at)
	if err != nil {
		return errorf("save hub clients", object, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE partners SET hub_clients = ?, hub_clients_at = ? WHERE partner_id = ?`, list, when, partnerID)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = ErrNotFound
		}
	}
	return errorf("save hub clients", object, err)
}

type scanner interface{ Scan(dest ...any) error }

func scanPartner(row scanner) (ocpi.Connection, error) {
	var c ocpi.Connection
	var name, url, version, endpoints, roles, clients sql.NullString
	var tokA, tokC, tokB, sealed []byte
	var mode string
	var reg, unreg, clientsAt sql.NullTime
	if err := row.Scan(&c.ID, &c.CountryCode, &c.PartyID, &c.Role, &name, &url, &version, &tokA, &tokC, &tokB,
		&sealed, &mode, &endpoints, &roles, &c.CreatedAt, &reg, &unreg, &clients, &clientsAt); err != nil {
		return c, err
	}
	c.HubClientsAt = utc(clientsAt)
	if clients.Valid && clients.String != "" {
		if err := json.Unmarshal([]byte(clients.String), &c.HubClients); err != nil {
			return c, fmt.Errorf("partner %d hub clients: %w", c.ID, err)
		}
	}
	c.Name, c.VersionsURL, c.Version, c.AuthMode = name.String, url.String, ocpi.Version(version.String), ocpi.AuthMode(mode)
	copy(c.TokenA[:], tokA)
	copy(c.TokenC[:], tokC)
	copy(c.TokenB[:], tokB)
	if len(sealed) > 0 {
		c.TokenBSealed = append([]byte(nil), sealed...)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	if reg.Valid {
		t := reg.Time.UTC()
		c.RegisteredAt = &t
	}
	if unreg.Valid {
		t := unreg.Time.UTC()
		c.UnregisteredAt = &t
	}
	if endpoints.Valid && endpoints.String != "" {
		if err := json.Unmarshal([]byte(endpoints.String), &c.Endpoints); err != nil {
			return c, fmt.Errorf("partner %d endpoints: %w", c.ID, err)
		}
	}
	if roles.Valid && roles.String != "" {
		if err := json.Unmarshal([]byte(roles.String), &c.Roles); err != nil {
			return c, fmt.Errorf("partner %d roles: %w", c.ID, err)
		}
	}
	return c, nil
}

func digest(d [32]byte) any {
	if d == ([32]byte{}) {
		return nil
	}
	return d[:]
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// Checkpoint is where a pull of one module from one partner stands.
type Checkpoint struct {
	// Watermark is the date_to of the last completed window: the next pull
	// asks from there. Zero when nothing was completed yet.
	Watermark time.Time
	// NextURL is the Link of the next page of an unfinished crawl, taken
	// verbatim; empty when no crawl is under way.
	NextURL string
	// WindowTo is the date_to of the window being crawled.
	WindowTo time.Time
	// Pages counts the pages stored over all pulls.
	Pages int64
}

// Checkpoint returns the pull checkpoint of a partner's module (the zero
// Checkpoint when none was saved).
func (s *Store) Checkpoint(ctx context.Context, partnerID int64, module string) (Checkpoint, error) {
	var cp Checkpoint
	var wm, wt sql.NullTime
	var next sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT watermark, next_url, window_to, pages FROM pull_checkpoints
		WHERE partner_id = ? AND module = ?`, partnerID, module).Scan(&wm, &next, &wt, &cp.Pages)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, nil
	}
	cp.Watermark, cp.NextURL, cp.WindowTo = utc(wm), next.String, utc(wt)
	return cp, errorf("checkpoint", fmt.Sprintf("partner %d %s", partnerID, module), err)
}

// SaveCheckpoint replaces the pull checkpoint of a partner's module.
func (s *Store) SaveCheckpoint(ctx context.Context, partnerID int64, module string, cp Checkpoint) error {
	var wm, wt any
	if !cp.Watermark.IsZero() {
		wm = cp.Watermark.UTC()
	}
	if !cp.WindowTo.IsZero() {
		wt = cp.WindowTo.UTC()
	}
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO pull_checkpoints
		(partner_id, module, watermark, next_url, window_to, pages, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		partnerID, module, wm, nullString(cp.NextURL), wt, cp.Pages, time.Now().UTC())
	return errorf("save checkpoint", fmt.Sprintf("partner %d %s", partnerID, module), err)
}

// LatestTariffRaw returns the raw payload of the newest stored version of a
// published tariff (the base a 2.1.1 PATCH applies to), or ErrNotFound.
func (s *Store) LatestTariffRaw(ctx context.Context, countryCode, partyID, id string) ([]byte, error) {
	object := ocpi.PartyKey(countryCode, partyID) + "*" + ocpi.Key(id)
	var seg int
	var off, size int64
	err := s.db.QueryRowContext(ctx, `SELECT r.segment, r.byte_offset, r.size FROM tariffs t
		JOIN raw_payloads r ON r.sha256 = t.raw_sha256
		WHERE t.country_code = ? AND t.party_id = ? AND t.id = ?
		ORDER BY t.last_updated DESC, t.received_at DESC LIMIT 1`,
		ocpi.Key(countryCode), ocpi.Key(partyID), ocpi.Key(id)).Scan(&seg, &off, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errorf("latest tariff", object, ErrNotFound)
	}
	if err != nil {
		return nil, errorf("latest tariff", object, err)
	}
	raw, err := s.raw.read(seg, off, size)
	return raw, errorf("latest tariff", object, err)
}
