package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// A database written before 0006 holds a missing total_cost as 0.00 (its
// decode finding says it was missing); 0006 makes it no billed amount, and
// leaves a stated 0 alone.
func TestMigration0006MissingTotalCost(t *testing.T) {
	s := migratedFrom(t, 5,
		`INSERT INTO cdrs (cdr_key, country_code, party_id, id, version, body_sha256, raw_sha256, total_cost_excl_vat,
			total_cost_incl_vat, credit, home_charging_compensation, received_at, blocking)
		 VALUES (1, 'NL', 'ABC', 'MISSING', '2.2.1', ''::BLOB, ''::BLOB, 0, NULL, false, false, now(), false),
		        (2, 'NL', 'ABC', 'ZERO', '2.2.1', ''::BLOB, ''::BLOB, 0, 0, false, false, now(), false),
		        (3, 'NL', 'ABC', 'NOEXCL', '2.2.1', ''::BLOB, ''::BLOB, 0, 1, false, false, now(), false)`,
		`INSERT INTO findings VALUES ('cdr', 1, 'NL', 'ABC', 'MISSING', 'total_cost', 'required', 'required field is missing', false),
		        ('cdr', 2, 'NL', 'ABC', 'ZERO', 'total_cost', 'totals', 'does not add up', false),
		        ('cdr', 3, 'NL', 'ABC', 'NOEXCL', 'total_cost.excl_vat', 'required', 'required number is missing', false)`)
	got := queryText(t, s, `SELECT string_agg(id || ' ' || coalesce(total_cost_excl_vat::VARCHAR, 'NULL'), ', ' ORDER BY cdr_key) FROM cdrs`)
	if want := "MISSING NULL, ZERO 0.000000, NOEXCL NULL"; got != want {
		t.Errorf("after 0006: %s, want %s", got, want)
	}
}

// migratedFrom is a database file written at the schema of the first n
// migrations, filled by stmts, then opened (and so migrated) by Open.
func migratedFrom(t *testing.T, n int, stmts ...string) *Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := &Store{db: db}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL, name VARCHAR NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:n] {
		if err := old.apply(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// queryText is q's one text value.
func queryText(t *testing.T, s *Store, q string) string {
	t.Helper()
	var got string
	if err := s.DB().QueryRow(q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// 0014 marks the receipts stored before it that repeat an earlier
// receipt's bytes, in the order they were received.
func TestMigration0014RepeatedReceipts(t *testing.T) {
	s := migratedFrom(t, 13, `INSERT INTO receipts (sha256, channel, position, received_at, outcome) VALUES
		('\x01'::BLOB, 'push', 0, '2025-01-02 00:00:00+00', 'duplicate'),
		('\x01'::BLOB, 'file', 1, '2025-01-01 00:00:00+00', 'accepted'),
		('\x02'::BLOB, 'file', 2, '2025-01-01 00:00:00+00', 'accepted'),
		('\x01'::BLOB, 'file', 3, '2025-01-03 00:00:00+00', 'duplicate')`)
	got := queryText(t, s, `SELECT string_agg(position || ':' || repeated, ' ' ORDER BY position) FROM receipts`)
	if want := "0:true 1:false 2:false 3:true"; got != want {
		t.Errorf("after 0014: %s, want %s", got, want)
	}
}

// Store errors name the operation, object and kind once, however deep.
func TestErrorChain(t *testing.T) {
	inner := errorf("tariff bodies", "7", ErrNotFound)
	outer := errorf("published tariffs", "NL*ABC", inner)
	if got, want := outer.Error(), "store: published tariffs NL*ABC: tariff bodies 7: not found"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if !errors.Is(outer, ErrNotFound) || errors.Is(outer, ErrDatabase) {
		t.Error("kind")
	}
	if e := errorf("scan", "", errors.New("io")); !errors.Is(e, ErrDatabase) {
		t.Error("a driver failure is a database error")
	}
}
