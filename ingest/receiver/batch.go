package receiver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// errClosed is returned for a save after Close.
var errClosed = errors.New("receiver: shutting down")

// batcher is the group commit: requests queue on in; one goroutine takes
// everything queued (and what arrives within wait) up to max records and
// saves it in one Sink.Save, then answers each request. When that Save
// fails, each member is saved alone, so only a member the store refuses
// gets an error.
type batcher struct {
	sink    Sink
	in      chan *pending
	wait    time.Duration
	max     int
	onBatch func(n int, d time.Duration)

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

type pending struct {
	rec ocpi.Received
	out chan result
}

type result struct {
	outcome ocpi.Outcome
	err     error
}

func newBatcher(sink Sink, wait time.Duration, max int, onBatch func(int, time.Duration)) *batcher {
	b := &batcher{sink: sink, in: make(chan *pending, max), wait: wait, max: max, onBatch: onBatch, done: make(chan struct{})}
	go b.run()
	return b
}

// save queues one record and waits until its batch committed (or failed).
// The wait is not cut short by ctx once queued: the answer must say what
// happened to the record.
func (b *batcher) save(ctx context.Context, rec ocpi.Received) (ocpi.Outcome, error) {
	p := &pending{rec: rec, out: make(chan result, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return "", errClosed
	}
	select {
	case b.in <- p:
	case <-ctx.Done():
		b.mu.RUnlock()
		return "", ctx.Err()
	}
	b.mu.RUnlock()
	r := <-p.out
	return r.outcome, r.err
}

// close stops accepting records, commits what is queued and returns when
// the last batch is done.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *batcher) run() {
	defer close(b.done)
	batch := make([]*pending, 0, b.max)
	recs := make([]ocpi.Received, 0, b.max)
	for {
		first, ok := <-b.in
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := b.collect(&batch)
		recs = recs[:0]
		for _, p := range batch {
			recs = append(recs, p.rec)
		}
		start := time.Now()
		outs, err := b.sink.Save(context.Background(), recs)
		if b.onBatch != nil {
			b.onBatch(len(recs), time.Since(start))
		}
		if err != nil && len(batch) > 1 {
			// One bad member must not fail the others (another partner's
			// valid CDRs among them): save each alone, so only the one the
			// store refuses gets the error. Members are independent
			// requests, so their order among themselves does not matter.
			for _, p := range batch {
				outs, err := b.sink.Save(context.Background(), []ocpi.Received{p.rec})
				p.out <- outcomeOf(outs, 0, err)
			}
		} else {
			for i, p := range batch {
				p.out <- outcomeOf(outs, i, err)
			}
		}
		clear(batch)
		clear(recs)
		if !open {
			return
		}
	}
}

func outcomeOf(outs []ocpi.Outcome, i int, err error) result {
	switch {
	case err != nil:
		return result{err: err}
	case i < len(outs):
		return result{outcome: outs[i]}
	}
	return result{err: errors.New("receiver: the store returned fewer outcomes than records")}
}

// collect adds what is already queued, then lingers up to wait for more
// while the batch is not full. It reports false when in was closed.
func (b *batcher) collect(batch *[]*pending) bool {
	for len(*batch) < b.max {
		select {
		case p, ok := <-b.in:
			if !ok {
				return false
			}
			*batch = append(*batch, p)
			continue
		default:
		}
		break
	}
	if b.wait <= 0 || len(*batch) >= b.max {
		return true
	}
	timer := time.NewTimer(b.wait)
	defer timer.Stop()
	for len(*batch) < b.max {
		select {
		case p, ok := <-b.in:
			if !ok {
				return false
			}
			*batch = append(*batch, p)
		case <-timer.C:
			return true
		}
	}
	return true
}
