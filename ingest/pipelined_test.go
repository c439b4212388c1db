package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// pipelinedSink is a memSink whose batches are begun and waited for
// separately; a failing batch fails every batch begun after it, as the
// store's Begin does.
type pipelinedSink struct {
	memSink
	begun, waited int
	failed        bool
}

func (p *pipelinedSink) Begin(ctx context.Context, batch []ocpi.Received) (func() ([]ocpi.Outcome, error), error) {
	p.begun++
	outs, err := p.Save(ctx, batch)
	if err != nil {
		p.failed = true
	}
	failed := p.failed
	return func() ([]ocpi.Outcome, error) {
		p.waited++
		if failed {
			return nil, errors.New("refused: an earlier batch failed")
		}
		return outs, nil
	}, nil
}

func TestImportPipelinedCountsOnlyCommittedBatches(t *testing.T) {
	var in strings.Builder
	cdr := compact(t, specFile(t, "2.2.1", "cdr_example.json"))
	for i := range 50 {
		in.WriteString(strings.Replace(cdr, `"id":"12345"`, fmt.Sprintf(`"id":"c%d"`, i), 1) + "\n")
	}
	for _, tc := range []struct {
		failAt       int
		wantAccepted int64
	}{{0, 50}, {3, 20}, {1, 0}} {
		sink := &pipelinedSink{memSink: memSink{failAt: tc.failAt}}
		sum, err := Import(context.Background(), sink, "f", strings.NewReader(in.String()), Options{BatchSize: 10})
		var se *SinkError
		if (tc.failAt > 0) != errors.As(err, &se) {
			t.Errorf("failAt %d: err = %v", tc.failAt, err)
		}
		if sum.Accepted != tc.wantAccepted {
			t.Errorf("failAt %d: %d accepted, want %d", tc.failAt, sum.Accepted, tc.wantAccepted)
		}
		if sink.waited != sink.begun {
			t.Errorf("failAt %d: %d batches begun, %d waited for", tc.failAt, sink.begun, sink.waited)
		}
	}
}
