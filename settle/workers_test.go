package settle

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// atOnce calls each index once, on at most the workers asked for, and
// returns the errors by index; a done context hands out no more work.
func TestAtOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 5} {
		var calls [7]atomic.Int32
		var running, most atomic.Int32
		errs := atOnce(context.Background(), len(calls), workers, func(i int) error {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			defer running.Add(-1)
			calls[i].Add(1)
			if i == 3 {
				return errors.New("three")
			}
			return nil
		})
		want := max(workers, 0)
		if workers == 0 {
			want = 2
		}
		if most.Load() > int32(want) {
			t.Errorf("workers %d: %d calls at once", workers, most.Load())
		}
		for i := range calls {
			if calls[i].Load() != 1 {
				t.Errorf("workers %d: index %d called %d times", workers, i, calls[i].Load())
			}
			if (errs[i] != nil) != (i == 3) {
				t.Errorf("workers %d: index %d error %v", workers, i, errs[i])
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var n atomic.Int32
	atOnce(ctx, 10, 2, func(int) error { n.Add(1); return nil })
	if n.Load() != 0 {
		t.Errorf("a done context: %d calls", n.Load())
	}
}
