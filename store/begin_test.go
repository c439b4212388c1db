package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/roamsettle/roamsettle/ocpi"
)

// A batch begun while another is committing is classified against it; when
// the earlier transaction fails, the later batch is refused too and the
// indexes forget both, so that both batches are new again.
func TestBeginRefusesLaterBatchesWhenOneFails(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	save(t, s, recvCDR(sampleCDR("KEEP"), "k", 0))
	before := counts(t, s)

	release := make(chan struct{})
	calls := 0
	testHookBeforeCommit = func() error {
		calls++
		if calls == 1 {
			<-release // the second batch is begun while the first commits
			return errors.New("disk on fire")
		}
		return nil
	}
	defer func() { testHookBeforeCommit = nil }()

	first := []ocpi.Received{recvCDR(sampleCDR("A"), "a", 1)}
	second := []ocpi.Received{recvCDR(sampleCDR("A"), "a", 2), recvCDR(sampleCDR("B"), "b", 3)}
	wait1, err := s.Begin(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	wait2, err := s.Begin(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	if _, err := wait1(); err == nil {
		t.Fatal("first batch committed through a failing commit")
	}
	if _, err := wait2(); !errors.Is(err, ErrEarlierBatchFailed) {
		t.Fatalf("second batch: %v, want ErrEarlierBatchFailed", err)
	}
	if after := counts(t, s); !cmp.Equal(before, after) {
		t.Fatalf("failed batches left rows: %+v -> %+v", before, after)
	}
	if calls != 1 {
		t.Errorf("%d transactions ran, want 1: a refused batch must not commit", calls)
	}

	// Both are new again, and the first CDR of the retry takes key 2.
	got := save(t, s, second...)
	if want := []ocpi.Outcome{ocpi.OutcomeAccepted, ocpi.OutcomeAccepted}; !cmp.Equal(got, want) {
		t.Fatalf("retry outcomes %v, want %v", got, want)
	}
	var key int64
	if err := s.db.QueryRow(`SELECT cdr_key FROM cdrs WHERE id = 'A'`).Scan(&key); err != nil || key != 2 {
		t.Errorf("retried CDR key %d (%v), want 2", key, err)
	}
}

// Batches begun back to back commit in order and see each other: the same
// CDR in the second batch is a duplicate of the first's.
func TestBeginPipelinesInOrder(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	var waits []func() ([]ocpi.Outcome, error)
	for i := range 5 {
		w, err := s.Begin(ctx, []ocpi.Received{recvCDR(sampleCDR("SAME"), "same", int64(i))})
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	for i, w := range waits {
		out, err := w()
		if err != nil {
			t.Fatal(err)
		}
		want := ocpi.OutcomeDuplicate
		if i == 0 {
			want = ocpi.OutcomeAccepted
		}
		if out[0] != want {
			t.Errorf("batch %d: %s, want %s", i, out[0], want)
		}
	}
	if c := counts(t, s); c.CDRs != 1 {
		t.Errorf("%d CDRs stored, want 1", c.CDRs)
	}
}

// Disk full at COMMIT (issue 12 item 14): DuckDB may report a failed
// COMMIT for a transaction it made durable (a checkpoint after the WAL
// write runs out of space). Save asks: a batch that landed counts as
// stored, with its raw bytes, so the caller's summary matches the database.
func TestCommitErrorAfterTheBatchLandedCountsAsStored(t *testing.T) {
	s := openMem(t)
	testHookAfterCommit = func() error { return errors.New("IO Error: No space left on device") }
	out, err := s.Save(context.Background(), []ocpi.Received{recvCDR(sampleCDR("L1"), "l1", 0)})
	testHookAfterCommit = nil
	if err != nil || len(out) != 1 || out[0] != ocpi.OutcomeAccepted {
		t.Fatalf("Save = %v, %v; want accepted: the batch is in the database", out, err)
	}
	if got := save(t, s, recvCDR(sampleCDR("L1"), "l1", 0)); got[0] != ocpi.OutcomeDuplicate {
		t.Errorf("the same CDR again: %s, want duplicate", got[0])
	}
	if _, raw, err := s.CDR(context.Background(), "NL", "ABC", "L1"); err != nil || len(raw) == 0 {
		t.Errorf("raw bytes of the landed batch: %d bytes, %v", len(raw), err)
	}
}

// When the database cannot even be asked, the outcome is unknown: the error
// says so (ErrCommitUnknown) and the raw bytes stay in the archive, so a
// batch that did land never points at missing bytes.
func TestCommitErrorWithoutAnswerIsUnknownAndKeepsRawBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "unknown.duckdb")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	testHookAfterCommit = func() error { s.db.Close(); return errors.New("FATAL Error: No space left on device") }
	_, err = s.Save(ctx, []ocpi.Received{recvCDR(sampleCDR("U1"), "u1", 0)})
	testHookAfterCommit = nil
	var u interface{ OutcomeUnknown() bool }
	if !errors.Is(err, ErrCommitUnknown) || !errors.As(err, &u) || !u.OutcomeUnknown() {
		t.Fatalf("err = %v, want ErrCommitUnknown", err)
	}
	s.raw.close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, raw, err := s.CDR(ctx, "NL", "ABC", "U1"); err != nil || len(raw) == 0 {
		t.Fatalf("the batch landed; its raw bytes: %d, %v", len(raw), err)
	}
}
