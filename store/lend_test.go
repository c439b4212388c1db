package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

func lend(t *testing.T, s *Store) *Store {
	t.Helper()
	l, err := s.Lend(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The owner and a lent handle save at once: one writer, one set of
// indexes, so a CDR the other saved is a duplicate, and every batch is
// stored.
func TestLentSavesGoThroughTheOwnersWriter(t *testing.T) {
	ctx := context.Background()
	s := openRunsDB(t, filepath.Join(t.TempDir(), "lend.duckdb"))
	l := lend(t, s)
	var wg sync.WaitGroup
	outs := make([][]ocpi.Outcome, 2)
	for i, h := range []*Store{s, l} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []ocpi.Received
			for j := range 50 {
				batch = append(batch, recvCDR(sampleCDR(fmt.Sprintf("C%d-%d", i, j)), "", int64(j)))
			}
			batch = append(batch, recvCDR(sampleCDR("SHARED"), "", 50))
			o, err := h.Save(ctx, batch)
			if err != nil {
				t.Error(err)
			}
			outs[i] = o
		}()
	}
	wg.Wait()
	if c := counts(t, s); c.CDRs != 101 {
		t.Fatalf("%d CDRs stored, want 101", c.CDRs)
	}
	shared := []ocpi.Outcome{outs[0][50], outs[1][50]}
	if !(shared[0] == ocpi.OutcomeAccepted && shared[1] == ocpi.OutcomeDuplicate ||
		shared[1] == ocpi.OutcomeAccepted && shared[0] == ocpi.OutcomeDuplicate) {
		t.Fatalf("the CDR both saved: %v", shared)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close of a lent handle: %v", err)
	}
	// The owner is still open and still the writer.
	save(t, s, recvCDR(sampleCDR("AFTER"), "", 0))
}

// A borrower cancelled while its batch commits does not fail the batch, nor
// the owner's batch begun after it (the receiver's, in serve).
func TestCancelledBorrowerDoesNotFailLaterBatches(t *testing.T) {
	s := openRunsDB(t, filepath.Join(t.TempDir(), "lend.duckdb"))
	l := lend(t, s)
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	inCommit := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	testHookBeforeCommit = func() error {
		once.Do(func() { close(inCommit); <-release })
		return nil
	}
	defer func() { testHookBeforeCommit = nil }()
	waitLent, err := l.Begin(ctx, []ocpi.Received{recvCDR(sampleCDR("LENT"), "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	<-inCommit
	waitOwner, err := s.Begin(context.Background(), []ocpi.Received{recvCDR(sampleCDR("OWNER"), "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	cancel() // Ctrl-C on the client while its batch commits
	close(release)
	if _, err := waitLent(); err != nil {
		t.Fatalf("the begun batch of the cancelled borrower: %v", err)
	}
	if _, err := waitOwner(); err != nil {
		t.Fatalf("the owner's later batch: %v", err)
	}
	if c := counts(t, s); c.CDRs != 2 {
		t.Fatalf("%d CDRs, want 2", c.CDRs)
	}
}

// A lent handle has its own connections: with the owner's pool taken (a
// commit and a read in flight), it still reads.
func TestLentHandleHasItsOwnPool(t *testing.T) {
	ctx := context.Background()
	s := openRunsDB(t, filepath.Join(t.TempDir(), "lend.duckdb"))
	var held []interface{ Close() error }
	for range maxOpenConns {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	l := lend(t, s)
	defer l.Close()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := l.Counts(tctx); err != nil {
		t.Fatalf("lent read with the owner's pool busy: %v", err)
	}
}

// Settings a borrower changes are the owner's again once the last lent
// handle is closed (what the owner set, else DuckDB's default); runs the
// owner has going stay going.
func TestLendingRestoresSettings(t *testing.T) {
	ctx := context.Background()
	s := openRunsDB(t, filepath.Join(t.TempDir(), "lend.duckdb"))
	if err := s.SetThreads(ctx, 1); err != nil {
		t.Fatal(err)
	}
	before := settings(t, s) // threads as the owner set it, the rest Open's or DuckDB's
	if c, _, err := s.ClaimRun(ctx, RunStart{Key: octFinal, Origin: "scheduled"}); err != nil || c != RunClaimed {
		t.Fatal(c, err)
	}
	a, b := lend(t, s), lend(t, s)
	if err := a.TuneForBulkLoad(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DB().ExecContext(ctx, `SET threads = 2`); err != nil {
		t.Fatal(err)
	}
	if c, _, err := b.ClaimRun(ctx, RunStart{Key: octFinal, Origin: "manual"}); err != nil || c != RunBusy {
		t.Fatalf("a lent handle claims the owner's running run: %v %v", c, err)
	}
	a.Close()
	if got := settings(t, s); got["memory_limit"] == before["memory_limit"] {
		t.Fatalf("restored while a handle is still lent: %v", got)
	}
	b.Close()
	if got := settings(t, s); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("settings after the loans: %v, want %v", got, before)
	}
}

func settings(t *testing.T, s *Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range lentSettings {
		var v string
		if err := s.db.QueryRow(`SELECT current_setting('` + name + `')::VARCHAR`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		m[name] = v
	}
	return m
}
