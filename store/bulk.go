package store

import (
	"context"
	"fmt"
)

// TuneForBulkLoad sets this database handle up for a long import that
// decodes JSON on the other cores while Save writes (roamsettle ingest):
//
//   - threads = 1: DuckDB's Arrow scan and compression then run on Save's
//     own thread instead of competing with the decoders for the two cores:
//     10-35% less CPU per CDR (1 M CDRs: 60-66 -> 52-58 CPU-seconds; 250 k:
//     19.3 -> 12.4), wall time the same or better.
//   - checkpoint_threshold = 256MB and memory_limit = 512MB: data appended
//     since the last checkpoint stays in DuckDB's buffers, so the 1 GB
//     threshold of Open let a 1 M CDR import peak at 2.27 GiB; with these
//     it peaks at 1.27 GiB at the same speed.
//   - the identity index (index.go) is written once, on close, not every
//     64 k entries: one sort instead of a run per file and their merges.
//
// Scans and reports gain from more threads and memory: use it only on a
// Store opened for the import.
func (s *Store) TuneForBulkLoad(ctx context.Context) error {
	if s.lender == nil {
		s.indexOnClose() // a lent handle's Saves are the owner's, whose index stays as it is
	}
	for _, kv := range [][2]string{{"threads", "1"}, {"checkpoint_threshold", "256MB"}, {"memory_limit", "512MB"}} {
		if err := s.set(ctx, kv[0], kv[1]); err != nil {
			return errorf("tune for bulk load", s.path, fmt.Errorf("SET %s: %w", kv[0], err))
		}
	}
	return nil
}
