package settle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The whole job over fakes: the ledger, the files and the partner steps
// are in memory, pricing runs on the fake store.

// jobStore adds the ScopeReader to the fake store.
type jobStore struct{ *fakeStore }

func (j jobStore) ScopeOwners(_ context.Context, sel *Selection) ([]Party, error) {
	seen := map[Party]bool{}
	var out []Party
	for _, c := range j.selected(sel) {
		p := NewParty(c.cdr.CountryCode, c.cdr.PartyID)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sortParties(out)
	return out, nil
}

func (j jobStore) ScopeInputs(_ context.Context, sel *Selection) ([]InputPart, error) {
	var ids []string
	for _, c := range j.selected(sel) {
		ids = append(ids, c.cdr.ID)
	}
	sort.Strings(ids)
	h := sha256.Sum256([]byte(strings.Join(ids, ",")))
	return []InputPart{{Name: "cdrs", Rows: int64(len(ids)), Hash: fmt.Sprintf("%x", h[:8])},
		{Name: "tariff_versions", Rows: int64(len(j.tariffs))}}, nil
}

func (j jobStore) PricedInputs(_ context.Context, run Run) (string, error) {
	for i := len(j.committed) - 1; i >= 0; i-- {
		if w := j.committed[i]; w.record.Run.ID() == run.ID() {
			return w.record.Inputs, nil
		}
	}
	return "", nil
}

// fakeLedger keeps runs as the store's ledger does: a unique identity,
// attempts, steps replaced by name, outputs by path.
type fakeLedger struct {
	mu     sync.Mutex
	runs   []*fakeLedgerRun
	claims int
}

type fakeLedgerRun struct {
	LedgerRun
	attempts int
	started  time.Time
	why      string
}

func (l *fakeLedger) find(k JobKey) *fakeLedgerRun {
	for _, r := range l.runs {
		if r.Key.Period == k.Period && r.Key.Partner == k.Partner && r.Key.Kind == k.Kind && r.Key.AsOf.Equal(k.AsOf) {
			return r
		}
	}
	return nil
}

func (l *fakeLedger) Claim(_ context.Context, k JobKey, _ string, started time.Time) (Claim, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.claims++
	r := l.find(k)
	switch {
	case r == nil:
		r = &fakeLedgerRun{LedgerRun: LedgerRun{No: int64(len(l.runs) + 1), Key: k}}
		l.runs = append(l.runs, r)
	case r.Status == StatusSucceeded:
		return Done, r.No, nil
	case r.Status == StatusRunning:
		return Busy, r.No, nil
	}
	r.Status, r.started = StatusRunning, started
	r.attempts++
	return Claimed, r.No, nil
}

func (l *fakeLedger) Lookup(_ context.Context, k JobKey) (LedgerRun, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.find(k)
	if r == nil {
		return LedgerRun{}, errors.New("no such run")
	}
	out := r.LedgerRun
	out.Steps, out.Outputs = slices.Clone(r.Steps), slices.Clone(r.Outputs)
	return out, nil
}

func (l *fakeLedger) Runs(_ context.Context, period, partner string, kinds ...JobKind) ([]LedgerRun, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LedgerRun
	for i := len(l.runs) - 1; i >= 0; i-- {
		r := l.runs[i]
		if r.Key.Period == period && r.Key.Partner == partner && slices.Contains(kinds, r.Key.Kind) {
			lr := r.LedgerRun
			lr.Outputs = nil
			out = append(out, lr)
		}
	}
	return out, nil
}

func (l *fakeLedger) byNo(no int64) *fakeLedgerRun { return l.runs[no-1] }

func (l *fakeLedger) SetInputs(_ context.Context, no int64, inputs, _ []byte, reset bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byNo(no)
	if r.Status != StatusRunning {
		return errors.New("not running")
	}
	r.Inputs = inputs
	if reset {
		r.Steps, r.Outputs = nil, nil
	}
	return nil
}

func (l *fakeLedger) RecordStep(_ context.Context, no int64, rec StepRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byNo(no)
	if !slices.Contains(r.Steps, rec.Name) {
		r.Steps = append(r.Steps, rec.Name)
	}
	for _, o := range rec.Outputs {
		r.Outputs = slices.DeleteFunc(r.Outputs, func(x FileOutput) bool { return x.Path == o.Path })
		r.Outputs = append(r.Outputs, o)
	}
	return nil
}

func (l *fakeLedger) Finish(_ context.Context, k JobKey, status, why string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.find(k)
	if r == nil || r.Status != StatusRunning {
		return errors.New("not running")
	}
	r.Status, r.why = status, why
	return nil
}

// memFiles is Files in memory; writes counts the files (re)written.
type memFiles struct {
	mu     sync.Mutex
	files  map[string][]byte
	writes int
}

func (m *memFiles) Write(rel string, render func(io.Writer) error) (FileOutput, error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return FileOutput{}, err
	}
	o := FileOutput{Path: rel, Bytes: int64(b.Len()), SHA256: sha256.Sum256(b.Bytes())}
	m.mu.Lock()
	defer m.mu.Unlock()
	if bytes.Equal(m.files[rel], b.Bytes()) {
		o.Unchanged = true
		return o, nil
	}
	m.files[rel] = b.Bytes()
	m.writes++
	return o, nil
}

func (m *memFiles) Existing(rel string) (FileOutput, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[rel]
	return FileOutput{Path: rel, Bytes: int64(len(b)), SHA256: sha256.Sum256(b), Unchanged: true}, ok
}

func (m *memFiles) Intact(o FileOutput) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[o.Path]
	return ok && sha256.Sum256(b) == o.SHA256
}

// noteStep writes one file per partner from what it is given; it fails
// (or runs a hook) when told to.
type noteStep struct {
	mu    sync.Mutex
	name  string
	calls []string
	fail  map[string]error // by party
	hook  func(p Party)
}

func (s *noteStep) Name() string { return s.name }

func (s *noteStep) Run(_ context.Context, p *PartnerRun) (*StepReport, error) {
	s.mu.Lock()
	s.calls = append(s.calls, p.Party.String())
	err := s.fail[p.Party.String()]
	s.mu.Unlock()
	if s.hook != nil {
		s.hook(p.Party)
	}
	if err != nil {
		return nil, err
	}
	f, err := p.Files.Write(s.name+".txt", func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s %s %s as of %s\n", s.name, p.Kind, p.Party, p.AsOf.Format(time.RFC3339))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &StepReport{Counts: map[string]int64{"files": 1}, Files: []FileOutput{f}}, nil
}

type jobFixture struct {
	store  *fakeStore
	ledger *fakeLedger
	files  *memFiles
	steps  []*noteStep
	deps   *JobDeps
}

// twoOwners is the fixture month with a second owner's CDR.
func newJobFixture() *jobFixture {
	f := fixture()
	f.tariffs = append(f.tariffs, energyTariff("DE", "XYZ", "T1", "EUR"))
	f.cdrs = append(f.cdrs, fakeCDR{key: int64(len(f.cdrs) + 1), received: at(28, 0),
		cdr: session("DE", "XYZ", "D1", at(20, 10), at(20, 11), "10", "2.50", "3.03")})
	j := &jobFixture{store: f, ledger: &fakeLedger{}, files: &memFiles{files: map[string][]byte{}},
		steps: []*noteStep{{name: "reconcile"}, {name: "invoice"}}}
	j.deps = &JobDeps{Source: f, Sink: f, Scope: jobStore{f}, Ledger: j.ledger, Files: j.files, Policy: []byte(`{"v":1}`)}
	for _, s := range j.steps {
		j.deps.Steps = append(j.deps.Steps, s)
	}
	return j
}

var (
	nov3 = time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	nov9 = time.Date(2026, 11, 9, 2, 0, 0, 0, time.UTC)
)

func (j *jobFixture) run(t *testing.T, req JobRequest) *JobResult {
	t.Helper()
	if req.Scope.Period.IsZero() {
		req.Scope.Period = oct
	}
	if req.Now == nil {
		req.Now = func() time.Time { return nov3 }
	}
	res, err := RunJob(context.Background(), j.deps, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (j *jobFixture) addCDR(cc, pid, id string) {
	f := j.store
	f.cdrs = append(f.cdrs, fakeCDR{key: int64(len(f.cdrs) + 1), received: at(28, 0),
		cdr: session(cc, pid, id, at(21, 10), at(21, 11), "10", "2.50", "3.03")})
}

func TestRunJobRepeatedChangesNothing(t *testing.T) {
	j := newJobFixture()
	first := j.run(t, JobRequest{})
	if first.Unchanged || first.No != 1 || first.Key.Kind != JobProvisional || !first.Key.AsOf.Equal(nov3) {
		t.Fatalf("first run %+v", first.Key)
	}
	if got := len(first.Steps); got != 5 { // price, then reconcile and invoice for DE-XYZ and NL-ABC
		t.Fatalf("%d steps, want 5", got)
	}
	if want := []string{"DE-XYZ", "NL-ABC"}; !slices.Equal(j.steps[0].calls, want) {
		t.Errorf("reconcile ran for %v, want %v", j.steps[0].calls, want)
	}
	if _, ok := j.files.files["2026-10/NL-ABC/invoice.txt"]; !ok {
		t.Errorf("files %v: want OUT/<period>/<partner>/", j.files.files)
	}
	writes, commits := j.files.writes, len(j.store.committed)
	again := j.run(t, JobRequest{Now: func() time.Time { return nov9 }})
	if !again.Unchanged || again.Same != 1 || len(again.Files) != 4 {
		t.Fatalf("second run on the same inputs: %+v, want unchanged since run 1 with its 4 files", again)
	}
	if j.files.writes != writes || len(j.store.committed) != commits || len(j.ledger.runs) != 1 || j.ledger.claims != 1 {
		t.Errorf("an unchanged run wrote %d files, %d runs, %d ledger rows", j.files.writes-writes, len(j.store.committed)-commits, len(j.ledger.runs)-1)
	}
	// A file that went missing is not "in place": the next run writes it.
	delete(j.files.files, "2026-10/DE-XYZ/reconcile.txt")
	third := j.run(t, JobRequest{Now: func() time.Time { return nov9 }})
	if third.Unchanged || third.No != 2 || !third.Key.AsOf.Equal(nov9) {
		t.Fatalf("after a file went missing: %+v, want a new run as of now", third)
	}
	if _, ok := j.files.files["2026-10/DE-XYZ/reconcile.txt"]; !ok {
		t.Error("the missing file was not written again")
	}
	// New inputs: a new run.
	j.addCDR("NL", "ABC", "LATE")
	fourth := j.run(t, JobRequest{Now: func() time.Time { return nov9.Add(time.Hour) }})
	if fourth.Unchanged || fourth.No != 3 || fourth.Inputs.Digest == third.Inputs.Digest {
		t.Fatalf("after a new CDR: %+v, want a new run with another digest", fourth)
	}
}

// A run that fails part way is taken up again by the next: same identity,
// the steps done on the same inputs are not done again.
func TestRunJobResumesAfterFailure(t *testing.T) {
	j := newJobFixture()
	j.steps[1].fail = map[string]error{"NL-ABC": errors.New("disk on fire")}
	_, err := RunJob(context.Background(), j.deps, JobRequest{Scope: Scope{Period: oct}, Now: func() time.Time { return nov3 }})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err %v, want the step's", err)
	}
	if r := j.ledger.runs[0]; r.Status != StatusFailed || !slices.Equal(r.Steps, []string{"price", "reconcile DE-XYZ", "invoice DE-XYZ", "reconcile NL-ABC"}) {
		t.Fatalf("ledger %s %v", r.Status, r.Steps)
	}
	commits := len(j.store.committed)
	j.steps[1].fail = nil
	j.steps[0].calls, j.steps[1].calls = nil, nil
	res := j.run(t, JobRequest{Now: func() time.Time { return nov9 }})
	if !res.Resumed || res.No != 1 || !res.Key.AsOf.Equal(nov3) {
		t.Fatalf("%+v: want run 1 (as of its first attempt) taken up again", res.Key)
	}
	if len(j.store.committed) != commits || len(j.steps[0].calls) != 0 || !slices.Equal(j.steps[1].calls, []string{"NL-ABC"}) {
		t.Errorf("price committed %d times more, reconcile ran for %v, invoice for %v: want only the invoice of NL-ABC",
			len(j.store.committed)-commits, j.steps[0].calls, j.steps[1].calls)
	}
	if r := j.ledger.runs[0]; r.Status != StatusSucceeded || r.attempts != 2 || len(r.Outputs) != 4 {
		t.Errorf("ledger %s after %d attempts with %d files", r.Status, r.attempts, len(r.Outputs))
	}
	if b := string(j.files.files["2026-10/NL-ABC/invoice.txt"]); !strings.Contains(b, "as of 2026-11-03T02:00:00Z") {
		t.Errorf("invoice.txt %q: want it dated by the first attempt", b)
	}
}

// New inputs between the attempts: every step is done again.
func TestRunJobResumeOnOtherInputsRedoesEverything(t *testing.T) {
	j := newJobFixture()
	j.steps[1].fail = map[string]error{"NL-ABC": errors.New("boom")}
	RunJob(context.Background(), j.deps, JobRequest{Scope: Scope{Period: oct}, Now: func() time.Time { return nov3 }})
	j.steps[1].fail = nil
	j.steps[0].calls = nil
	j.addCDR("DE", "XYZ", "LATE")
	res := j.run(t, JobRequest{Now: func() time.Time { return nov9 }})
	if !res.Resumed || res.No != 1 || !slices.Equal(j.steps[0].calls, []string{"DE-XYZ", "NL-ABC"}) {
		t.Fatalf("resumed %v run %d, reconcile ran for %v: want every step again", res.Resumed, res.No, j.steps[0].calls)
	}
}

func TestRunJobFinalAndCorrections(t *testing.T) {
	j := newJobFixture()
	_, err := RunJob(context.Background(), j.deps, JobRequest{Scope: Scope{Period: oct}, Final: true,
		Now: func() time.Time { return time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC) }})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("final before the period ends: %v", err)
	}
	j.run(t, JobRequest{})
	final := j.run(t, JobRequest{Final: true})
	if final.Key.Kind != JobFinal || !final.Key.AsOf.IsZero() || final.Unchanged {
		t.Fatalf("final %+v", final.Key)
	}
	if again := j.run(t, JobRequest{Final: true, Now: func() time.Time { return nov9 }}); !again.Unchanged || again.Same != final.No {
		t.Fatalf("final again on the same inputs: %+v", again)
	}
	if _, err := RunJob(context.Background(), j.deps, JobRequest{Scope: Scope{Period: oct}, Now: func() time.Time { return nov9 }}); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "--final") {
		t.Fatalf("provisional after the final: %v", err)
	}
	j.addCDR("NL", "ABC", "LATE")
	corr := j.run(t, JobRequest{Final: true, Now: func() time.Time { return nov9 }})
	if corr.Key.Kind != JobCorrection || !corr.Key.AsOf.Equal(nov9) {
		t.Fatalf("after a late CDR: %+v, want a correction as of now", corr.Key)
	}
	if again := j.run(t, JobRequest{Final: true, Now: func() time.Time { return nov9.Add(time.Hour) }}); !again.Unchanged || again.Same != corr.No {
		t.Fatalf("correction again on the same inputs: %+v", again)
	}
}

// A final run right after a provisional run of the same inputs uses the
// priced rows that run stored; new inputs, or rows priced outside the job,
// are priced again.
func TestRunJobReusesPricesOfTheSameInputs(t *testing.T) {
	j := newJobFixture()
	prov := j.run(t, JobRequest{})
	if prov.Price == nil || len(j.store.committed) != 1 || j.store.committed[0].record.Inputs != prov.Inputs.Digest {
		t.Fatalf("the provisional run priced %d times, recording inputs %q (digest %s)", len(j.store.committed),
			j.store.committed[0].record.Inputs, prov.Inputs.Digest)
	}
	final := j.run(t, JobRequest{Final: true})
	if len(j.store.committed) != 1 || final.Price != nil {
		t.Fatalf("the final run priced the same inputs again (%d price runs)", len(j.store.committed))
	}
	if ev := final.Steps[0]; ev.Name != "price" || !ev.Reused {
		t.Fatalf("first step %+v, want price reused", ev)
	}
	if got := len(final.Steps); got != 5 || len(j.steps[1].calls) != 4 {
		t.Fatalf("final: %d steps, invoice ran %d times; want price and both partners' steps", got, len(j.steps[1].calls))
	}
	r := j.ledger.find(final.Key)
	if !slices.Contains(r.Steps, "price") {
		t.Errorf("ledger steps %v: the reused price step is not recorded", r.Steps)
	}
	// Rows priced outside the job (reprice) carry no digest: priced again.
	if _, err := Execute(context.Background(), j.store, j.store, Options{Run: Run{Kind: KindReprice, Scope: Scope{Period: oct}}}); err != nil {
		t.Fatal(err)
	}
	j.addCDR("NL", "ABC", "LATE")
	corr := j.run(t, JobRequest{Final: true, Now: func() time.Time { return nov9 }})
	if corr.Price == nil || len(j.store.committed) != 3 {
		t.Fatalf("a correction on new inputs did not price (%d price runs)", len(j.store.committed))
	}
}

// Shutdown: the step going on finishes, the run stops at the boundary and
// is recorded canceled; the next run takes it up where it stopped.
func TestRunJobStopsAtStepBoundary(t *testing.T) {
	j := newJobFixture()
	ctx, cancel := context.WithCancel(context.Background())
	j.steps[0].hook = func(p Party) {
		if p.PartyID == "XYZ" {
			cancel()
		}
	}
	res, err := RunJob(ctx, j.deps, JobRequest{Scope: Scope{Period: oct}, Now: func() time.Time { return nov3 }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
	if r := j.ledger.runs[0]; r.Status != StatusCanceled || !slices.Equal(r.Steps, []string{"price", "reconcile DE-XYZ"}) {
		t.Fatalf("ledger %s %v: want canceled after the step that was going", r.Status, r.Steps)
	}
	if res == nil || len(res.Files) != 1 {
		t.Fatalf("result %+v", res)
	}
	j.steps[0].hook = nil
	again := j.run(t, JobRequest{Now: func() time.Time { return nov9 }})
	if !again.Resumed || again.No != 1 || len(again.Steps) != 3 {
		t.Fatalf("%+v with %d steps: want run 1 taken up again for the 3 steps left", again.Key, len(again.Steps))
	}
}

// Two triggers at once: one run, the other finds its inputs settled.
func TestRunJobTwoTriggersOneRun(t *testing.T) {
	j := newJobFixture()
	var wg sync.WaitGroup
	res := make([]*JobResult, 2)
	errs := make([]error, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = RunJob(context.Background(), j.deps, JobRequest{Scope: Scope{Period: oct}, Now: func() time.Time { return nov3 }})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if res[0].Unchanged == res[1].Unchanged || len(j.ledger.runs) != 1 || j.files.writes != 4 {
		t.Fatalf("unchanged %v %v, %d runs, %d files written: want one run and one set of files",
			res[0].Unchanged, res[1].Unchanged, len(j.ledger.runs), j.files.writes)
	}
}

// The schedule claims its run itself; RunClaimed does the steps, or
// nothing when the last provisional run had the same inputs.
func TestRunClaimed(t *testing.T) {
	j := newJobFixture()
	ctx := context.Background()
	key := JobKey{Period: "2026-10", Kind: JobProvisional, AsOf: nov3}
	if c, _, _ := j.ledger.Claim(ctx, key, "scheduled", nov3); c != Claimed {
		t.Fatal(c)
	}
	res, err := RunClaimed(ctx, j.deps, Scope{Period: oct}, key)
	if err != nil || res.Unchanged || len(res.Steps) != 5 {
		t.Fatalf("%v %+v", err, res)
	}
	if r := j.ledger.runs[0]; r.Status != StatusRunning {
		t.Fatalf("status %s: the schedule records the outcome, not RunClaimed", r.Status)
	}
	j.ledger.Finish(ctx, key, StatusSucceeded, "")
	key2 := JobKey{Period: "2026-10", Kind: JobProvisional, AsOf: nov9}
	j.ledger.Claim(ctx, key2, "scheduled", nov9)
	res, err = RunClaimed(ctx, j.deps, Scope{Period: oct}, key2)
	if err != nil || !res.Unchanged || res.Same != 1 || res.No != 2 {
		t.Fatalf("%v %+v: want run 2 unchanged since run 1", err, res)
	}
	if r := j.ledger.runs[1]; !slices.Equal(r.Steps, []string{"unchanged"}) || len(r.Inputs) == 0 {
		t.Fatalf("an unchanged scheduled run recorded %v: want its inputs and an unchanged step", r.Steps)
	}
}

func TestInputsDigest(t *testing.T) {
	parts := []InputPart{{"cdrs", 10, "a"}, {"tariff_versions", 2, "b"}}
	d := InputsDigest(parts, []byte(`{}`))
	if InputsDigest([]InputPart{parts[1], parts[0]}, []byte(`{}`)) != d {
		t.Error("the digest depends on the order of the parts")
	}
	for _, other := range [][]InputPart{
		{{"cdrs", 11, "a"}, {"tariff_versions", 2, "b"}},
		{{"cdrs", 10, "c"}, {"tariff_versions", 2, "b"}},
		{{"cdrs", 10, "a"}},
	} {
		if InputsDigest(other, []byte(`{}`)) == d {
			t.Errorf("%v digests as %v", other, parts)
		}
	}
	if InputsDigest(parts, []byte(`{"x":1}`)) == d {
		t.Error("the policy is not in the digest")
	}
}
