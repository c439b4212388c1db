package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/roamsettle/roamsettle/ocpi"
)

// Every test of the package runs with an identity index that
// flushes its memtable after a few entries, loads the database in chunks
// of two rows and flushes between them: duplicates, conflicts, pipelined
// and failed batches and reopened files are then classified through runs
// and merges, not only through the memtable. The index's files are not
// fsynced (thousands of small runs on a shared disk).
func init() {
	defaultFlushAt, loadChunk, loadFlush = 3, 2, 5
	syncIndex = false
}

// withThresholds runs f with the production thresholds of the index.
func withThresholds(flushAt int, chunk int64, loadAt int, f func()) {
	a, b, c := defaultFlushAt, loadChunk, loadFlush
	defaultFlushAt, loadChunk, loadFlush = flushAt, chunk, loadAt
	defer func() { defaultFlushAt, loadChunk, loadFlush = a, b, c }()
	f()
}

func openFile(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crash closes the database without writing the index's memtable, as a
// killed process leaves it: what was committed since the last flush is in
// the database only.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.saveMu.Lock()
	if s.idx != nil {
		s.idx.close()
		s.idx = nil
	}
	s.saveMu.Unlock()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.raw.close()
}

func historyCDR(i int) *ocpi.CDR {
	c := sampleCDR(fmt.Sprintf("H%04d", i))
	c.TotalCost.ExclVAT = d(fmt.Sprintf("%d.01", i))
	return c
}

// twin is c with its identity spelled in another case, all else equal.
func twin(c *ocpi.CDR) *ocpi.CDR {
	t := *c
	t.CountryCode, t.PartyID = "NL", "abc"
	t.ID = "h" + c.ID[1:]
	return &t
}

// The test: a store with history in runs (flushed on close) and
// rows committed after the last flush (a crash) classifies a batch of
// duplicates, conflicts and new objects exactly, and records each conflict
// once. Run with the production thresholds and with the tiny ones of
// the package's tests (everything through runs, merges and chunked loads).
func TestReopenedHistoryClassifiesExactly(t *testing.T) {
	for _, tc := range []struct {
		name                string
		flushAt, loadFlush  int
		chunk               int64
		wantTail, wantInRun int
	}{
		{"production thresholds", 1 << 16, 1 << 21, 1 << 20, 60, 200},
		{"tiny thresholds", 3, 5, 2, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withThresholds(tc.flushAt, tc.chunk, tc.loadFlush, func() {
				reopenedHistory(t, tc.wantTail, tc.wantInRun)
			})
		})
	}
}

func reopenedHistory(t *testing.T, wantTail, wantInRun int) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	s := openFile(t, path)
	var batch []ocpi.Received
	for i := range 200 {
		batch = append(batch, recvCDR(historyCDR(i), "h", int64(i)))
	}
	batch = append(batch, recvTariff(sampleTariff("T1", t0), "t1", 200),
		recvLocation(sampleLocation("L1", "Europe/Brussels", t0), "l1", 201))
	save(t, s, batch...)
	h5, l1 := batch[5], batch[201]    // to re-send the same bytes
	if err := s.Close(); err != nil { // flushes the index into runs
		t.Fatal(err)
	}
	s = openFile(t, path)
	batch = nil
	for i := 200; i < 260; i++ {
		batch = append(batch, recvCDR(historyCDR(i), "h", int64(i)))
	}
	save(t, s, batch...)
	crash(t, s) // H0200..H0259 are committed but in no run

	s = openFile(t, path)
	defer s.Close()
	if wantTail >= 0 {
		ix, err := loadIndexes(ctx, s.db, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		inRuns := 0
		for _, r := range ix.runs {
			inRuns += r.spaces[spaceCDR].count
		}
		if len(ix.cdrs) != wantTail || inRuns != wantInRun {
			t.Errorf("opened with %d CDR identities in runs and %d read back from the database, want %d and %d",
				inRuns, len(ix.cdrs), wantInRun, wantTail)
		}
		ix.close()
	}
	before := counts(t, s)

	changed := func(i int) *ocpi.CDR { c := historyCDR(i); c.Remark = "changed"; return c }
	t2 := sampleTariff("T1", t0)
	t2.Currency = "USD"
	got := save(t, s,
		h5,                                    // the same bytes again
		recvCDR(historyCDR(10), "h-again", 6), // the same CDR, other bytes
		recvCDR(historyCDR(210), "h-again", 7),
		recvCDR(twin(historyCDR(30)), "twin", 8), // its identity in lower case
		recvCDR(changed(20), "c", 9),
		recvCDR(changed(220), "c", 10),
		recvCDR(changed(20), "c-other-bytes", 11), // the same conflict again: refused, not recorded again
		recvCDR(sampleCDR("N1"), "n1", 12),
		recvCDR(sampleCDR("N2"), "n2", 13),
		recvCDR(sampleCDR("N1"), "n1-again", 14),
		recvTariff(sampleTariff("T1", t0), "t1-again", 15),
		recvTariff(t2, "t1-usd", 16),
		recvTariff(sampleTariff("T1", t0.Add(time.Hour)), "t1-v2", 17),
		l1,
	)
	D, C, A := ocpi.OutcomeDuplicate, ocpi.OutcomeConflict, ocpi.OutcomeAccepted
	want := []ocpi.Outcome{D, D, D, D, C, C, C, A, A, D, D, C, A, D}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	after := counts(t, s)
	if after.CDRs != before.CDRs+2 || after.Conflicts != before.Conflicts+3 ||
		after.TariffVersions != before.TariffVersions+1 || after.Locations != before.Locations ||
		after.Receipts != before.Receipts+14 || after.RawPayloads != before.RawPayloads+12 {
		t.Errorf("counts %+v -> %+v", before, after)
	}
	var key int64
	if err := s.db.QueryRow(`SELECT cdr_key FROM cdrs WHERE id = 'N1'`).Scan(&key); err != nil || key != 261 {
		t.Errorf("N1 has key %d (%v), want 261", key, err)
	}

	// The same conflicts in a later batch, and after a reopen: refused, and
	// still recorded once.
	again := []ocpi.Received{recvCDR(changed(20), "c-third", 19), recvTariff(t2, "t1-usd", 20)}
	if got := save(t, s, again...); !cmp.Equal(got, []ocpi.Outcome{C, C}) {
		t.Fatalf("conflicts again: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFile(t, path)
	if got := save(t, s, again...); !cmp.Equal(got, []ocpi.Outcome{C, C}) {
		t.Fatalf("conflicts after reopen: %v", got)
	}
	if c := counts(t, s); c.Conflicts != after.Conflicts {
		t.Errorf("%d conflicts recorded, want %d", c.Conflicts, after.Conflicts)
	}
}

// The runs are a cache of the database: when they do not match it (deleted,
// damaged, rows deleted by hand, or the database was put back to an older
// copy while the index is newer), they are dropped and rebuilt from the
// database, and nothing that is not stored is taken for stored.
func TestIndexThatDoesNotMatchTheDatabaseIsRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, path, backup string)
	}{
		{"index deleted", func(t *testing.T, path, _ string) { os.RemoveAll(path + ".idx") }},
		{"manifest unreadable", func(t *testing.T, path, _ string) {
			os.WriteFile(filepath.Join(path+".idx", manifestName), []byte("{"), 0o644)
		}},
		{"run cut short", func(t *testing.T, path, _ string) {
			runs, _ := filepath.Glob(filepath.Join(path+".idx", "*.run"))
			if len(runs) == 0 {
				t.Fatal("no run written")
			}
			for _, r := range runs {
				st, _ := os.Stat(r)
				os.Truncate(r, st.Size()/2)
			}
		}},
		{"a CDR deleted by hand", func(t *testing.T, path, _ string) {
			s := openFile(t, path)
			if _, err := s.db.Exec(`DELETE FROM cdrs WHERE id = 'OLD'`); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"database older than the index", restore},
		{"database as long as the index, other rows", func(t *testing.T, path, backup string) {
			// The older copy gets another CDR under the key the index knows
			// for NEW, through an index of its own.
			restore(t, path, backup)
			if err := os.Rename(path+".idx", path+".idx.keep"); err != nil {
				t.Fatal(err)
			}
			s := openFile(t, path)
			save(t, s, recvCDR(sampleCDR("DIFFERENT"), "different", 9))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(path + ".idx")
			if err := os.Rename(path+".idx.keep", path+".idx"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withThresholds(1<<16, 1<<20, 1<<21, func() {
				dir := t.TempDir()
				path := filepath.Join(dir, "roam.db")
				backup := filepath.Join(dir, "backup.db")
				s := openFile(t, path)
				save(t, s, recvCDR(sampleCDR("OLD"), "old", 0), recvTariff(sampleTariff("T1", t0), "t", 1))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				copyFile(t, path, backup)
				copyDir(t, path+".raw", backup+".raw")
				s = openFile(t, path)
				save(t, s, recvCDR(sampleCDR("NEW"), "new", 2))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				tc.spoil(t, path, backup)

				s = openFile(t, path)
				defer s.Close()
				oldOutcome, newOutcome := ocpi.OutcomeDuplicate, ocpi.OutcomeDuplicate
				switch tc.name {
				case "a CDR deleted by hand":
					oldOutcome = ocpi.OutcomeAccepted
				case "database older than the index", "database as long as the index, other rows":
					newOutcome = ocpi.OutcomeAccepted // NEW is not in that database
				}
				got := save(t, s, recvCDR(sampleCDR("OLD"), "old", 3), recvCDR(sampleCDR("NEW"), "new", 4),
					recvTariff(sampleTariff("T1", t0), "t", 5), recvCDR(sampleCDR("OTHER"), "other", 6))
				want := []ocpi.Outcome{oldOutcome, newOutcome, ocpi.OutcomeDuplicate, ocpi.OutcomeAccepted}
				if !cmp.Equal(got, want) {
					t.Fatalf("outcomes %v, want %v", got, want)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				// The rebuilt index is written on close and files it does not
				// name are gone.
				entries, _ := os.ReadDir(path + ".idx")
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				if len(names) != 2 || names[1] != manifestName {
					t.Errorf("index folder holds %v, want one run and the manifest", names)
				}
				s = openFile(t, path)
				if got := save(t, s, recvCDR(sampleCDR("OTHER"), "other", 7)); got[0] != ocpi.OutcomeDuplicate {
					t.Errorf("after the rebuild: %v", got)
				}
			})
		})
	}
}

// restore puts the backup copy of the database and its raw archive back.
func restore(t *testing.T, path, backup string) {
	os.RemoveAll(path + ".raw")
	if err := os.Rename(backup, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(backup+".raw", path+".raw"); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(t, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
	}
}

// Issue 12 item 11: identities are CiString. The same CDR, tariff version or
// location version again with its identity in another case is a
// duplicate; with a value changed as well it is a conflict.
func TestIdentityInAnotherCaseIsTheSameObject(t *testing.T) {
	s := openMem(t)
	c := sampleCDR("cdr-7")
	tf := sampleTariff("t-7", t0)
	l := sampleLocation("loc-7", "Europe/Brussels", t0)
	save(t, s, recvCDR(c, "c", 0), recvTariff(tf, "t", 1), recvLocation(l, "l", 2))

	upper := *c
	upper.CountryCode, upper.PartyID, upper.ID = "NL", "ABC", "CDR-7"
	upperChanged := upper
	upperChanged.TotalEnergy = d("15.4334")
	tfUpper := *tf
	tfUpper.ID, tfUpper.PartyID = "T-7", "abc"
	lUpper := *l
	lUpper.ID, lUpper.CountryCode = "LOC-7", "nl"
	got := save(t, s, recvCDR(&upper, "c-upper", 3), recvCDR(&upperChanged, "c-upper-changed", 4),
		recvTariff(&tfUpper, "t-upper", 5), recvLocation(&lUpper, "l-upper", 6))
	want := []ocpi.Outcome{ocpi.OutcomeDuplicate, ocpi.OutcomeConflict, ocpi.OutcomeDuplicate, ocpi.OutcomeDuplicate}
	if !cmp.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	// What was stored first keeps its spelling.
	stored, _, err := s.CDR(context.Background(), "NL", "ABC", "CDR-7")
	if err != nil || stored.ID != "cdr-7" || stored.CountryCode != "nl" {
		t.Errorf("stored CDR %q %q (%v), want the first spelling", stored.CountryCode, stored.ID, err)
	}
}

// Bodies stored before identities were hashed by key spell the identity as
// sent: the same bytes re-sent to a database written then are still
// duplicates (not conflicts), including through a rebuilt index.
func TestBodiesHashedWithTheSpellingAsSentStillMatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	s := openFile(t, path)
	c := sampleCDR("cdr-8")
	l := sampleLocation("loc-8", "Europe/Brussels", t0)
	save(t, s, recvCDR(c, "c", 0), recvLocation(l, "l", 1))
	cv1, _ := spelledHash(&canon{}, &ocpi.Received{CDR: c})
	lv1, _ := spelledHash(&canon{}, &ocpi.Received{Location: l})
	if _, err := s.db.Exec(`UPDATE cdrs SET body_sha256 = ?`, cv1[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE locations SET body_sha256 = ?`, lv1[:]); err != nil {
		t.Fatal(err)
	}
	crash(t, s)
	os.RemoveAll(path + ".idx")

	s = openFile(t, path)
	defer s.Close()
	changed := *c
	changed.Remark = "changed"
	got := save(t, s, recvCDR(c, "c-again", 2), recvLocation(l, "l-again", 3), recvCDR(&changed, "changed", 4))
	want := []ocpi.Outcome{ocpi.OutcomeDuplicate, ocpi.OutcomeDuplicate, ocpi.OutcomeConflict}
	if !cmp.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
}
