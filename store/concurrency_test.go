package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// The pool has two connections: saves and reads run side by side on a file
// database, then everything is there after a reopen (duckdb-go#127 reported
// checkpoint failures with larger pools).
func TestConcurrentReadsDuringSave(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roam.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	const batches, size = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	done := make(chan struct{})
	for saver := range 2 { // two savers: Save serialises them
		wg.Add(1)
		go func(start int) {
			defer wg.Done()
			for b := start; b < batches; b += 2 {
				if _, err := s.Save(ctx, synthBatch(b*size, size)); err != nil {
					errs <- err
					return
				}
			}
		}(saver)
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Counts(ctx); err != nil {
				errs <- err
				return
			}
			if _, _, err := s.CDR(ctx, "NL", "ABC", "CDR0"); err != nil && !isNotFound(err) {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := counts(t, s); c.CDRs != batches*size || c.Dimensions != batches*size*9 {
		t.Fatalf("after reopen: %+v", c)
	}
}
