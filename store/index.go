package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// indexes is Save's in-memory view of what is stored, loaded once on the first
// Save and kept up to date by Save itself (the only writer). Classifying a
// batch is then a map lookup per record instead of a join against the whole
// table; TestIndexesMatchDatabase checks a reopened store classifies alike.
//
// Memory: about 90 bytes per stored CDR and 60 per distinct raw payload
// (~150 MB for a million CDRs). The maps hold no pointers, so the garbage
// collector does not scan them.
type indexes struct {
	cdrs      map[identityKey]seen // by identity
	raws      map[[32]byte]struct{}
	versions  map[versionKey]seen // tariffs, locations and IRRs by (kind, identity, last_updated)
	bodies    map[[32]byte]int64  // tariff body hash -> tariff_key
	dimTypes  map[string]uint8
	nextCDR   int64
	nextTarif int64
	nextLoc   int64
	nextIRR   int64
	nextDim   int

	log undoLog // additions of the running batch, forgotten if it fails

	// Batches begun (classified against these maps) whose transaction has
	// not finished, oldest first, and the done channel of the newest: the
	// next batch commits after it.
	pending  []*pendingBatch
	lastDone <-chan struct{}
}

// identityKey is the first 16 bytes of SHA-256(kind, country_code, party_id,
// id): a collision needs ~2^64 objects.
type identityKey [16]byte

type versionKey struct {
	identity    identityKey
	lastUpdated int64 // Unix microseconds, DuckDB's precision
}

type seen struct {
	key  int64
	body [32]byte
}

type undoLog struct {
	cdrs     []identityKey
	raws     [][32]byte
	versions []versionKey
	bodies   [][32]byte
	dims     []string
}

func identityOf(kind ocpi.Kind, cc, pid, id string) identityKey {
	var buf [128]byte
	b := append(buf[:0], kind...)
	b = append(b, 0)
	b = append(b, cc...)
	b = append(b, 0)
	b = append(b, pid...)
	b = append(b, 0)
	b = append(b, id...)
	sum := sha256.Sum256(b)
	var k identityKey
	copy(k[:], sum[:16])
	return k
}

func versionOf(kind ocpi.Kind, cc, pid, id string, lastUpdated time.Time) versionKey {
	return versionKey{identity: identityOf(kind, cc, pid, id), lastUpdated: lastUpdated.UnixMicro()}
}

func loadIndexes(ctx context.Context, db *sql.DB) (*indexes, error) {
	ix := &indexes{
		cdrs:     make(map[identityKey]seen),
		raws:     make(map[[32]byte]struct{}),
		versions: make(map[versionKey]seen),
		bodies:   make(map[[32]byte]int64),
		dimTypes: make(map[string]uint8),
	}
	each := func(query string, scan func(*sql.Rows) error) error {
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("load index: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("load index: %w", err)
			}
		}
		return rows.Err()
	}
	var cc, pid, id string
	var key int64
	var body, sha []byte
	var lu time.Time
	if err := each(`SELECT country_code, party_id, id, cdr_key, body_sha256 FROM cdrs`, func(r *sql.Rows) error {
		if err := r.Scan(&cc, &pid, &id, &key, &body); err != nil {
			return err
		}
		s := seen{key: key}
		copy(s.body[:], body)
		ix.cdrs[identityOf(ocpi.KindCDR, cc, pid, id)] = s
		return nil
	}); err != nil {
		return nil, err
	}
	if err := each(`SELECT sha256 FROM raw_payloads`, func(r *sql.Rows) error {
		if err := r.Scan(&sha); err != nil {
			return err
		}
		ix.raws[[32]byte(sha)] = struct{}{}
		return nil
	}); err != nil {
		return nil, err
	}
	versioned := []struct {
		kind  ocpi.Kind
		query string
	}{
		{ocpi.KindTariff, `SELECT t.country_code, t.party_id, t.id, t.last_updated, t.tariff_key, b.sha256
			FROM tariffs t JOIN tariff_bodies b USING (tariff_key)`},
		{ocpi.KindLocation, `SELECT country_code, party_id, id, last_updated, location_key, body_sha256 FROM locations`},
		{ocpi.KindInvoice, `SELECT country_code, party_id, id, last_updated, irr_key, body_sha256 FROM invoice_reconciliations`},
	}
	for _, v := range versioned {
		if err := each(v.query, func(r *sql.Rows) error {
			if err := r.Scan(&cc, &pid, &id, &lu, &key, &body); err != nil {
				return err
			}
			s := seen{key: key}
			copy(s.body[:], body)
			ix.versions[versionOf(v.kind, cc, pid, id, lu)] = s
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if err := each(`SELECT tariff_key, sha256 FROM tariff_bodies`, func(r *sql.Rows) error {
		if err := r.Scan(&key, &sha); err != nil {
			return err
		}
		ix.bodies[[32]byte(sha)] = key
		return nil
	}); err != nil {
		return nil, err
	}
	var code int
	var name string
	if err := each(`SELECT code, name FROM dimension_types`, func(r *sql.Rows) error {
		if err := r.Scan(&code, &name); err != nil {
			return err
		}
		ix.dimTypes[name] = uint8(code)
		ix.nextDim = max(ix.nextDim, code+1)
		return nil
	}); err != nil {
		return nil, err
	}
	err := db.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(max(cdr_key), 0) + 1 FROM cdrs),
		(SELECT coalesce(max(tariff_key), 0) + 1 FROM tariff_bodies),
		(SELECT coalesce(max(location_key), 0) + 1 FROM locations),
		(SELECT coalesce(max(irr_key), 0) + 1 FROM invoice_reconciliations)`).
		Scan(&ix.nextCDR, &ix.nextTarif, &ix.nextLoc, &ix.nextIRR)
	if err != nil {
		return nil, fmt.Errorf("load index: next keys: %w", err)
	}
	return ix, nil
}

type counters struct{ cdr, tariff, loc, irr int64 }

// begin starts the undo log of a new batch. The log of the batch before is
// not reused: it may still be needed while that batch commits.
func (ix *indexes) begin() counters {
	ix.log = undoLog{}
	return counters{ix.nextCDR, ix.nextTarif, ix.nextLoc, ix.nextIRR}
}

// takeLog hands the running batch's undo log to its pending commit.
func (ix *indexes) takeLog() undoLog {
	l := ix.log
	ix.log = undoLog{}
	return l
}

// undo forgets what one batch added; counters are reset by resetCounters.
func (ix *indexes) undo(l *undoLog) {
	for _, k := range l.cdrs {
		delete(ix.cdrs, k)
	}
	for _, k := range l.raws {
		delete(ix.raws, k)
	}
	for _, k := range l.versions {
		delete(ix.versions, k)
	}
	for _, k := range l.bodies {
		delete(ix.bodies, k)
	}
	for _, k := range l.dims {
		delete(ix.dimTypes, k)
		ix.nextDim--
	}
}

func (ix *indexes) resetCounters(c counters) {
	ix.nextCDR, ix.nextTarif, ix.nextLoc, ix.nextIRR = c.cdr, c.tariff, c.loc, c.irr
}

// rollback forgets what the running (not yet pending) batch added.
func (ix *indexes) rollback(c counters) {
	ix.undo(&ix.log)
	ix.resetCounters(c)
	ix.begin()
}
