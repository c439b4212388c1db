package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"
)

// Status is what the database holds, for `roamsettle status`. Its JSON is
// read by other tools (DESIGN: surfaces): extend it by adding fields, never
// by renaming or removing one. Counts are int64; times are RFC 3339 UTC and
// omitted when unknown.
type Status struct {
	Database      string          `json:"database"`
	SchemaVersion int             `json:"schema_version"`
	Totals        StatusTotals    `json:"totals"`
	Partners      []PartnerStatus `json:"partners"`
	// FindingsByRule, RejectsByRule (problems of rejected payloads) and
	// ConflictsByKind over all partners.
	FindingsByRule  map[string]RuleCount `json:"findings_by_rule"`
	RejectsByRule   map[string]int64     `json:"rejects_by_rule"`
	ConflictsByKind map[string]int64     `json:"conflicts_by_kind"`
}

// StatusTotals counts everything stored.
type StatusTotals struct {
	RawPayloads            int64      `json:"raw_payloads"`
	Receipts               int64      `json:"receipts"`
	CDRs                   int64      `json:"cdrs"`
	BlockedCDRs            int64      `json:"blocked_cdrs"` // with a finding that blocks pricing
	TariffVersions         int64      `json:"tariff_versions"`
	LocationVersions       int64      `json:"location_versions"`
	InvoiceReconciliations int64      `json:"invoice_reconciliation_versions"`
	Rejected               int64      `json:"rejected"` // payloads kept only as rejects
	Conflicts              int64      `json:"conflicts"`
	Findings               int64      `json:"findings"`
	LastReceivedAt         *time.Time `json:"last_received_at,omitempty"`
}

// RuleCount counts the findings of one rule and how many of them block
// pricing.
type RuleCount struct {
	Count    int64 `json:"count"`
	Blocking int64 `json:"blocking"`
}

// PartnerStatus is one party: the owner of stored objects, a sender of
// payloads, or a registered connection.
type PartnerStatus struct {
	Party string `json:"party"` // CC-PID
	// LastReceivedAt is the latest receipt from or for the party: its own
	// payloads, or objects it owns imported without --partner.
	LastReceivedAt *time.Time `json:"last_received_at,omitempty"`
	// Connection is the registered partner, when there is one.
	Connection             *ConnectionStatus    `json:"connection,omitempty"`
	CDRs                   CDRStatus            `json:"cdrs"`
	Tariffs                VersionedStatus      `json:"tariffs"`
	Locations              VersionedStatus      `json:"locations"`
	InvoiceReconciliations VersionedStatus      `json:"invoice_reconciliations"`
	Receipts               ReceiptStatus        `json:"receipts"`
	Rejected               int64                `json:"rejected"`
	Conflicts              int64                `json:"conflicts"`
	FindingsByRule         map[string]RuleCount `json:"findings_by_rule"`
	Pulls                  []PullStatus         `json:"pulls"`
}

// CDRStatus counts a party's CDRs.
type CDRStatus struct {
	Count          int64      `json:"count"`
	Blocked        int64      `json:"blocked"`
	FirstEnd       *time.Time `json:"first_end,omitempty"` // earliest end_date_time
	LastEnd        *time.Time `json:"last_end,omitempty"`
	LastReceivedAt *time.Time `json:"last_received_at,omitempty"`
}

// VersionedStatus counts a party's tariffs, locations or invoice
// reconciliation records: distinct objects, their versions, withdrawals.
type VersionedStatus struct {
	Objects        int64      `json:"objects"`
	Versions       int64      `json:"versions"`
	Withdrawn      int64      `json:"withdrawn"` // objects with a withdrawal (tariffs, IRRs)
	LastReceivedAt *time.Time `json:"last_received_at,omitempty"`
}

// ReceiptStatus counts the payloads a party sent (or that were imported for
// it), by channel and outcome.
type ReceiptStatus struct {
	Count          int64            `json:"count"`
	ByChannel      map[string]int64 `json:"by_channel"`
	ByOutcome      map[string]int64 `json:"by_outcome"`
	LastReceivedAt *time.Time       `json:"last_received_at,omitempty"`
	LastChannel    string           `json:"last_channel,omitempty"`
}

// ConnectionStatus is a registered partner's connection.
type ConnectionStatus struct {
	Role         string     `json:"role"`
	Version      string     `json:"version,omitempty"`
	State        string     `json:"state"` // pending, registered, unregistered
	RegisteredAt *time.Time `json:"registered_at,omitempty"`
}

// PullStatus is the checkpoint of one module pulled from a partner.
type PullStatus struct {
	Module    string     `json:"module"`
	LastAt    time.Time  `json:"last_at"`
	Watermark *time.Time `json:"watermark,omitempty"` // everything up to it was pulled
	Pending   bool       `json:"pending"`             // a pull stopped mid-way and resumes
	Pages     int64      `json:"pages"`
}

// Status reports what the database holds.
func (s *Store) Status(ctx context.Context) (*Status, error) {
	st := &Status{Database: s.path, SchemaVersion: SchemaVersion(), FindingsByRule: map[string]RuleCount{},
		RejectsByRule: map[string]int64{}, ConflictsByKind: map[string]int64{}}
	parties := map[string]*PartnerStatus{}
	party := func(cc, pid string) *PartnerStatus {
		k := strings.ToUpper(cc) + "-" + strings.ToUpper(pid)
		if p, ok := parties[k]; ok {
			return p
		}
		p := &PartnerStatus{Party: k, FindingsByRule: map[string]RuleCount{}, Pulls: []PullStatus{},
			Receipts: ReceiptStatus{ByChannel: map[string]int64{}, ByOutcome: map[string]int64{}}}
		parties[k] = p
		return p
	}
	// sender splits a receipt's partner ("CC-PID", or "CC*PID" before the
	// spelling was unified).
	sender := func(s string) (string, string, bool) {
		cc, pid, ok := strings.Cut(strings.ReplaceAll(s, "*", "-"), "-")
		return cc, pid, ok && cc != "" && pid != ""
	}
	t := func(n sql.NullTime) *time.Time {
		if !n.Valid {
			return nil
		}
		v := n.Time.UTC()
		return &v
	}
	queries := []struct {
		sql  string
		scan func(rows *sql.Rows) error
	}{
		{`SELECT country_code, party_id, count(*), count(*) FILTER (WHERE blocking), min(end_date_time), max(end_date_time),
			max(received_at) FROM cdrs GROUP BY ALL`, func(rows *sql.Rows) error {
			var cc, pid string
			var c CDRStatus
			var first, last, recv sql.NullTime
			if err := rows.Scan(&cc, &pid, &c.Count, &c.Blocked, &first, &last, &recv); err != nil {
				return err
			}
			c.FirstEnd, c.LastEnd, c.LastReceivedAt = t(first), t(last), t(recv)
			party(cc, pid).CDRs = c
			return nil
		}},
		{versionedSQL("tariffs", "tariff_withdrawals"), func(rows *sql.Rows) error {
			return scanVersioned(rows, func(cc, pid string) *VersionedStatus { return &party(cc, pid).Tariffs }, t)
		}},
		{versionedSQL("locations", ""), func(rows *sql.Rows) error {
			return scanVersioned(rows, func(cc, pid string) *VersionedStatus { return &party(cc, pid).Locations }, t)
		}},
		{versionedSQL("invoice_reconciliations", "invoice_reconciliation_withdrawals"), func(rows *sql.Rows) error {
			return scanVersioned(rows, func(cc, pid string) *VersionedStatus { return &party(cc, pid).InvoiceReconciliations }, t)
		}},
		{`SELECT coalesce(partner, ''), channel, outcome, count(*), max(received_at) FROM receipts GROUP BY ALL`, func(rows *sql.Rows) error {
			var who, channel, outcome string
			var n int64
			var last sql.NullTime
			if err := rows.Scan(&who, &channel, &outcome, &n, &last); err != nil {
				return err
			}
			st.Totals.Receipts += n
			if outcome == "rejected" {
				st.Totals.Rejected += n
			}
			if at := t(last); at != nil && (st.Totals.LastReceivedAt == nil || at.After(*st.Totals.LastReceivedAt)) {
				st.Totals.LastReceivedAt = at
			}
			cc, pid, ok := sender(who)
			if !ok {
				return nil // files imported without --partner: totals only
			}
			p := party(cc, pid)
			p.Receipts.Count += n
			p.Receipts.ByChannel[channel] += n
			p.Receipts.ByOutcome[outcome] += n
			if outcome == "rejected" {
				p.Rejected += n
			}
			if at := t(last); at != nil && (p.Receipts.LastReceivedAt == nil || at.After(*p.Receipts.LastReceivedAt)) {
				p.Receipts.LastReceivedAt, p.Receipts.LastChannel = at, channel
			}
			return nil
		}},
		{`SELECT country_code, party_id, kind, count(*) FROM conflicts GROUP BY ALL`, func(rows *sql.Rows) error {
			var cc, pid, kind string
			var n int64
			if err := rows.Scan(&cc, &pid, &kind, &n); err != nil {
				return err
			}
			party(cc, pid).Conflicts += n
			st.ConflictsByKind[kind] += n
			st.Totals.Conflicts += n
			return nil
		}},
		{`SELECT country_code, party_id, rule, count(*), count(*) FILTER (WHERE blocking) FROM findings GROUP BY ALL`, func(rows *sql.Rows) error {
			var cc, pid, rule string
			var c RuleCount
			if err := rows.Scan(&cc, &pid, &rule, &c.Count, &c.Blocking); err != nil {
				return err
			}
			party(cc, pid).FindingsByRule[rule] = c
			all := st.FindingsByRule[rule]
			all.Count, all.Blocking = all.Count+c.Count, all.Blocking+c.Blocking
			st.FindingsByRule[rule] = all
			st.Totals.Findings += c.Count
			return nil
		}},
		{`SELECT rule, count(*) FROM rejects GROUP BY ALL`, func(rows *sql.Rows) error {
			var rule string
			var n int64
			if err := rows.Scan(&rule, &n); err != nil {
				return err
			}
			st.RejectsByRule[rule] = n
			return nil
		}},
		{`SELECT country_code, party_id, role, version, registered_at, unregistered_at FROM partners
			WHERE partner_id IN (SELECT max(partner_id) FROM partners GROUP BY country_code, party_id)`, func(rows *sql.Rows) error {
			var cc, pid, role string
			var version sql.NullString
			var reg, unreg sql.NullTime
			if err := rows.Scan(&cc, &pid, &role, &version, &reg, &unreg); err != nil {
				return err
			}
			c := &ConnectionStatus{Role: role, Version: version.String, State: "pending", RegisteredAt: t(reg)}
			switch {
			case unreg.Valid:
				c.State = "unregistered"
			case reg.Valid:
				c.State = "registered"
			}
			party(cc, pid).Connection = c
			return nil
		}},
		{`SELECT p.country_code, p.party_id, c.module, c.updated_at, c.watermark, c.next_url IS NOT NULL, c.pages
			FROM pull_checkpoints c JOIN partners p USING (partner_id) ORDER BY c.module`, func(rows *sql.Rows) error {
			var cc, pid string
			var ps PullStatus
			var wm sql.NullTime
			if err := rows.Scan(&cc, &pid, &ps.Module, &ps.LastAt, &wm, &ps.Pending, &ps.Pages); err != nil {
				return err
			}
			ps.LastAt, ps.Watermark = ps.LastAt.UTC(), t(wm)
			p := party(cc, pid)
			p.Pulls = append(p.Pulls, ps)
			return nil
		}},
		{`SELECT (SELECT count(*) FROM raw_payloads), (SELECT count(*) FROM cdrs), (SELECT count(*) FROM cdrs WHERE blocking),
			(SELECT count(*) FROM tariffs), (SELECT count(*) FROM locations), (SELECT count(*) FROM invoice_reconciliations)`,
			func(rows *sql.Rows) error {
				return rows.Scan(&st.Totals.RawPayloads, &st.Totals.CDRs, &st.Totals.BlockedCDRs, &st.Totals.TariffVersions,
					&st.Totals.LocationVersions, &st.Totals.InvoiceReconciliations)
			}},
	}
	for _, q := range queries {
		if err := each(ctx, s.db, q.sql, q.scan); err != nil {
			return nil, errorf("status", s.path, err)
		}
	}
	for _, p := range parties {
		for _, at := range []*time.Time{p.Receipts.LastReceivedAt, p.CDRs.LastReceivedAt, p.Tariffs.LastReceivedAt,
			p.Locations.LastReceivedAt, p.InvoiceReconciliations.LastReceivedAt} {
			if at != nil && (p.LastReceivedAt == nil || at.After(*p.LastReceivedAt)) {
				p.LastReceivedAt = at
			}
		}
		st.Partners = append(st.Partners, *p)
	}
	sort.Slice(st.Partners, func(i, j int) bool { return st.Partners[i].Party < st.Partners[j].Party })
	if st.Partners == nil {
		st.Partners = []PartnerStatus{}
	}
	return st, nil
}

// versionedSQL counts a versioned table per party: distinct ids, versions,
// withdrawn ids and the last receipt.
func versionedSQL(table, withdrawals string) string {
	w := `SELECT NULL::VARCHAR AS country_code, NULL::VARCHAR AS party_id, 0 AS n`
	if withdrawals != "" {
		w = `SELECT country_code, party_id, count(DISTINCT id) AS n FROM ` + withdrawals + ` GROUP BY ALL`
	}
	return `SELECT v.country_code, v.party_id, count(DISTINCT v.id), count(*), coalesce(any_value(w.n), 0), max(v.received_at)
		FROM ` + table + ` v LEFT JOIN (` + w + `) w ON w.country_code = v.country_code AND w.party_id = v.party_id
		GROUP BY v.country_code, v.party_id`
}

func scanVersioned(rows *sql.Rows, into func(cc, pid string) *VersionedStatus, t func(sql.NullTime) *time.Time) error {
	var cc, pid string
	var v VersionedStatus
	var last sql.NullTime
	if err := rows.Scan(&cc, &pid, &v.Objects, &v.Versions, &v.Withdrawn, &last); err != nil {
		return err
	}
	v.LastReceivedAt = t(last)
	*into(cc, pid) = v
	return nil
}

func each(ctx context.Context, db *sql.DB, query string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			rows.Close()
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}
