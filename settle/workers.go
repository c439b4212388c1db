package settle

import (
	"context"
	"sync"
)

// atOnce calls do(i) for i in [0, n) on up to workers goroutines (0: 2)
// and returns each call's error by i. It stops handing out work once ctx
// is done; the calls not made have no error (the caller checks ctx).
func atOnce(ctx context.Context, n, workers int, do func(i int) error) []error {
	if workers <= 0 {
		workers = 2
	}
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = do(i)
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}
