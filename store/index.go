package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// indexes is what Save looks up to classify a record: is this CDR identity
// stored and with which body, is this raw payload archived, this version of
// a tariff, location or IRR, this tariff body, this conflict. Its cost must
// not grow with the stored history (issue 16), so it is in two parts:
//
//   - runs: immutable sorted files in <db>.idx/ (idxrun.go), mmapped. Each
//     lookup reads a few pages of each run, whatever their size, and
//     opening them reads only their headers.
//   - the memtable: maps of the entries not in a run yet - those of the
//     batches this process stored, pending ones included (a batch begun
//     while another commits sees its identities), and after a crash the
//     rows committed since the last flush, read back from the database.
//
// The memtable is written to a new run (a flush) when it reaches flushAt
// entries while no batch is pending, and when the Store closes; runs are
// merged in tiers (compact). A run holds only committed rows: the database
// stays the truth and the runs a cache of it. The manifest names the runs
// and, per source table, the mark below which its rows are in them, with
// the index key of the row just below: on the first Save the database must
// still hold that row with that key (and keys and rowids of the source
// tables only grow: nothing deletes from them), or the runs are dropped
// and rebuilt from the database. Rows from the marks up are loaded into
// the memtable; without a manifest (a database written before the index,
// or the index deleted) that is all of them, once, in chunks that are
// flushed as they come so that memory stays bounded.
//
// Memory is the memtable (about 150 bytes per entry; at most flushAt
// entries in serve) plus the pages of the runs that lookups touched.
type indexes struct {
	cdrs      map[identityKey]seen // by identity
	raws      map[[32]byte]struct{}
	versions  map[versionKey]seen // tariffs, locations and IRRs by (kind, identity, last_updated)
	bodies    map[[32]byte]int64  // tariff body hash -> tariff_key
	conflicts map[[32]byte]struct{}
	dimTypes  map[string]uint8
	nextDim   int
	next      counters // the next key or row of every source table, pending batches included

	runs    []*idxRun // oldest first
	marks   counters  // the runs hold the source tables' rows below these
	rows    counters  // how many rows are below marks, -1 when not known
	dir     string    // <db>.idx; "" for an in-memory database, whose runs live on the heap
	seq     uint64    // number of the newest run
	flushAt int       // memtable entries that make a flush once no batch is pending; 0: only on close
	added   int       // entries indexed by this process: what it may spend merging (compact)
	stale   bool      // dir may hold files that the manifest does not name

	// A merge running in the background (a long-running writer), and how
	// to stop it.
	merging   bool
	mergeSize int // entries being merged
	mergeStop chan struct{}
	mergeDone chan struct{}

	log undoLog // additions of the running batch, forgotten if it fails

	// Batches begun (classified against these maps) whose transaction has
	// not finished, oldest first, and the done channel of the newest: the
	// next batch commits after it.
	pending  []*pendingBatch
	lastDone <-chan struct{}
}

// counters are positions in the source tables: the next cdr_key,
// tariff_key, location_key and irr_key, and the row counts of the tables
// whose rows have no key (their rowids are dense: the tables are only
// appended to, and a rolled back append gives its rowids back).
type counters struct {
	cdr, tariff, loc, irr       int64
	raws, tariffRows, conflicts int64
}

// identityKey is the first 16 bytes of SHA-256(kind, country_code, party_id,
// id): a collision needs ~2^64 objects.
type identityKey [16]byte

type versionKey struct {
	identity    identityKey
	lastUpdated int64 // Unix microseconds, DuckDB's precision
}

func (k versionKey) bytes() []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 24), k.identity[:]...), uint64(k.lastUpdated))
}

type seen struct {
	key  int64
	body [32]byte
}

func (s seen) bytes() []byte {
	return binary.LittleEndian.AppendUint64(append(make([]byte, 0, 40), s.body[:]...), uint64(s.key))
}

func seenFrom(v []byte) seen {
	return seen{body: [32]byte(v[:32]), key: int64(binary.LittleEndian.Uint64(v[32:]))}
}

type undoLog struct {
	cdrs      []identityKey
	raws      [][32]byte
	versions  []versionKey
	bodies    [][32]byte
	conflicts [][32]byte
	dims      []string
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

// conflictKey identifies a recorded conflict: the same refused body under
// the same identity (and version) is recorded once, however often it comes.
func conflictKey(kind ocpi.Kind, cc, pid, id string, lastUpdated time.Time, refused [32]byte) [32]byte {
	v := versionOf(kind, cc, pid, id, lastUpdated)
	if lastUpdated.IsZero() {
		v.lastUpdated = 0
	}
	return sha256.Sum256(append(v.bytes(), refused[:]...))
}

// Lookups: the memtable first, then the runs, newest first.

func (ix *indexes) cdr(k identityKey) (seen, bool) {
	if s, ok := ix.cdrs[k]; ok {
		return s, true
	}
	if v, ok := ix.inRuns(spaceCDR, k[:]); ok {
		return seenFrom(v), true
	}
	return seen{}, false
}

func (ix *indexes) raw(sum [32]byte) bool {
	if _, ok := ix.raws[sum]; ok {
		return true
	}
	_, ok := ix.inRuns(spaceRaw, sum[:])
	return ok
}

func (ix *indexes) version(k versionKey) (seen, bool) {
	if s, ok := ix.versions[k]; ok {
		return s, true
	}
	if v, ok := ix.inRuns(spaceVersion, k.bytes()); ok {
		return seenFrom(v), true
	}
	return seen{}, false
}

func (ix *indexes) body(h [32]byte) (int64, bool) {
	if k, ok := ix.bodies[h]; ok {
		return k, true
	}
	if v, ok := ix.inRuns(spaceBody, h[:]); ok {
		return int64(binary.LittleEndian.Uint64(v)), true
	}
	return 0, false
}

func (ix *indexes) conflict(k [32]byte) bool {
	if _, ok := ix.conflicts[k]; ok {
		return true
	}
	_, ok := ix.inRuns(spaceConflict, k[:])
	return ok
}

func (ix *indexes) inRuns(sp space, key []byte) ([]byte, bool) {
	for i := len(ix.runs) - 1; i >= 0; i-- {
		if v, ok := ix.runs[i].get(sp, key); ok {
			return v, true
		}
	}
	return nil, false
}

// Additions, recorded in the undo log of the running batch.

func (ix *indexes) addCDR(k identityKey, s seen) {
	ix.cdrs[k] = s
	ix.log.cdrs = append(ix.log.cdrs, k)
	ix.added++
}

func (ix *indexes) addRaw(sum [32]byte) {
	ix.raws[sum] = struct{}{}
	ix.log.raws = append(ix.log.raws, sum)
	ix.next.raws++
	ix.added++
}

func (ix *indexes) addVersion(k versionKey, s seen) {
	ix.versions[k] = s
	ix.log.versions = append(ix.log.versions, k)
	ix.added++
}

func (ix *indexes) addBody(h [32]byte, key int64) {
	ix.bodies[h] = key
	ix.log.bodies = append(ix.log.bodies, h)
	ix.added++
}

func (ix *indexes) addConflict(k [32]byte) {
	ix.conflicts[k] = struct{}{}
	ix.log.conflicts = append(ix.log.conflicts, k)
	ix.next.conflicts++
	ix.added++
}

func (ix *indexes) memEntries() int {
	return len(ix.cdrs) + len(ix.raws) + len(ix.versions) + len(ix.bodies) + len(ix.conflicts)
}

func (ix *indexes) resetMemtable() {
	ix.cdrs = make(map[identityKey]seen)
	ix.raws = make(map[[32]byte]struct{})
	ix.versions = make(map[versionKey]seen)
	ix.bodies = make(map[[32]byte]int64)
	ix.conflicts = make(map[[32]byte]struct{})
}

// begin starts the undo log of a new batch. The log of the batch before is
// not reused: it may still be needed while that batch commits.
func (ix *indexes) begin() counters {
	ix.log = undoLog{}
	return ix.next
}

// takeLog hands the running batch's undo log to its pending commit.
func (ix *indexes) takeLog() undoLog {
	l := ix.log
	ix.log = undoLog{}
	return l
}

// undo forgets what one batch added; counters are reset by resetCounters.
// A batch's additions are in the memtable only: nothing is flushed while a
// batch is pending.
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
	for _, k := range l.conflicts {
		delete(ix.conflicts, k)
	}
	for _, k := range l.dims {
		delete(ix.dimTypes, k)
		ix.nextDim--
	}
}

func (ix *indexes) resetCounters(c counters) { ix.next = c }

// rollback forgets what the running (not yet pending) batch added.
func (ix *indexes) rollback(c counters) {
	ix.undo(&ix.log)
	ix.resetCounters(c)
	ix.begin()
}

// Sources: the tables whose rows are indexed, how to find where their rows
// stand, and how to read a range of them into the memtable.

type source struct {
	table string
	// pos is the column that orders the table's rows: its key, or rowid.
	pos  string
	mark func(*counters) *int64
	// query selects the rows with pos in [?, ?); add puts one into the
	// memtable and returns its index key.
	query string
	add   func(ix *indexes, r *sql.Rows) ([]byte, error)
}

var sources = []source{
	{table: "cdrs", pos: "cdr_key", mark: func(c *counters) *int64 { return &c.cdr },
		query: `SELECT country_code, party_id, id, body_sha256, cdr_key FROM cdrs WHERE cdr_key >= ? AND cdr_key < ?`,
		add: func(ix *indexes, r *sql.Rows) ([]byte, error) {
			var cc, pid, id string
			var s seen
			var body []byte
			if err := r.Scan(&cc, &pid, &id, &body, &s.key); err != nil {
				return nil, err
			}
			s.body = [32]byte(body)
			k := identityOf(ocpi.KindCDR, cc, pid, id)
			ix.cdrs[k] = s
			return k[:], nil
		}},
	{table: "raw_payloads", pos: "rowid", mark: func(c *counters) *int64 { return &c.raws },
		query: `SELECT sha256 FROM raw_payloads WHERE rowid >= ? AND rowid < ?`,
		add: func(ix *indexes, r *sql.Rows) ([]byte, error) {
			var sha []byte
			if err := r.Scan(&sha); err != nil {
				return nil, err
			}
			ix.raws[[32]byte(sha)] = struct{}{}
			return sha, nil
		}},
	{table: "tariffs", pos: "rowid", mark: func(c *counters) *int64 { return &c.tariffRows },
		query: `SELECT t.country_code, t.party_id, t.id, t.last_updated, b.sha256, t.tariff_key
			FROM tariffs t JOIN tariff_bodies b USING (tariff_key) WHERE t.rowid >= ? AND t.rowid < ?`,
		add: addVersion(ocpi.KindTariff)},
	{table: "locations", pos: "location_key", mark: func(c *counters) *int64 { return &c.loc },
		query: `SELECT country_code, party_id, id, last_updated, body_sha256, location_key FROM locations
			WHERE location_key >= ? AND location_key < ?`,
		add: addVersion(ocpi.KindLocation)},
	{table: "invoice_reconciliations", pos: "irr_key", mark: func(c *counters) *int64 { return &c.irr },
		query: `SELECT country_code, party_id, id, last_updated, body_sha256, irr_key FROM invoice_reconciliations
			WHERE irr_key >= ? AND irr_key < ?`,
		add: addVersion(ocpi.KindInvoice)},
	{table: "tariff_bodies", pos: "tariff_key", mark: func(c *counters) *int64 { return &c.tariff },
		query: `SELECT sha256, tariff_key FROM tariff_bodies WHERE tariff_key >= ? AND tariff_key < ?`,
		add: func(ix *indexes, r *sql.Rows) ([]byte, error) {
			var sha []byte
			var key int64
			if err := r.Scan(&sha, &key); err != nil {
				return nil, err
			}
			ix.bodies[[32]byte(sha)] = key
			return sha, nil
		}},
	{table: "conflicts", pos: "rowid", mark: func(c *counters) *int64 { return &c.conflicts },
		query: `SELECT kind, country_code, party_id, id, last_updated, refused_sha256 FROM conflicts
			WHERE rowid >= ? AND rowid < ?`,
		add: func(ix *indexes, r *sql.Rows) ([]byte, error) {
			var kind, cc, pid, id string
			var lu sql.NullTime
			var refused []byte
			if err := r.Scan(&kind, &cc, &pid, &id, &lu, &refused); err != nil {
				return nil, err
			}
			k := conflictKey(ocpi.Kind(kind), cc, pid, id, lu.Time, [32]byte(refused))
			ix.conflicts[k] = struct{}{}
			return k[:], nil
		}},
}

func addVersion(kind ocpi.Kind) func(ix *indexes, r *sql.Rows) ([]byte, error) {
	return func(ix *indexes, r *sql.Rows) ([]byte, error) {
		var cc, pid, id string
		var lu time.Time
		var s seen
		var body []byte
		if err := r.Scan(&cc, &pid, &id, &lu, &body, &s.key); err != nil {
			return nil, err
		}
		s.body = [32]byte(body)
		k := versionOf(kind, cc, pid, id, lu)
		ix.versions[k] = s
		return k.bytes(), nil
	}
}

// loadChunk is how many positions of a source table are read per query
// when loading the memtable, and loadFlush the memtable size beyond which
// it is flushed between chunks (a rebuild of the whole index).
var loadChunk, loadFlush = int64(1 << 20), 1 << 21

// loadIndexes opens the index of the database at path ("" in memory).
func loadIndexes(ctx context.Context, db *sql.DB, path string, flushAt int) (*indexes, error) {
	if flushAt == 0 {
		flushAt = defaultFlushAt
	}
	ix := &indexes{dimTypes: make(map[string]uint8), flushAt: flushAt}
	ix.resetMemtable()
	if path != "" {
		ix.dir = path + ".idx"
	}
	var code int
	var name string
	if err := eachRow(ctx, db, `SELECT code, name FROM dimension_types`, nil, func(r *sql.Rows) error {
		if err := r.Scan(&code, &name); err != nil {
			return err
		}
		ix.dimTypes[name] = uint8(code)
		ix.nextDim = max(ix.nextDim, code+1)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	c := &ix.next
	err := db.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(max(cdr_key), 0) + 1 FROM cdrs),
		(SELECT coalesce(max(tariff_key), 0) + 1 FROM tariff_bodies),
		(SELECT coalesce(max(location_key), 0) + 1 FROM locations),
		(SELECT coalesce(max(irr_key), 0) + 1 FROM invoice_reconciliations),
		(SELECT count(*) FROM raw_payloads),
		(SELECT count(*) FROM tariffs),
		(SELECT count(*) FROM conflicts)`).
		Scan(&c.cdr, &c.tariff, &c.loc, &c.irr, &c.raws, &c.tariffRows, &c.conflicts)
	if err != nil {
		return nil, fmt.Errorf("load index: next keys: %w", err)
	}
	if ix.dir != "" {
		if err := ix.openRuns(ctx, db); err != nil {
			return nil, err
		}
	}
	// Keys start at 1: the marks of a table never written to are its first
	// key, so that nothing below them is looked for.
	for _, s := range sources {
		if m := s.mark(&ix.marks); *m == 0 && s.pos != "rowid" {
			*m = 1
		}
	}
	if err := ix.loadTail(ctx, db); err != nil {
		ix.close()
		return nil, err
	}
	return ix, nil
}

// loadTail reads the rows of every source table from its mark up into the
// memtable, flushing it between chunks when it grows large.
func (ix *indexes) loadTail(ctx context.Context, db *sql.DB) error {
	for _, s := range sources {
		m, end := s.mark(&ix.marks), s.mark(&ix.next)
		if *m == 0 && s.pos == "rowid" {
			// The whole table: up to its last rowid, which is its row count
			// only if no row was ever deleted.
			if err := db.QueryRowContext(ctx, `SELECT coalesce(max(rowid) + 1, 0) FROM `+s.table).Scan(end); err != nil {
				return fmt.Errorf("load index: %s: %w", s.table, err)
			}
		}
		rows := s.mark(&ix.rows)
		for *m < *end {
			to := min(*m+loadChunk, *end)
			n := int64(0)
			if err := eachRow(ctx, db, s.query, []any{*m, to}, func(r *sql.Rows) error {
				n++
				_, err := s.add(ix, r)
				return err
			}); err != nil {
				return fmt.Errorf("load index: %s: %w", s.table, err)
			}
			if *rows >= 0 {
				*rows += n
			}
			ix.added += int(n)
			*m = to
			if ix.memEntries() >= loadFlush {
				if err := ix.flush(ctx, db, ix.marks); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// manifest is <db>.idx/manifest.json.
type manifest struct {
	Format int               `json:"format"`
	Runs   []manifestRun     `json:"runs"` // oldest first
	Marks  map[string]int64  `json:"marks"`
	Last   map[string]string `json:"last"` // per table: hex index key of the row just below its mark
	// Rows per table below its mark, when known (-1 after a flush half way
	// through a rebuild): a database in which rows were deleted no longer
	// has as many.
	Rows map[string]int64 `json:"rows"`
}

type manifestRun struct {
	Seq    uint64         `json:"seq"`
	Counts [numSpaces]int `json:"counts"`
}

const manifestName = "manifest.json"

// openRuns opens the runs the manifest names if the database still holds
// what they were made from; otherwise the index starts empty (and is
// rebuilt from the database by loadTail).
func (ix *indexes) openRuns(ctx context.Context, db *sql.DB) error {
	// New runs are numbered after every file there, named or not.
	entries, _ := os.ReadDir(ix.dir)
	for _, e := range entries {
		var seq uint64
		if _, err := fmt.Sscanf(e.Name(), "%d.run", &seq); err == nil {
			ix.seq = max(ix.seq, seq)
		}
	}
	b, err := os.ReadFile(filepath.Join(ix.dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		ix.stale = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("identity index: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != 1 {
		ix.stale = true
		return nil // rebuilt
	}
	ok, err := ix.matches(ctx, db, &m)
	if err != nil {
		return err
	}
	if !ok {
		ix.stale = true
		return nil
	}
	for _, mr := range m.Runs {
		r, err := openIdxRun(ix.dir, mr.Seq)
		if err == nil {
			for sp := range numSpaces {
				if r.spaces[sp].count != mr.Counts[sp] {
					err = fmt.Errorf("run %d: space %d has %d entries, the manifest says %d", mr.Seq, sp,
						r.spaces[sp].count, mr.Counts[sp])
					r.close()
				}
			}
		}
		if err != nil {
			ix.close()
			ix.runs, ix.marks, ix.stale = nil, counters{}, true
			return nil
		}
		ix.runs = append(ix.runs, r)
		ix.seq = max(ix.seq, mr.Seq)
	}
	for _, s := range sources {
		*s.mark(&ix.marks) = m.Marks[s.table]
		r, ok := m.Rows[s.table]
		if !ok {
			r = -1
		}
		*s.mark(&ix.rows) = r
	}
	return nil
}

// matches checks that, for every source table, the database holds the row
// just below the manifest's mark and that its index key is the one
// recorded: then it holds every row below (rows are only appended).
func (ix *indexes) matches(ctx context.Context, db *sql.DB, m *manifest) (bool, error) {
	for _, s := range sources {
		mark := m.Marks[s.table]
		if mark > *s.mark(&ix.next) {
			return false, nil // the database has fewer rows than the index
		}
		got, err := lastKey(ctx, db, s, mark)
		if err != nil {
			return false, fmt.Errorf("identity index: %s: %w", s.table, err)
		}
		if got != m.Last[s.table] {
			return false, nil
		}
		if want, ok := m.Rows[s.table]; ok && want >= 0 {
			var total, tail int64
			if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM `+s.table+`),
				(SELECT count(*) FROM `+s.table+` WHERE `+s.pos+` >= ?)`, mark).Scan(&total, &tail); err != nil {
				return false, fmt.Errorf("identity index: %s: %w", s.table, err)
			}
			if total-tail != want {
				return false, nil // rows were deleted
			}
		}
	}
	return true, nil
}

// lastKey is the hex index key of the row of s just below mark ("" when
// there is none: the table was empty).
func lastKey(ctx context.Context, db *sql.DB, s source, mark int64) (string, error) {
	scratch := &indexes{}
	scratch.resetMemtable()
	var key []byte
	err := eachRow(ctx, db, s.query, []any{mark - 1, mark}, func(r *sql.Rows) error {
		k, err := s.add(scratch, r)
		key = k
		return err
	})
	return hex.EncodeToString(key), err
}

// flush writes the memtable into a new run covering the source tables up
// to marks, merges runs as the budget allows, and records them in the
// manifest. No batch may be pending: a run holds committed rows only.
func (ix *indexes) flush(ctx context.Context, db *sql.DB, marks counters) error {
	if len(ix.pending) > 0 {
		return errors.New("identity index: flush with a batch pending")
	}
	if ix.memEntries() == 0 && marks == ix.marks {
		return nil
	}
	if ix.dir != "" {
		if err := os.MkdirAll(ix.dir, 0o755); err != nil {
			return fmt.Errorf("identity index: %w", err)
		}
	}
	r, err := writeIdxRun(ix.dir, ix.seq+1, ix.memtableSource())
	if err != nil {
		return err
	}
	ix.seq++
	ix.runs = append(ix.runs, r)
	if ix.dir != "" && marks == ix.next {
		// Every row of the source tables is below the marks now.
		if err := ix.countRows(ctx, db); err != nil {
			return err
		}
	}
	ix.marks = marks
	ix.resetMemtable()
	var old []*idxRun
	if !ix.merging {
		old, err = ix.compact()
	}
	if err == nil && ix.dir != "" {
		err = ix.writeManifest(ctx, db)
	}
	for _, r := range old {
		r.close()
		if r.file != "" && err == nil {
			os.Remove(r.file)
		}
	}
	if err != nil {
		ix.stale = true // the files of merged runs wait for the next manifest
	}
	return err
}

// countRows sets rows to the row count of every source table.
func (ix *indexes) countRows(ctx context.Context, db *sql.DB) error {
	q := "SELECT "
	dest := make([]any, len(sources))
	for i, s := range sources {
		if i > 0 {
			q += ", "
		}
		q += "(SELECT count(*) FROM " + s.table + ")"
		dest[i] = s.mark(&ix.rows)
	}
	if err := db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return fmt.Errorf("identity index: rows: %w", err)
	}
	return nil
}

// flushRun is flush without merging: a long-running writer merges in the
// background.
func (ix *indexes) flushRun(ctx context.Context, db *sql.DB, marks counters) error {
	merging := ix.merging
	ix.merging = true // keeps flush from merging
	defer func() { ix.merging = merging }()
	return ix.flush(ctx, db, marks)
}

// memtableSource streams the memtable, space by space, in key order.
func (ix *indexes) memtableSource() idxRunSource {
	return func(rw *idxRunWriter) {
		for sp := range numSpaces {
			rs := &records{l: layouts[sp]}
			switch sp {
			case spaceCDR:
				for k, s := range ix.cdrs {
					rs.add(k[:], s.bytes())
				}
			case spaceRaw:
				for k := range ix.raws {
					rs.add(k[:], nil)
				}
			case spaceVersion:
				for k, s := range ix.versions {
					rs.add(k.bytes(), s.bytes())
				}
			case spaceBody:
				for k, key := range ix.bodies {
					rs.add(k[:], binary.LittleEndian.AppendUint64(nil, uint64(key)))
				}
			case spaceConflict:
				for k := range ix.conflicts {
					rs.add(k[:], nil)
				}
			}
			rs.sort()
			rw.begin(sp, rs.len())
			rl := rs.l.rec()
			for i := range rs.len() {
				rw.add(rs.buf[i*rl : (i+1)*rl])
			}
			rw.end()
		}
	}
}

func (r *idxRun) entries() int {
	n := 0
	for _, s := range r.spaces {
		n += s.count
	}
	return n
}

// Tiered merging: runs of the same tier (entries within a factor of 4 of
// each other, from 4096 up) are merged once there are mergeTier of them,
// so an entry is rewritten about once per tier (log4 of the history) and
// there are at most 3 runs per tier to look in. A merge bigger than the
// budget waits for a process that has indexed more: a small import never
// pays for rewriting a big run.
const mergeTier = 4

func tier(entries int) int { return max(0, bits.Len(uint(entries>>12))+1) / 2 }

// due returns where the runs to merge next begin (a tier with mergeTier
// runs or more, from the newest), or -1.
func (ix *indexes) due() int {
	n := len(ix.runs)
	if n < mergeTier {
		return -1
	}
	t := tier(ix.runs[n-1].entries())
	i := n - 1
	for i > 0 && tier(ix.runs[i-1].entries()) <= t {
		i--
	}
	if n-i < mergeTier {
		return -1
	}
	return i
}

func entriesOf(runs []*idxRun) int {
	n := 0
	for _, r := range runs {
		n += r.entries()
	}
	return n
}

// compact merges runs as the budget allows and returns the runs merged
// away (to close and delete once the manifest no longer names them).
func (ix *indexes) compact() ([]*idxRun, error) {
	budget := max(1<<20, 4*ix.added)
	var old []*idxRun
	for {
		i := ix.due()
		if i < 0 || entriesOf(ix.runs[i:]) > budget {
			return old, nil
		}
		total := entriesOf(ix.runs[i:])
		merged, err := writeIdxRun(ix.dir, ix.seq+1, mergeSource(ix.runs[i:], nil))
		if err != nil {
			return old, err
		}
		ix.seq++
		ix.added += total
		old = append(old, ix.runs[i:]...)
		ix.runs = append(ix.runs[:i:i], merged)
	}
}

// mergeInBackground starts merging what is due, whatever its size, without
// holding up Save: the runs are immutable, and the merged run replaces them
// (under saveMu) when it is written. Used by long-running writers after a
// flush; closeIndex stops it. Called with saveMu held.
func (s *Store) mergeInBackground() {
	ix := s.idx
	if ix.merging || ix.dir == "" {
		return
	}
	i := ix.due()
	if i < 0 {
		return
	}
	inputs := append([]*idxRun(nil), ix.runs[i:]...)
	ix.seq++
	seq := ix.seq
	ix.merging, ix.mergeStop, ix.mergeDone = true, make(chan struct{}), make(chan struct{})
	ix.mergeSize = entriesOf(inputs)
	stop, done := ix.mergeStop, ix.mergeDone
	go func() {
		defer close(done)
		merged, err := writeIdxRun(ix.dir, seq, mergeSource(inputs, stop))
		s.saveMu.Lock()
		defer s.saveMu.Unlock()
		ix.merging = false
		if err != nil {
			ix.stale = true // a stopped or failed merge leaves its file for the next manifest
			return
		}
		at := -1
		for j, r := range ix.runs {
			if r == inputs[0] {
				at = j
				break
			}
		}
		if at < 0 || at+len(inputs) > len(ix.runs) || ix.runs[at+len(inputs)-1] != inputs[len(inputs)-1] {
			merged.close() // cannot happen: only this goroutine replaces runs while it runs
			ix.stale = true
			return
		}
		runs := append(append(append([]*idxRun(nil), ix.runs[:at]...), merged), ix.runs[at+len(inputs):]...)
		ix.runs = runs
		err = ix.writeManifest(context.Background(), s.db)
		for _, r := range inputs {
			r.close()
			if err == nil {
				os.Remove(r.file)
			}
		}
		if err != nil {
			ix.stale = true
			return
		}
		if s.idx == ix {
			s.mergeInBackground() // the next tier may be due now
		}
	}()
}

// endMerges lets a background merge finish if it is within what this
// process may spend (compact's budget), else stops it, and waits. Called
// with saveMu held; releases it while waiting.
func (s *Store) endMerges(ix *indexes) {
	for ix.merging {
		stop, done := ix.mergeStop, ix.mergeDone
		if ix.mergeSize > max(1<<20, 4*ix.added) {
			select {
			case <-stop:
			default:
				close(stop)
			}
		}
		s.saveMu.Unlock()
		<-done
		s.saveMu.Lock()
	}
}

// indexOnClose has the identity index written once, when the Store closes,
// instead of every defaultFlushAt entries: a bulk import (TuneForBulkLoad)
// then sorts and writes its entries once.
func (s *Store) indexOnClose() {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.indexFlushAt = -1
	if s.idx != nil {
		s.idx.flushAt = -1
	}
}

// writeManifest records the runs and marks (after the runs are durable),
// then removes the files it does not name.
func (ix *indexes) writeManifest(ctx context.Context, db *sql.DB) error {
	m := manifest{Format: 1, Marks: map[string]int64{}, Last: map[string]string{}, Rows: map[string]int64{}}
	for _, r := range ix.runs {
		mr := manifestRun{Seq: r.seq}
		for sp := range numSpaces {
			mr.Counts[sp] = r.spaces[sp].count
		}
		m.Runs = append(m.Runs, mr)
	}
	for _, s := range sources {
		mark := *s.mark(&ix.marks)
		m.Marks[s.table] = mark
		m.Rows[s.table] = *s.mark(&ix.rows)
		k, err := lastKey(ctx, db, s, mark)
		if err != nil {
			return fmt.Errorf("identity index: %s: %w", s.table, err)
		}
		m.Last[s.table] = k
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := syncDir(ix.dir); err != nil { // the runs' renames first
		return fmt.Errorf("identity index: %w", err)
	}
	tmp := filepath.Join(ix.dir, manifestName+".tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("identity index: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(ix.dir, manifestName)); err != nil {
		return fmt.Errorf("identity index: %w", err)
	}
	if err := syncDir(ix.dir); err != nil {
		return fmt.Errorf("identity index: %w", err)
	}
	if ix.stale {
		named := map[string]bool{manifestName: true}
		for _, r := range ix.runs {
			named[idxRunFile(r.seq)] = true
		}
		entries, _ := os.ReadDir(ix.dir)
		for _, e := range entries {
			if !named[e.Name()] && (strings.HasSuffix(e.Name(), ".run") || strings.HasSuffix(e.Name(), ".tmp")) {
				os.Remove(filepath.Join(ix.dir, e.Name()))
			}
		}
		ix.stale = false
	}
	return nil
}

func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && syncIndex {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncIndex makes the index's files durable before the manifest names
// them. Tests that write thousands of small runs turn it off.
var syncIndex = true

func syncDir(dir string) error {
	if !syncIndex {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// close unmaps the runs.
func (ix *indexes) close() error {
	var errs []error
	for _, r := range ix.runs {
		errs = append(errs, r.close())
	}
	return errors.Join(errs...)
}

// defaultFlushAt bounds the memtable of a long-running writer (serve, pull):
// ~10 MB, and what a restart after a crash reads back from the database.
var defaultFlushAt = 1 << 16

// maybeFlushIndex flushes the memtable once it is large and no batch is
// pending. Called with saveMu held, after a commit. A failed flush loses
// nothing (the rows are committed, and stay in the memtable): it is tried
// again after flushAt more entries, and on close.
func (s *Store) maybeFlushIndex(ctx context.Context) {
	ix := s.idx
	if len(ix.pending) > 0 || ix.flushAt <= 0 || ix.memEntries() < ix.flushAt {
		return
	}
	flush := ix.flushRun // and merge in the background
	if ix.dir == "" {
		flush = ix.flush // heap runs merge at once
	}
	if err := flush(context.WithoutCancel(ctx), s.db, ix.next); err != nil {
		ix.flushAt = ix.memEntries() + ix.flushAt
		return
	}
	s.mergeInBackground()
}

// closeIndex waits for the pending batches, flushes the memtable and unmaps
// the runs.
func (s *Store) closeIndex() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	for s.idx != nil && len(s.idx.pending) > 0 {
		done := s.idx.lastDone
		s.saveMu.Unlock()
		<-done
		s.saveMu.Lock()
	}
	if s.idx == nil {
		return nil
	}
	ix := s.idx
	s.endMerges(ix)
	s.idx = nil
	var err error
	if ix.dir != "" {
		err = ix.flush(context.Background(), s.db, ix.next)
	}
	return errors.Join(err, ix.close())
}
