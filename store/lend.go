package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Lending: one process owns the database (DESIGN invariant 8). `serve` is
// that process, and runs the commands started beside it (ingest, reprice,
// rejects, ...) in process on a lent handle:
//
//   - A lent Store has its own connection pool on the same DuckDB instance
//     (the driver's instance cache hands every sql.DB of one path in a
//     process the same open database), so a long reprice or scan holding
//     its connections never queues the receiver's commits and lookups
//     behind it.
//   - Its Saves go through the owner's single writer (Begin delegates), so
//     classification against the in-memory indexes and the order of
//     commits are the owner's, whoever saves. A borrower's batch, once
//     begun, commits even if the borrower is cancelled: a cancelled
//     transaction would refuse every batch begun after it, the receiver's
//     included (ErrEarlierBatchFailed). Cancellation stops a borrower
//     between batches.
//   - Settings a borrower changes for its work (TuneForBulkLoad,
//     memory_limit) are global to the instance: when the last lent handle
//     is closed, threads, memory_limit and checkpoint_threshold are set
//     back to what the owner set (Open, SetThreads, TuneForBulkLoad), or
//     reset to DuckDB's default. (DuckDB shows settings rounded, "2.7
//     GiB", so reading them back would not restore them exactly.)
//   - Closing a lent handle closes only its pool; the owner closes the
//     database, after every borrower has returned.

// lentSettings are the instance settings a borrower may change and the
// owner gets back.
var lentSettings = []string{"threads", "memory_limit", "checkpoint_threshold"}

// loans counts the owner's lent handles and keeps the settings it made.
type loans struct {
	mu       sync.Mutex
	n        int
	settings map[string]string // as the owner SET them
}

// set changes a DuckDB setting; the owner's are remembered for giveBack.
func (s *Store) set(ctx context.Context, name, value string) error {
	if _, err := s.db.ExecContext(ctx, `SET `+name+` = '`+strings.ReplaceAll(value, "'", "")+`'`); err != nil {
		return err
	}
	if s.lender == nil {
		s.loans.mu.Lock()
		if s.loans.settings == nil {
			s.loans.settings = map[string]string{}
		}
		s.loans.settings[name] = value
		s.loans.mu.Unlock()
	}
	return nil
}

// Lend returns a handle on s's database for work done on behalf of another
// command (the admin socket). Close it when done; it does not close s.
func (s *Store) Lend(ctx context.Context) (*Store, error) {
	if s.lender != nil {
		return s.lender.Lend(ctx)
	}
	if s.path == "" || s.path == ":memory:" {
		return nil, errorf("lend", s.path, errors.New("an in-memory database cannot be shared"))
	}
	db, err := sql.Open("duckdb", s.path)
	if err != nil {
		return nil, errorf("lend", s.path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	db.SetConnMaxLifetime(0)
	s.loans.mu.Lock()
	defer s.loans.mu.Unlock()
	s.loans.n++
	return &Store{db: db, path: s.path, raw: s.raw, runMu: s.runMu, lender: s}, nil
}

// giveBack closes a lent handle's pool and, for the last one out, puts the
// owner's settings back.
func (s *Store) giveBack() error {
	var err error
	s.returned.Do(func() {
		o := s.lender
		o.loans.mu.Lock()
		o.loans.n--
		if o.loans.n == 0 {
			// Through this handle's pool, before it closes.
			for _, name := range lentSettings {
				q := `RESET ` + name
				if v, ok := o.loans.settings[name]; ok {
					q = `SET ` + name + ` = '` + strings.ReplaceAll(v, "'", "") + `'`
				}
				if _, e := s.db.Exec(q); e != nil {
					err = errors.Join(err, fmt.Errorf("restore %s: %w", name, e))
				}
			}
		}
		o.loans.mu.Unlock()
		err = errors.Join(err, s.db.Close())
	})
	return errorf("give back", s.path, err)
}
