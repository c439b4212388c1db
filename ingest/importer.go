package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Sink stores received payloads. Save is called from one goroutine at a time
// and returns one outcome per payload, in order. An error means nothing of
// the batch was stored and the import stops.
type Sink interface {
	Save(ctx context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error)
}

// Options tune an import.
type Options struct {
	// Hint tells the decoder what the records are when it cannot be read
	// from them: the owner (country code and party id) of 2.1.1 objects,
	// which carry none, and optionally the kind and version.
	Hint ocpi.Hint
	// BatchSize is the number of records per Sink.Save (default 10,000).
	BatchSize int
	// Workers decode in parallel (default GOMAXPROCS).
	Workers int
	// Progress, when set, is called now and then with the bytes read so far.
	Progress func(bytesRead int64)
	// Now stamps received_at; default time.Now.
	Now func() time.Time
	// MaxExamples is how many rejects the summary keeps verbatim (default 20).
	MaxExamples int
	// maxRecord is MaxLineBytes, lowered by tests.
	maxRecord int
}

func (o *Options) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 10_000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxExamples == 0 {
		o.MaxExamples = maxExamples
	}
	if o.maxRecord == 0 {
		o.maxRecord = MaxLineBytes
	}
}

// Summary counts what an import did.
type Summary struct {
	Files      int
	Bytes      int64
	Records    int64
	Pages      int // OCPI response pages found
	ErrorPages int // pages whose status_code was not 1000
	Accepted   int64
	Duplicates int64
	Conflicts  int64
	Rejected   int64
	// Unknown counts the records of a batch whose commit failed in a way
	// the database could not clear up (a full disk): they may or may not be
	// stored. Importing the input again settles it (duplicates are
	// acknowledged).
	Unknown int64
	// AcceptedByKind counts accepted objects per kind.
	AcceptedByKind map[ocpi.Kind]int64
	// RejectedByRule counts rejected records by the first rule they broke.
	RejectedByRule map[ocpi.Rule]int64
	// Findings counts the problems of stored objects by rule.
	Findings map[ocpi.Rule]int64
	// Examples are the first rejects and conflicts, one line each, naming
	// the file, the record and the field.
	Examples []string
	Elapsed  time.Duration
}

// Merge adds two summaries.
func Merge(a, b Summary) Summary {
	a.add(b)
	return a
}

func (s *Summary) add(o Summary) {
	s.Files += o.Files
	s.Bytes += o.Bytes
	s.Records += o.Records
	s.Pages += o.Pages
	s.ErrorPages += o.ErrorPages
	s.Accepted += o.Accepted
	s.Duplicates += o.Duplicates
	s.Conflicts += o.Conflicts
	s.Rejected += o.Rejected
	s.Unknown += o.Unknown
	s.Elapsed += o.Elapsed
	s.AcceptedByKind = addCounts(s.AcceptedByKind, o.AcceptedByKind)
	s.RejectedByRule = addCounts(s.RejectedByRule, o.RejectedByRule)
	s.Findings = addCounts(s.Findings, o.Findings)
	s.Examples = append(s.Examples, o.Examples[:min(len(o.Examples), maxExamples-len(s.Examples))]...)
}

// maxExamples caps the reject lines a merged summary keeps.
const maxExamples = 20

func addCounts[K comparable](dst, src map[K]int64) map[K]int64 {
	if dst == nil {
		dst = map[K]int64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// ImportFiles imports each file in turn. A file that cannot be opened or
// read is reported in errs and the others go on; the summary covers all the
// files read. It stops at the first Sink error.
func ImportFiles(ctx context.Context, sink Sink, paths []string, opts Options) (sum Summary, errs []error) {
	for _, path := range paths {
		s, err := importFile(ctx, sink, path, opts)
		sum.add(s)
		if err != nil {
			errs = append(errs, err)
			var se *SinkError
			if errors.As(err, &se) || ctx.Err() != nil {
				return sum, errs
			}
		}
	}
	return sum, errs
}

func importFile(ctx context.Context, sink Sink, path string, opts Options) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("ingest %s: %w", path, err)
	}
	defer f.Close()
	sum, err := Import(ctx, sink, path, f, opts)
	sum.Files = 1 // opened and read, even when the import stopped in it
	if err != nil {
		return sum, fmt.Errorf("ingest %s: %w", path, err)
	}
	return sum, nil
}

// PipelinedSink is a Sink that can take the next batch while the previous
// one is still being committed. Begin prepares a batch (classifies it
// against everything stored or begun before) and commits it in the
// background, in the order of the Begin calls; wait returns what Save would
// have. When a batch fails, the batches begun after it fail as well.
type PipelinedSink interface {
	Sink
	Begin(ctx context.Context, batch []ocpi.Received) (wait func() ([]ocpi.Outcome, error), err error)
}

// SinkError is a storage failure: the import stopped and the batch in hand
// was not stored.
type SinkError struct{ Err error }

func (e *SinkError) Error() string { return "store: " + e.Err.Error() }
func (e *SinkError) Unwrap() error { return e.Err }

// chunkSize is how many records travel together between pipeline stages:
// big enough to amortise channel hand-offs, small enough to keep memory flat.
const chunkSize = 512

type chunk struct {
	seq  int
	recs []ocpi.Received
}

// Import reads one input named name (a path or a label) and stores every
// record found in it through sink.
func Import(ctx context.Context, sink Sink, name string, r io.Reader, opts Options) (Summary, error) {
	opts.defaults()
	start := time.Now()
	sum := Summary{AcceptedByKind: map[ocpi.Kind]int64{}, RejectedByRule: map[ocpi.Rule]int64{}, Findings: map[ocpi.Rule]int64{}}
	receivedAt := opts.Now().UTC()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cr := &countingReader{r: r}

	// Decoding runs a whole batch ahead of storing, so that the workers keep
	// the cores busy while the Sink commits the previous batch.
	ahead := opts.BatchSize/chunkSize + 2*opts.Workers
	pieces := make(chan chunk, 2*opts.Workers)
	decoded := make(chan chunk, ahead)

	// Stage 1: cut the input into records.
	var splitErr error
	var pages, errorPages int
	splitDone := make(chan struct{})
	go func() {
		defer close(splitDone)
		defer close(pieces)
		seq, pos := 0, int64(0)
		cur := chunk{recs: make([]ocpi.Received, 0, chunkSize)}
		flush := func() error {
			if len(cur.recs) == 0 {
				return nil
			}
			select {
			case pieces <- cur:
			case <-ctx.Done():
				return errStop
			}
			seq++
			cur = chunk{seq: seq, recs: make([]ocpi.Received, 0, chunkSize)}
			return nil
		}
		pages, errorPages, splitErr = split(cr, opts.maxRecord, func(p piece) error {
			cur.recs = append(cur.recs, fromPiece(p, name, pos, receivedAt, opts.Hint))
			pos++
			if len(cur.recs) == chunkSize {
				return flush()
			}
			return nil
		})
		if splitErr == nil {
			splitErr = flush()
			if errors.Is(splitErr, errStop) {
				splitErr = nil
			}
		}
	}()

	// Stage 2: decode and validate in parallel.
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range pieces {
				for i := range c.recs {
					if !c.recs[i].Rejected {
						ocpi.DecodeReceived(&c.recs[i], opts.Hint)
					}
				}
				select {
				case decoded <- c:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(decoded) }()

	// Stage 3: restore input order and store in batches.
	pending := map[int]chunk{}
	next := 0
	batch := make([]ocpi.Received, 0, opts.BatchSize)
	var sinkErr error
	lastProgress := time.Now()
	// With a PipelinedSink the batch in hand is begun (classified, rows
	// built) while the previous one commits; its outcomes are counted once
	// its transaction is over.
	pipelined, _ := sink.(PipelinedSink)
	var inFlight []ocpi.Received
	var waitInFlight func() ([]ocpi.Outcome, error)
	settle := func(recs []ocpi.Received, outs []ocpi.Outcome, err error) {
		if err == nil && len(outs) != len(recs) {
			err = fmt.Errorf("sink answered %d outcomes for %d records", len(outs), len(recs))
		}
		if err != nil {
			if sinkErr == nil {
				sinkErr = &SinkError{Err: err}
			}
			var u interface{ OutcomeUnknown() bool }
			if errors.As(err, &u) && u.OutcomeUnknown() {
				sum.Unknown += int64(len(recs))
			}
			cancel()
			return
		}
		sum.count(recs, outs, opts.MaxExamples)
	}
	finishInFlight := func() {
		if waitInFlight == nil {
			return
		}
		outs, err := waitInFlight()
		settle(inFlight, outs, err)
		waitInFlight, inFlight = nil, nil
	}
	save := func() {
		if len(batch) == 0 || sinkErr != nil {
			return
		}
		if pipelined == nil {
			outs, err := sink.Save(ctx, batch)
			settle(batch, outs, err)
			batch = batch[:0]
			return
		}
		wait, err := pipelined.Begin(ctx, batch)
		finishInFlight()
		if err != nil {
			settle(batch, nil, err)
			return
		}
		inFlight, waitInFlight = batch, wait
		batch = make([]ocpi.Received, 0, opts.BatchSize) // inFlight keeps the old one
	}
	for c := range decoded {
		if sinkErr != nil {
			continue // drain
		}
		pending[c.seq] = c
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for _, r := range c.recs {
				batch = append(batch, r)
				if len(batch) == opts.BatchSize {
					save()
				}
			}
		}
		if opts.Progress != nil && time.Since(lastProgress) > 100*time.Millisecond {
			opts.Progress(cr.n.Load())
			lastProgress = time.Now()
		}
	}
	save()
	finishInFlight()
	<-splitDone
	if opts.Progress != nil {
		opts.Progress(cr.n.Load())
	}
	sum.Bytes = cr.n.Load()
	sum.Pages, sum.ErrorPages = pages, errorPages
	sum.Elapsed = time.Since(start)
	if sinkErr != nil {
		return sum, sinkErr
	}
	if splitErr != nil {
		return sum, splitErr
	}
	return sum, ctx.Err()
}

// fromPiece turns a cut record into a Received, rejected already when the
// splitter found it broken.
func fromPiece(p piece, name string, pos int64, at time.Time, hint ocpi.Hint) ocpi.Received {
	r := ocpi.Received{
		Source:     ocpi.Source{Channel: ocpi.ChannelFile, Name: name, Partner: partnerOf(hint), Position: pos},
		ReceivedAt: at,
		Raw:        p.raw,
	}
	// Raw and SHA256 always agree: an oversized record keeps only its
	// prefix, under the prefix's own hash; the whole record's hash is in
	// its problem (a shortened record under the full hash used to abort
	// the import in the store's consistency check).
	r.SHA256 = sha256.Sum256(p.raw)
	if p.problem != "" {
		rule := ocpi.RuleSyntax
		if p.truncated {
			rule = ocpi.RuleTooLarge
		}
		r.Rejected = true
		r.Problems = ocpi.Problems{{Rule: rule, Message: fmt.Sprintf("at byte offset %d: %s", p.offset, p.problem), Blocking: true}}
	}
	return r
}

func partnerOf(h ocpi.Hint) string {
	if h.CountryCode == "" && h.PartyID == "" {
		return ""
	}
	return ocpi.PartyKey(h.CountryCode, h.PartyID)
}

func (s *Summary) count(batch []ocpi.Received, outs []ocpi.Outcome, maxExamples int) {
	for i := range batch {
		r := &batch[i]
		s.Records++
		switch outs[i] {
		case ocpi.OutcomeAccepted:
			s.Accepted++
			s.AcceptedByKind[r.Kind]++
			for _, p := range r.Problems {
				s.Findings[p.Rule]++
			}
		case ocpi.OutcomeDuplicate:
			s.Duplicates++
		case ocpi.OutcomeConflict:
			s.Conflicts++
			// A few conflicts are enough to show; leave the room to rejects.
			if len(s.Examples) < maxExamples && s.Conflicts <= 5 {
				cc, pid, id := r.Identity()
				s.Examples = append(s.Examples, fmt.Sprintf("%s: record %d: %s %s-%s %s: a different body under an identity already stored [conflict]",
					r.Source.Name, r.Source.Position+1, kindName(r.Kind), cc, pid, id))
			}
		case ocpi.OutcomeRejected:
			s.Rejected++
			s.RejectedByRule[rejectRule(r.Problems)]++
			if len(s.Examples) < maxExamples {
				s.Examples = append(s.Examples, RejectLine(r))
			}
		}
	}
}

// kindName spells a kind in messages.
func kindName(k ocpi.Kind) string {
	switch k {
	case ocpi.KindCDR:
		return "CDR"
	case ocpi.KindInvoice:
		return "invoice reconciliation record"
	}
	return string(k)
}

// rejectRule is why a payload was rejected: its first blocking problem.
func rejectRule(ps ocpi.Problems) ocpi.Rule {
	for _, p := range ps {
		if p.Blocking {
			return p.Rule
		}
	}
	if len(ps) > 0 {
		return ps[0].Rule
	}
	return ocpi.RuleSyntax
}

// firstBlocking returns the index of the first blocking problem, or 0.
func firstBlocking(ps ocpi.Problems) int {
	for i, p := range ps {
		if p.Blocking {
			return i
		}
	}
	return 0
}

// RejectLine names the file, the record and the field of a rejected payload
// in one line.
func RejectLine(r *ocpi.Received) string {
	msg := "rejected"
	if len(r.Problems) > 0 {
		msg = r.Problems[firstBlocking(r.Problems)].String()
		if n := len(r.Problems) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
	}
	return fmt.Sprintf("%s: record %d: %s", r.Source.Name, r.Source.Position+1, msg)
}

// SortedRules returns the keys of a count map in a stable order for printing.
func SortedRules(m map[ocpi.Rule]int64) []ocpi.Rule {
	rules := make([]ocpi.Rule, 0, len(m))
	for r := range m {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if m[rules[i]] != m[rules[j]] {
			return m[rules[i]] > m[rules[j]]
		}
		return rules[i] < rules[j]
	})
	return rules
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
