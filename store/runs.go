package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// The run ledger (migration 0008): one row per run identity, for the
// schedule (cmd adapts it to schedule.Ledger) and the run and runs commands.
// The identity's unique key, not a lock, is what makes two triggers of one
// run produce one set of documents. ClaimRun is serialised in the process as
// well (runMu), so a trigger that loses sees Busy instead of a constraint
// error; the unique key still decides should two writers ever race.

// Run statuses as stored.
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"
	RunCanceled    = "canceled"
	RunInterrupted = "interrupted" // left running by a process that died
)

// ErrRunNotRunning: FinishRun or RecordRunStep for a run that is not
// claimed (never begun, or already finished).
var ErrRunNotRunning = errors.New("run is not running")

// RunKey is a run's identity. Partner "" is the all-partners scope; AsOf is
// the zero time for a run that happens once per scope (a final), else the
// instant it stands for (stored in UTC to the second).
type RunKey struct {
	Period  string // "YYYY-MM"
	Partner string // "CC-PID" or ""
	Kind    string // "provisional", "final", ...
	AsOf    time.Time
}

func (k RunKey) norm() RunKey {
	k.AsOf = k.AsOf.UTC().Truncate(time.Second)
	return k
}

func (k RunKey) String() string {
	p := k.Partner
	if p == "" {
		p = "all"
	}
	s := k.Period + " " + p + " " + k.Kind
	if !k.AsOf.IsZero() {
		s += " as of " + k.AsOf.UTC().Format(time.RFC3339)
	}
	return s
}

func (k RunKey) valid() error {
	if k.Period == "" || k.Kind == "" {
		return fmt.Errorf("%w: a run key needs a period and a kind", ErrInvalid)
	}
	return nil
}

// RunClaim is ClaimRun's answer.
type RunClaim int

const (
	// RunClaimed: the run is recorded as running, attempt n.
	RunClaimed RunClaim = iota
	// RunDone: a run with this identity has succeeded; nothing to do.
	RunDone
	// RunBusy: a run with this identity is running now.
	RunBusy
)

func (c RunClaim) String() string {
	switch c {
	case RunClaimed:
		return "claimed"
	case RunDone:
		return "done"
	case RunBusy:
		return "busy"
	}
	return fmt.Sprintf("RunClaim(%d)", int(c))
}

// RunStart is a new attempt of a run.
type RunStart struct {
	Key     RunKey
	Origin  string // scheduled, catch-up, manual, ...
	Started time.Time
	// Inputs and Policy (JSON, optional) describe what the run settles
	// with; a later attempt that gives none keeps the earlier ones.
	Inputs, Policy json.RawMessage
}

// RunEnd is how a claimed attempt ended.
type RunEnd struct {
	Status   string // RunSucceeded, RunFailed or RunCanceled
	Err      string
	Panicked bool
	Ended    time.Time
}

// RunStep is what one step of a run did.
type RunStep struct {
	Name           string
	Started, Ended time.Time
	Counts         map[string]int64
	Amounts        []RunAmount
	Outputs        []RunOutput
}

// RunAmount is a sum a step reports, in one currency (amounts in different
// currencies are never added).
type RunAmount struct {
	Name     string          `json:"name"`
	Currency string          `json:"currency"`
	Amount   decimal.Decimal `json:"amount"`
}

// RunOutput is a file a run wrote.
type RunOutput struct {
	Path   string
	Step   string // set by RecordRunStep
	Bytes  int64
	SHA256 [32]byte
}

// RunRecord is a run as the ledger holds it.
type RunRecord struct {
	No       int64
	Key      RunKey
	Origin   string
	Status   string
	Attempts int
	Started  time.Time
	Ended    time.Time // zero while running
	Err      string
	Panicked bool
	PID      int
	Inputs   json.RawMessage
	Policy   json.RawMessage
	Steps    []RunStep // in the order they ran, without outputs
}

// RunAttempt is one attempt of a run.
type RunAttempt struct {
	Attempt  int
	Origin   string
	Status   string
	Started  time.Time
	Ended    time.Time
	Err      string
	Panicked bool
	PID      int
}

// RunDetail is a run with its attempts, steps and outputs (runs show).
type RunDetail struct {
	RunRecord
	History []RunAttempt
	Outputs []RunOutput
}

const runColumns = `run_no, period, partner, kind, as_of, origin, status, attempts, started_at, ended_at,
	coalesce(error, ''), panicked, pid, inputs, policy`

// ClaimRun claims the identity for a new attempt: RunClaimed with the run's
// number when no attempt succeeded and none is running (a failed, canceled
// or interrupted one is retried under the same number), else RunDone or
// RunBusy with the number of the run that holds the identity.
func (s *Store) ClaimRun(ctx context.Context, r RunStart) (RunClaim, int64, error) {
	r.Key = r.Key.norm()
	if err := r.Key.valid(); err != nil {
		return 0, 0, errorf("begin run", r.Key.String(), err)
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	claim, no, err := s.beginRun(ctx, r)
	if err != nil {
		// Should another writer have taken the identity between our read
		// and our commit, the unique key refused ours: read what it holds.
		if c, n, ok := s.heldRun(ctx, r.Key); ok {
			return c, n, nil
		}
	}
	return claim, no, errorf("begin run", r.Key.String(), err)
}

func (s *Store) beginRun(ctx context.Context, r RunStart) (RunClaim, int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	k := r.Key
	var no int64
	var status string
	var attempts int
	err = tx.QueryRowContext(ctx, `SELECT run_no, status, attempts FROM runs
		WHERE period = ? AND partner = ? AND kind = ? AND as_of = ?`, k.Period, k.Partner, k.Kind, k.AsOf).
		Scan(&no, &status, &attempts)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		attempts = 1
		err = tx.QueryRowContext(ctx, `INSERT INTO runs (period, partner, kind, as_of, origin, status, attempts,
			started_at, panicked, pid, inputs, policy) VALUES (?, ?, ?, ?, ?, 'running', 1, ?, false, ?, ?, ?)
			RETURNING run_no`, k.Period, k.Partner, k.Kind, k.AsOf, r.Origin, r.Started.UTC(), os.Getpid(),
			jsonText(r.Inputs), jsonText(r.Policy)).Scan(&no)
	case err != nil:
	case status == RunSucceeded:
		return RunDone, no, nil
	case status == RunRunning:
		return RunBusy, no, nil
	default:
		attempts++
		_, err = tx.ExecContext(ctx, `UPDATE runs SET status = 'running', attempts = ?, origin = ?, started_at = ?,
			ended_at = NULL, error = NULL, panicked = false, pid = ?,
			inputs = coalesce(?, inputs), policy = coalesce(?, policy) WHERE run_no = ?`,
			attempts, r.Origin, r.Started.UTC(), os.Getpid(), jsonText(r.Inputs), jsonText(r.Policy), no)
	}
	if err != nil {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO run_attempts (run_no, attempt, origin, status, started_at, panicked, pid)
		VALUES (?, ?, ?, 'running', ?, false, ?)`, no, attempts, r.Origin, r.Started.UTC(), os.Getpid()); err != nil {
		return 0, 0, err
	}
	return RunClaimed, no, tx.Commit()
}

// heldRun reads who holds key after a failed claim.
func (s *Store) heldRun(ctx context.Context, k RunKey) (RunClaim, int64, bool) {
	var no int64
	var status string
	if err := s.db.QueryRowContext(ctx, `SELECT run_no, status FROM runs
		WHERE period = ? AND partner = ? AND kind = ? AND as_of = ?`, k.Period, k.Partner, k.Kind, k.AsOf).
		Scan(&no, &status); err != nil {
		return 0, 0, false
	}
	switch status {
	case RunSucceeded:
		return RunDone, no, true
	case RunRunning:
		return RunBusy, no, true
	}
	return 0, 0, false
}

// FinishRun records how the running attempt of key ended. A run that is not
// running is ErrRunNotRunning.
func (s *Store) FinishRun(ctx context.Context, key RunKey, e RunEnd) error {
	key = key.norm()
	switch e.Status {
	case RunSucceeded, RunFailed, RunCanceled:
	default:
		return errorf("finish run", key.String(), fmt.Errorf("%w: status %q", ErrInvalid, e.Status))
	}
	if e.Ended.IsZero() {
		e.Ended = time.Now()
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return errorf("finish run", key.String(), s.finishRun(ctx, key, e))
}

func (s *Store) finishRun(ctx context.Context, k RunKey, e RunEnd) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var no int64
	var attempt int
	err = tx.QueryRowContext(ctx, `UPDATE runs SET status = ?, ended_at = ?, error = ?, panicked = ?
		WHERE period = ? AND partner = ? AND kind = ? AND as_of = ? AND status = 'running'
		RETURNING run_no, attempts`, e.Status, e.Ended.UTC(), nullText(e.Err), e.Panicked,
		k.Period, k.Partner, k.Kind, k.AsOf).Scan(&no, &attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrRunNotRunning
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE run_attempts SET status = ?, ended_at = ?, error = ?, panicked = ?
		WHERE run_no = ? AND attempt = ?`, e.Status, e.Ended.UTC(), nullText(e.Err), e.Panicked, no, attempt); err != nil {
		return err
	}
	return tx.Commit()
}

// RecordRunStep records what a step of a running run did, and the files it
// wrote. A step recorded again (a later attempt redid it) replaces the
// earlier record and keeps its place in the order.
func (s *Store) RecordRunStep(ctx context.Context, runNo int64, st RunStep) error {
	object := fmt.Sprintf("run %d step %s", runNo, st.Name)
	if st.Name == "" {
		return errorf("record run step", object, fmt.Errorf("%w: a step needs a name", ErrInvalid))
	}
	counts, err := json.Marshal(st.Counts)
	if err != nil {
		return errorf("record run step", object, err)
	}
	if st.Counts == nil {
		counts = []byte("{}")
	}
	amounts := []byte("[]")
	if len(st.Amounts) > 0 {
		if amounts, err = json.Marshal(st.Amounts); err != nil {
			return errorf("record run step", object, err)
		}
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return errorf("record run step", object, s.recordRunStep(ctx, runNo, st, string(counts), string(amounts)))
}

func (s *Store) recordRunStep(ctx context.Context, runNo int64, st RunStep, counts, amounts string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var attempt int
	err = tx.QueryRowContext(ctx, `SELECT attempts FROM runs WHERE run_no = ? AND status = 'running'`, runNo).Scan(&attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrRunNotRunning
	}
	if err != nil {
		return err
	}
	var index int
	err = tx.QueryRowContext(ctx, `SELECT step_index FROM run_steps WHERE run_no = ? AND name = ?`, runNo, st.Name).Scan(&index)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM run_steps WHERE run_no = ?`, runNo).Scan(&index)
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM run_steps WHERE run_no = ? AND name = ?`, runNo, st.Name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO run_steps (run_no, step_index, name, attempt, started_at, ended_at,
		counts, amounts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, runNo, index, st.Name, attempt, st.Started.UTC(), st.Ended.UTC(),
		counts, amounts); err != nil {
		return err
	}
	for _, o := range st.Outputs {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO run_outputs (run_no, path, step, attempt, bytes, sha256)
			VALUES (?, ?, ?, ?, ?, ?)`, runNo, o.Path, st.Name, attempt, o.Bytes, hex.EncodeToString(o.SHA256[:])); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// EarliestRunPeriod is the earliest period of a run of the partner scope
// ("" for all partners) begun with one of origins (any origin when none is
// given), whatever its status; ok is false when there is none.
func (s *Store) EarliestRunPeriod(ctx context.Context, partner string, origins ...string) (period string, ok bool, err error) {
	q := `SELECT min(period) FROM runs WHERE partner = ?`
	args := []any{partner}
	if len(origins) > 0 {
		q += ` AND origin IN (?` + strings.Repeat(", ?", len(origins)-1) + `)`
		for _, o := range origins {
			args = append(args, o)
		}
	}
	var p sql.NullString
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&p); err != nil {
		return "", false, errorf("earliest run", partner, err)
	}
	return p.String, p.Valid, nil
}

// RunFilter selects runs for Runs; zero fields select everything.
type RunFilter struct {
	Period, Partner, Kind, Status string
	Limit                         int // 0: every run
}

// Runs lists runs, the most recently started first, each with its steps.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]RunRecord, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE true`
	var args []any
	for _, c := range []struct{ col, v string }{{"period", f.Period}, {"partner", f.Partner}, {"kind", f.Kind}, {"status", f.Status}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	q += ` ORDER BY started_at DESC, run_no DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, errorf("runs", "", err)
	}
	var out []RunRecord
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, errorf("runs", "", err)
		}
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, errorf("runs", "", err)
	}
	for i := range out {
		if out[i].Steps, err = s.runSteps(ctx, out[i].No); err != nil {
			return nil, errorf("runs", "", err)
		}
	}
	return out, nil
}

// RunByKey is the run of an identity (ErrNotFound when there is none).
func (s *Store) RunByKey(ctx context.Context, k RunKey) (RunRecord, error) {
	k = k.norm()
	var no int64
	err := s.db.QueryRowContext(ctx, `SELECT run_no FROM runs WHERE period = ? AND partner = ? AND kind = ? AND as_of = ?`,
		k.Period, k.Partner, k.Kind, k.AsOf).Scan(&no)
	if errors.Is(err, sql.ErrNoRows) {
		return RunRecord{}, errorf("run", k.String(), ErrNotFound)
	}
	if err != nil {
		return RunRecord{}, errorf("run", k.String(), err)
	}
	d, err := s.RunByNo(ctx, no)
	return d.RunRecord, err
}

// RunByNo is the run numbered no with its attempts, steps and outputs
// (ErrNotFound when there is none).
func (s *Store) RunByNo(ctx context.Context, no int64) (RunDetail, error) {
	object := fmt.Sprintf("%d", no)
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE run_no = ?`, no)
	if err != nil {
		return RunDetail{}, errorf("run", object, err)
	}
	var d RunDetail
	found := false
	for rows.Next() {
		if d.RunRecord, err = scanRun(rows); err != nil {
			rows.Close()
			return d, errorf("run", object, err)
		}
		found = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return d, errorf("run", object, err)
	}
	if !found {
		return d, errorf("run", object, ErrNotFound)
	}
	if d.Steps, err = s.runSteps(ctx, no); err != nil {
		return d, errorf("run", object, err)
	}
	if d.History, err = s.runAttempts(ctx, no); err != nil {
		return d, errorf("run", object, err)
	}
	if d.Outputs, err = s.runOutputs(ctx, no); err != nil {
		return d, errorf("run", object, err)
	}
	return d, nil
}

func scanRun(rows *sql.Rows) (RunRecord, error) {
	var r RunRecord
	var ended sql.NullTime
	var inputs, policy sql.NullString
	err := rows.Scan(&r.No, &r.Key.Period, &r.Key.Partner, &r.Key.Kind, &r.Key.AsOf, &r.Origin, &r.Status, &r.Attempts,
		&r.Started, &ended, &r.Err, &r.Panicked, &r.PID, &inputs, &policy)
	r.Key.AsOf, r.Started = r.Key.AsOf.UTC(), r.Started.UTC()
	if ended.Valid {
		r.Ended = ended.Time.UTC()
	}
	if inputs.Valid {
		r.Inputs = json.RawMessage(inputs.String)
	}
	if policy.Valid {
		r.Policy = json.RawMessage(policy.String)
	}
	return r, err
}

func (s *Store) runSteps(ctx context.Context, no int64) ([]RunStep, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, started_at, ended_at, counts, amounts FROM run_steps
		WHERE run_no = ? ORDER BY step_index`, no)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunStep
	for rows.Next() {
		var st RunStep
		var counts, amounts string
		if err := rows.Scan(&st.Name, &st.Started, &st.Ended, &counts, &amounts); err != nil {
			return nil, err
		}
		st.Started, st.Ended = st.Started.UTC(), st.Ended.UTC()
		if err := json.Unmarshal([]byte(counts), &st.Counts); err != nil {
			return nil, fmt.Errorf("run %d step %s counts: %w", no, st.Name, err)
		}
		if err := json.Unmarshal([]byte(amounts), &st.Amounts); err != nil {
			return nil, fmt.Errorf("run %d step %s amounts: %w", no, st.Name, err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s *Store) runAttempts(ctx context.Context, no int64) ([]RunAttempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT attempt, origin, status, started_at, ended_at, coalesce(error, ''),
		panicked, pid FROM run_attempts WHERE run_no = ? ORDER BY attempt`, no)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunAttempt
	for rows.Next() {
		var a RunAttempt
		var ended sql.NullTime
		if err := rows.Scan(&a.Attempt, &a.Origin, &a.Status, &a.Started, &ended, &a.Err, &a.Panicked, &a.PID); err != nil {
			return nil, err
		}
		a.Started = a.Started.UTC()
		if ended.Valid {
			a.Ended = ended.Time.UTC()
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) runOutputs(ctx context.Context, no int64) ([]RunOutput, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, step, bytes, sha256 FROM run_outputs WHERE run_no = ? ORDER BY path`, no)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunOutput
	for rows.Next() {
		var o RunOutput
		var h string
		if err := rows.Scan(&o.Path, &o.Step, &o.Bytes, &h); err != nil {
			return nil, err
		}
		if b, err := hex.DecodeString(h); err == nil && len(b) == len(o.SHA256) {
			copy(o.SHA256[:], b)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// markInterruptedRuns ends the attempts a dead process left running. Open
// calls it: DuckDB lets one process open the file, so whatever is still
// running when it opens belongs to a process that is gone. When it died is
// not known: ended_at stays NULL.
func markInterruptedRuns(ctx context.Context, db *sql.DB) error {
	const why = `'interrupted: the process running it (pid ' || pid || ') ended without recording an outcome'`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE run_attempts SET status = 'interrupted', error = `+why+`
		WHERE status = 'running'`); err != nil {
		return fmt.Errorf("interrupted runs: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'interrupted', error = `+why+`
		WHERE status = 'running'`); err != nil {
		return fmt.Errorf("interrupted runs: %w", err)
	}
	return tx.Commit()
}

func jsonText(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
