package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func openRunsDB(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	octFinal = RunKey{Period: "2026-10", Partner: "", Kind: "final"}
	octProv  = RunKey{Period: "2026-10", Partner: "NL-ABC", Kind: "provisional",
		AsOf: time.Date(2026, 10, 12, 2, 0, 0, 0, time.UTC)}
)

func begin(t *testing.T, s *Store, k RunKey, origin string) (RunClaim, int64) {
	t.Helper()
	c, no, err := s.ClaimRun(context.Background(), RunStart{Key: k, Origin: origin, Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return c, no
}

// A run's life through the ledger: claimed, busy while running, retried
// under the same number after a failure, done after success, also after
// the database is reopened. A final's zero AsOf and the all-partners ""
// are values in the unique key, so they collide as they must.
func TestRunLedgerLifecycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runs.duckdb")
	s := openRunsDB(t, path)

	c, no := begin(t, s, octFinal, "scheduled")
	if c != RunClaimed || no == 0 {
		t.Fatalf("first begin: %v %d", c, no)
	}
	if c, n := begin(t, s, octFinal, "manual"); c != RunBusy || n != no {
		t.Fatalf("begin while running: %v %d, want busy %d", c, n, no)
	}
	if err := s.FinishRun(ctx, octFinal, RunEnd{Status: RunFailed, Err: "panic: boom", Panicked: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, octFinal, RunEnd{Status: RunSucceeded}); !errors.Is(err, ErrRunNotRunning) {
		t.Fatalf("second finish: %v, want ErrRunNotRunning", err)
	}
	if c, n := begin(t, s, octFinal, "manual"); c != RunClaimed || n != no {
		t.Fatalf("begin after failure: %v %d, want claimed %d", c, n, no)
	}
	if err := s.FinishRun(ctx, octFinal, RunEnd{Status: RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	if c, n := begin(t, s, octFinal, "scheduled"); c != RunDone || n != no {
		t.Fatalf("begin after success: %v %d, want done %d", c, n, no)
	}
	// Another scope of the same period is another run.
	if c, n := begin(t, s, octProv, "scheduled"); c != RunClaimed || n == no {
		t.Fatalf("provisional: %v %d", c, n)
	}
	d, err := s.RunByNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != RunSucceeded || d.Attempts != 2 || d.Origin != "manual" || d.Key.AsOf != (time.Time{}) || d.Ended.IsZero() {
		t.Fatalf("record: %+v", d.RunRecord)
	}
	if len(d.History) != 2 || d.History[0].Status != RunFailed || !d.History[0].Panicked ||
		d.History[0].Err != "panic: boom" || d.History[1].Status != RunSucceeded || d.History[1].PID != os.Getpid() {
		t.Fatalf("history: %+v", d.History)
	}
	if _, err := s.RunByNo(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}

	s.Close()
	s = openRunsDB(t, path)
	if c, _ := begin(t, s, octFinal, "catch-up"); c != RunDone {
		t.Fatalf("after reopen: %v, want done", c)
	}
	// The provisional run was left running by the closed Store: this
	// process opened the file again, so it was interrupted.
	r, err := s.RunByKey(ctx, octProv)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != RunInterrupted {
		t.Fatalf("provisional after reopen: %s", r.Status)
	}
}

// Begins of one identity at once claim it once, through the Store (its
// mutex) and, below it, through the unique key alone: two transactions
// that both read "no such run" and insert it cannot both commit.
func TestRunLedgerConcurrentBegins(t *testing.T) {
	ctx := context.Background()
	s := openRunsDB(t, filepath.Join(t.TempDir(), "runs.duckdb"))

	const n = 8
	claims := make([]RunClaim, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, _, err := s.ClaimRun(ctx, RunStart{Key: octFinal, Origin: "manual"})
			if err != nil {
				t.Error(err)
			}
			claims[i] = c
		}()
	}
	close(start)
	wg.Wait()
	if got := count(claims, RunClaimed); got != 1 || count(claims, RunBusy) != n-1 {
		t.Fatalf("claims %v: want one claimed, the rest busy", claims)
	}

	// Without the mutex: read-then-insert in two transactions at once.
	for round := range 5 {
		k := RunKey{Period: "2026-11", Kind: "final", Partner: "R" + strconv.Itoa(round)}
		errs := make([]error, 2)
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, errs[i] = s.beginRun(ctx, RunStart{Key: k, Origin: "manual", Started: time.Now()})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			}
		}
		var rows int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE partner = ?`, k.Partner).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 || ok < 1 {
			t.Fatalf("round %d: %d rows, errors %v", round, rows, errs)
		}
		// Whichever lost (if they overlapped at all) sees the run as busy.
		if c, _, held := s.heldRun(ctx, k); !held || c != RunBusy {
			t.Fatalf("round %d: held %v %v", round, c, held)
		}
	}
}

func count(cs []RunClaim, c RunClaim) int {
	n := 0
	for _, x := range cs {
		if x == c {
			n++
		}
	}
	return n
}

// A process that claimed a run and was killed with SIGKILL leaves it
// running; the next process that opens the file marks it interrupted, and a
// new attempt claims it.
func TestRunLedgerInterruptedOnReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runs.duckdb")
	openRunsDB(t, path).Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestRunLedgerChild$")
	cmd.Env = append(os.Environ(), runClaimerEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "claimed") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()

	s := openRunsDB(t, path)
	r, err := s.RunByKey(ctx, octFinal)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	if r.Status != RunInterrupted || !strings.Contains(r.Err, "(pid "+pid+")") || !r.Ended.IsZero() {
		t.Fatalf("after SIGKILL: %+v", r)
	}
	if c, no := begin(t, s, octFinal, "catch-up"); c != RunClaimed || no != r.No {
		t.Fatalf("retry: %v %d", c, no)
	}
	d, err := s.RunByNo(ctx, r.No)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.History) != 2 || d.History[0].Status != RunInterrupted || d.History[0].PID != cmd.Process.Pid ||
		d.History[1].Status != RunRunning {
		t.Fatalf("history: %+v", d.History)
	}
}

const runClaimerEnv = "ROAMSETTLE_TEST_CLAIM_RUN"

// TestRunLedgerChild is the killed process of TestRunLedgerInterruptedOnReopen.
func TestRunLedgerChild(t *testing.T) {
	path := os.Getenv(runClaimerEnv)
	if path == "" {
		t.Skip("run by TestRunLedgerInterruptedOnReopen")
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := s.ClaimRun(context.Background(), RunStart{Key: octFinal, Origin: "scheduled"}); err != nil || c != RunClaimed {
		t.Fatalf("child begin: %v %v", c, err)
	}
	os.Stdout.WriteString("claimed\n")
	time.Sleep(time.Minute) // killed before
}

// Steps keep their order when a later attempt redoes one, amounts are exact
// decimal strings, and the listing filters and orders runs.
func TestRunLedgerStepsAndListing(t *testing.T) {
	ctx := context.Background()
	s := openRunsDB(t, filepath.Join(t.TempDir(), "runs.duckdb"))
	t1 := time.Date(2026, 11, 6, 2, 0, 0, 0, time.UTC)
	inputs := json.RawMessage(`{"cdrs":1200,"partners":["NL-ABC"]}`)
	c, no, err := s.ClaimRun(ctx, RunStart{Key: octFinal, Origin: "manual", Started: t1, Inputs: inputs,
		Policy: json.RawMessage(`{"rounding":"half_up"}`)})
	if err != nil || c != RunClaimed {
		t.Fatal(c, err)
	}
	price := RunStep{Name: "price", Started: t1, Ended: t1.Add(time.Second), Counts: map[string]int64{"cdrs": 1200, "not_priceable": 3},
		Amounts: []RunAmount{{Name: "total_cost_excl_vat", Currency: "EUR", Amount: d("48210.77")},
			{Name: "total_cost_excl_vat", Currency: "HUF", Amount: d("1234567.000001")}}}
	invoice := RunStep{Name: "invoice", Started: t1.Add(time.Second), Ended: t1.Add(2 * time.Second),
		Outputs: []RunOutput{{Path: "out/2026-10/NL-ABC/invoice.pdf", Bytes: 2048, SHA256: [32]byte{1, 2, 3}}}}
	for _, st := range []RunStep{price, invoice} {
		if err := s.RecordRunStep(ctx, no, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, octFinal, RunEnd{Status: RunCanceled, Err: "context canceled"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRunStep(ctx, no, price); !errors.Is(err, ErrRunNotRunning) {
		t.Fatalf("step of a finished run: %v", err)
	}
	// The second attempt redoes price with other figures.
	if c, _, err := s.ClaimRun(ctx, RunStart{Key: octFinal, Origin: "manual", Started: t1.Add(time.Hour)}); err != nil || c != RunClaimed {
		t.Fatal(c, err)
	}
	price.Counts["cdrs"] = 1201
	if err := s.RecordRunStep(ctx, no, price); err != nil {
		t.Fatal(err)
	}
	d, err := s.RunByNo(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{d.Steps[0].Name, d.Steps[1].Name}; !cmp.Equal(got, []string{"price", "invoice"}) {
		t.Fatalf("step order %v", got)
	}
	if d.Steps[0].Counts["cdrs"] != 1201 || d.Steps[0].Amounts[0].Amount.String() != "48210.77" ||
		d.Steps[0].Amounts[1].Amount.String() != "1234567.000001" || d.Steps[0].Amounts[1].Currency != "HUF" {
		t.Fatalf("price step: %+v", d.Steps[0])
	}
	if len(d.Outputs) != 1 || d.Outputs[0].Step != "invoice" || d.Outputs[0].SHA256 != ([32]byte{1, 2, 3}) || d.Outputs[0].Bytes != 2048 {
		t.Fatalf("outputs: %+v", d.Outputs)
	}
	if string(d.Inputs) != string(inputs) || string(d.Policy) != `{"rounding":"half_up"}` {
		t.Fatalf("inputs %s policy %s: a later attempt without them keeps the first ones", d.Inputs, d.Policy)
	}

	begin(t, s, octProv, "scheduled")
	all, err := s.Runs(ctx, RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Key != octProv || all[1].No != no || len(all[1].Steps) != 2 {
		t.Fatalf("listing: %+v", all)
	}
	only, err := s.Runs(ctx, RunFilter{Partner: "NL-ABC", Status: RunRunning, Limit: 5})
	if err != nil || len(only) != 1 || only[0].Key != octProv {
		t.Fatalf("filtered: %+v %v", only, err)
	}
}

// Earliest is where the schedule's catch-up starts: runs it started, per
// partner scope, whatever their status.
func TestRunLedgerEarliest(t *testing.T) {
	ctx := context.Background()
	s := openRunsDB(t, filepath.Join(t.TempDir(), "runs.duckdb"))
	if _, ok, err := s.EarliestRunPeriod(ctx, "", "scheduled", "catch-up"); err != nil || ok {
		t.Fatalf("empty ledger: %v %v", ok, err)
	}
	begin(t, s, RunKey{Period: "2026-03", Kind: "final"}, "manual")
	begin(t, s, RunKey{Period: "2026-05", Kind: "final"}, "catch-up")
	begin(t, s, RunKey{Period: "2026-04", Kind: "final", Partner: "NL-ABC"}, "scheduled")
	begin(t, s, RunKey{Period: "2026-06", Kind: "provisional", AsOf: time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)}, "scheduled")
	for _, c := range []struct {
		partner string
		origins []string
		want    string
	}{
		{"", []string{"scheduled", "catch-up"}, "2026-05"},
		{"", nil, "2026-03"},
		{"NL-ABC", []string{"scheduled", "catch-up"}, "2026-04"},
	} {
		p, ok, err := s.EarliestRunPeriod(ctx, c.partner, c.origins...)
		if err != nil || !ok || p != c.want {
			t.Errorf("earliest(%q, %v) = %q %v %v, want %s", c.partner, c.origins, p, ok, err, c.want)
		}
	}
}

// A database created by a process that is killed before its first
// checkpoint (serve, SIGKILL) opens again with what it committed: its
// migrations are not left in the WAL, which DuckDB could not replay.
func TestFreshDatabaseSurvivesSIGKILL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fresh.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunLedgerChild$")
	cmd.Env = append(os.Environ(), runClaimerEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil || !strings.HasPrefix(line, "claimed") {
		t.Fatalf("child: %q %v", line, err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening a database whose creator was killed: %v", err)
	}
	defer s.Close()
	if r, err := s.RunByKey(ctx, octFinal); err != nil || r.Status != RunInterrupted {
		t.Fatalf("the run the killed process claimed (committed to the WAL): %+v %v", r, err)
	}
}
