package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// maxOpenConns is the pool size: one connection for Save's transaction and
// one so that reads are not queued behind a running batch. DuckDB has been
// reported to fail checkpoints with larger pools (duckdb-go#127); the pool is
// exercised under concurrent load in TestConcurrentReadsDuringSave.
const maxOpenConns = 2

// Store is roamsettle's DuckDB database. Its methods may be called from
// several goroutines; Save calls are serialised internally (one writer).
type Store struct {
	db   *sql.DB
	path string
	raw  rawArchive

	// saveMu serialises Save and guards idx.
	saveMu sync.Mutex
	idx    *indexes // nil until the first Save loads it
	// runMu serialises the run ledger's writes (runs.go).
	runMu *sync.Mutex
	// indexFlushAt is the memtable size that makes the identity index
	// flush (index.go); 0: defaultFlushAt.
	indexFlushAt int

	// lend.go: a lent handle's owner (nil for the owner), the owner's count
	// of lent handles and the settings it made, and a lent handle's
	// once-only return.
	lender   *Store
	loans    loans
	returned sync.Once
}

// Open opens (creating if needed) the database at path, or an in-memory
// database for ":memory:" or "", and brings its schema up to date. Only
// commands that create data call it; the others use OpenExisting. When
// another process holds the file, the error is a *LockError naming it.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := path
	if path == ":memory:" {
		dsn = ""
	}
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		if le := lockError(path, err); le != nil {
			return nil, le
		}
		return nil, errorf("open", path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	// A closed idle in-memory connection is fine (the connector keeps the
	// database), but reconnecting costs; keep them.
	db.SetConnMaxLifetime(0)
	s := &Store{db: db, path: path, runMu: new(sync.Mutex)}
	// Checkpoint when the WAL reaches 1 GB instead of 16 MB: each checkpoint
	// recompresses the tail row groups of every table Save appends to, and
	// at 16 MB that happened every batch (measured: Save ran at half speed).
	// Close checkpoints; a crash replays at most 1 GB of WAL on open.
	if err := s.set(ctx, "checkpoint_threshold", "1GB"); err != nil {
		db.Close()
		if le := lockError(path, err); le != nil {
			return nil, le
		}
		return nil, errorf("open", path, err)
	}
	if dsn == "" {
		s.raw = &memArchive{}
	} else if s.raw, err = openFileArchive(path + ".raw"); err != nil {
		db.Close()
		return nil, errorf("open", path, fmt.Errorf("raw archive: %w", err))
	}

	if err := s.migrate(ctx); err != nil {
		db.Close()
		s.raw.close()
		return nil, errorf("open", path, err)
	}
	if err := dropStageViews(ctx, db); err != nil {
		db.Close()
		s.raw.close()
		return nil, errorf("open", path, err)
	}
	if err := markInterruptedRuns(ctx, db); err != nil {
		db.Close()
		s.raw.close()
		return nil, errorf("open", path, err)
	}
	return s, nil
}

// Close writes what the identity index holds in memory to its runs, then
// closes the database (checkpointing it) and the raw archive. For a lent
// handle (Lend) it closes only the handle.
func (s *Store) Close() error {
	if s.lender != nil {
		return s.giveBack()
	}
	idxErr := s.closeIndex()
	return errorf("close", s.path, errors.Join(idxErr, s.db.Close(), s.raw.close()))
}

// SetThreads sets how many threads DuckDB uses for every query of this
// database. An ingest run that decodes JSON on the other core should use 1:
// BenchmarkSave needs ~30% less CPU per CDR with 1 thread than with DuckDB's
// default of one per core (22 k -> 29 k CDRs per CPU-second); scans and
// reports gain from the default.
func (s *Store) SetThreads(ctx context.Context, n int) error {
	return errorf("set threads", strconv.Itoa(n), s.set(ctx, "threads", strconv.Itoa(n)))
}

// DB exposes the database for read-only reporting queries (reports package
// through cmd). Writes must go through Save.
func (s *Store) DB() *sql.DB { return s.db }

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations ordered by version. Files are
// named NNNN_description.sql and numbered from 1 without gaps.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", e.Name())
		}
		body, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // embedded at build time; TestMigrationsWellFormed guards it
	}
	return len(ms)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("%w: database is at version %d, this build knows %d", ErrSchemaTooNew, current, len(ms))
	}
	for _, m := range ms[current:] {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if current < len(ms) {
		// Schema changes must not stay in the WAL: DuckDB 1.5.6 cannot
		// replay an ALTER TABLE ADD COLUMN on a table with a nextval()
		// default ("GetDefaultDatabase with no default database set"), so a
		// process killed before its first checkpoint left a database that
		// no longer opens, with every row written since in that WAL.
		if _, err := s.db.ExecContext(ctx, `CHECKPOINT`); err != nil {
			return fmt.Errorf("checkpoint after migrations: %w", err)
		}
	}
	return nil
}

// apply runs one migration and records it in the same transaction, so a
// failed migration leaves the schema at the previous version.
func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
		return err
	}
	return tx.Commit()
}
