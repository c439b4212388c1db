package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// keyFilter selects the rows of a set of CDR keys staged by withKeys.
type keyFilter func(col string) string

// withKeys runs fn on one connection of the pool with keys staged in a
// temporary table, load_keys; filter(col) keeps the rows whose col is one
// of them (a semi join) inside the keys' blocks (keyRanges). An IN list of
// thousands of literals costs DuckDB more to parse and bind than the query
// costs to run (about 60 ms for 8,192 keys, against 10 ms for the join),
// and a load runs several queries over the same keys. fn must query
// through q only: the pool may have no other connection free.
func (s *Store) withKeys(ctx context.Context, keys []int64, fn func(conn *sql.Conn, filter keyFilter) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return stageKeys(ctx, conn, keys, func(filter keyFilter) error { return fn(conn, filter) })
}

// stagedKeys numbers the staging views.
var stagedKeys atomic.Int64

// stageKeys is withKeys on a connection the caller holds (and may read
// through with Arrow).
func stageKeys(ctx context.Context, conn *sql.Conn, keys []int64, fn func(filter keyFilter) error) error {
	if len(keys) == 0 {
		return fn(func(string) string { return "FALSE" })
	}
	// The Arrow view is a catalog entry: connections staging at once need
	// names of their own.
	view := fmt.Sprintf("stage_load_keys_%d", stagedKeys.Add(1))
	if err := arrowInsert(ctx, conn, view, `CREATE OR REPLACE TEMP TABLE load_keys AS SELECT cdr_key FROM %s`,
		[]arrow.Field{{Name: "cdr_key", Type: arrow.PrimitiveTypes.Int64}},
		[]arrow.Array{int64Array(memory.DefaultAllocator, keys, nil)}); err != nil {
		return fmt.Errorf("stage keys: %w", err)
	}
	blocks := keyBlocks(keys, keyBlockGap, maxKeyBlocks)
	err := fn(func(col string) string {
		return col + " IN (SELECT cdr_key FROM load_keys) AND (" + keyRanges(col, blocks) + ")"
	})
	if _, dropErr := conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS load_keys`); err == nil && dropErr != nil {
		err = fmt.Errorf("drop staged keys: %w", dropErr)
	}
	return err
}
