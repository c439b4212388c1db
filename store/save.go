package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// Save stores a batch of received payloads in one transaction and returns
// one outcome per input, in order:
//
//   - every payload's raw bytes are kept (once per distinct SHA-256) and its
//     receipt recorded, whatever happens to it;
//   - a Rejected payload, or one whose values do not fit the schema
//     (more than 6 decimals, more than 12 integer digits, a versioned object
//     without last_updated), is OutcomeRejected with one rejects row per
//     problem;
//   - a CDR new by identity is OutcomeAccepted with its problems as findings;
//     the same body again (canonical hash, see canonical.go) is
//     OutcomeDuplicate and changes nothing; a different body is
//     OutcomeConflict, refused and recorded in conflicts;
//   - tariffs, locations and invoice reconciliation records are versioned by
//     last_updated: a new one is OutcomeAccepted, the same body again
//     OutcomeDuplicate, a different body under the same last_updated
//     OutcomeConflict.
//
// Duplicates and conflicts are found within the batch as well (the first
// occurrence wins). If Save returns an error nothing of the batch is stored
// and the outcomes are nil. Calls are serialised: concurrent callers wait.
func (s *Store) Save(ctx context.Context, batch []ocpi.Received) ([]ocpi.Outcome, error) {
	wait, err := s.Begin(ctx, batch)
	if err != nil {
		return nil, err
	}
	return wait()
}

// Begin is Save in two halves, so that a bulk importer can prepare its next
// batch while this one commits. Begin classifies the batch against what is
// stored or pending, builds its rows and makes its new raw bytes durable in
// the archive; the transaction then runs in the background, after the
// transactions of every batch begun before it. wait returns Save's result.
//
// If a batch's transaction fails, the batches begun after it are refused
// as well (their classification assumed it would commit) and everything
// they added to the in-memory indexes is forgotten: each wait then returns
// an error and nothing of those batches is stored. Batches are committed in
// the order Begin was called; Begin calls are serialised. ctx cancels the
// transaction; wait always waits for it to be over, so an error from wait
// means nothing of the batch was stored.
func (s *Store) Begin(ctx context.Context, batch []ocpi.Received) (wait func() ([]ocpi.Outcome, error), err error) {
	if s.lender != nil {
		// One writer per database: a lent handle's batches are the owner's
		// (lend.go says why a begun batch is not cancelled).
		return s.lender.Begin(context.WithoutCancel(ctx), batch)
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.idx == nil {
		path := s.path
		if path == ":memory:" {
			path = ""
		}
		ix, err := loadIndexes(ctx, s.db, path, s.indexFlushAt)
		if err != nil {
			return nil, errorf("save", "", err)
		}
		s.idx = ix
	}
	start := s.idx.begin()
	w := &writer{ix: s.idx, t: newBatchTables(), now: time.Now().UTC()}
	w.reserve(batch)
	outcomes := make([]ocpi.Outcome, len(batch))
	for i := range batch {
		o, err := w.add(&batch[i])
		if err != nil {
			s.idx.rollback(start)
			return nil, errorf("save", describe(&batch[i]), err)
		}
		outcomes[i] = o
	}
	undoRaw, err := w.archiveRaw(s.raw)
	if err != nil {
		s.idx.rollback(start)
		return nil, errorf("save", fmt.Sprintf("batch of %d", len(batch)), err)
	}
	p := &pendingBatch{
		tables: w.t, outcomes: outcomes, start: start, log: s.idx.takeLog(), undoRaw: undoRaw, probe: w.probe,
		what: fmt.Sprintf("batch of %d", len(batch)), prev: s.idx.lastDone, done: make(chan struct{}),
	}
	s.idx.lastDone = p.done
	s.idx.pending = append(s.idx.pending, p)
	go s.commitPending(ctx, p)
	return func() ([]ocpi.Outcome, error) {
		<-p.done
		return p.outcomes, p.err
	}, nil
}

// pendingBatch is a batch that Begin prepared and whose transaction has not
// finished yet.
type pendingBatch struct {
	tables   *batchTables
	outcomes []ocpi.Outcome
	start    counters     // index counters before the batch
	log      undoLog      // what it added to the indexes
	undoRaw  func() error // removes its payloads from the raw archive
	what     string
	prev     <-chan struct{} // closed when the batch begun before is done
	done     chan struct{}   // closed when this one is done; err is set then
	refused  bool            // an earlier batch failed: do not commit
	probe    receiptKey      // its first receipt, to ask whether a failed COMMIT landed
	err      error
}

// receiptKey finds one receipt row: the same payload, source, position and
// time of receipt never repeat.
type receiptKey struct {
	sha      [32]byte
	name     string
	position int64
	at       time.Time
}

// ErrCommitUnknown: COMMIT reported an error and the database could not be
// asked afterwards whether the batch is in it (a full disk can leave DuckDB
// unusable). The batch may or may not be stored; its raw bytes are kept in
// the archive either way, so nothing stored points at missing bytes.
var ErrCommitUnknown = errors.New("the database failed while committing this batch and cannot say whether it holds it")

type commitUnknownError struct{ err error }

func (e *commitUnknownError) Error() string   { return ErrCommitUnknown.Error() + ": " + e.err.Error() }
func (e *commitUnknownError) Unwrap() []error { return []error{ErrCommitUnknown, e.err} }

// OutcomeUnknown lets callers that cannot import store (ingest) tell this
// failure from one where nothing was stored.
func (e *commitUnknownError) OutcomeUnknown() bool { return true }

// commitStatementError is a failure of the COMMIT statement itself, after
// every row was written: the transaction may have been made durable anyway
// (DuckDB writes the WAL, then may fail a checkpoint).
type commitStatementError struct{ err error }

func (e *commitStatementError) Error() string { return "commit: " + e.err.Error() }
func (e *commitStatementError) Unwrap() error { return e.err }

// ErrEarlierBatchFailed refuses a batch begun while an earlier one was
// pending when that one's transaction failed.
var ErrEarlierBatchFailed = errors.New("a batch begun before this one failed to commit")

// commitPending runs p's transaction once the batch before it is done.
func (s *Store) commitPending(ctx context.Context, p *pendingBatch) {
	defer close(p.done)
	if p.prev != nil {
		<-p.prev
	}
	s.saveMu.Lock()
	refused := p.refused
	s.saveMu.Unlock()
	if refused {
		p.err = errorf("save", p.what, ErrEarlierBatchFailed)
		p.outcomes = nil
		return
	}
	err := ctx.Err()
	if err == nil {
		err = s.commit(ctx, p.tables)
	}
	keepRaw := false
	var cse *commitStatementError
	if errors.As(err, &cse) {
		// Issue 12 item 14: the summary must match what is stored. Ask.
		switch landed, qerr := s.landed(context.WithoutCancel(ctx), p.probe); {
		case qerr == nil && landed:
			err = nil // durable despite the error: it counts as stored
		case qerr != nil:
			err, keepRaw = &commitUnknownError{errors.Join(err, fmt.Errorf("asking whether it landed: %w", qerr))}, true
		}
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if err != nil {
		err = errors.Join(err, s.forgetFrom(p, keepRaw))
		p.err = errorf("save", p.what, err)
		p.outcomes = nil
		return
	}
	// Transactions run in order, and failed batches leave the list: p is
	// the oldest.
	if s.idx.pending[0] != p {
		panic("store: pending batches committed out of order")
	}
	s.idx.pending[0] = nil
	s.idx.pending = s.idx.pending[1:]
	s.maybeFlushIndex(ctx)
}

// landed reports whether the receipt probe, and so its batch, is stored.
func (s *Store) landed(ctx context.Context, k receiptKey) (bool, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM receipts WHERE sha256 = ? AND position = ?
		AND epoch_us(received_at) = ? AND source_name IS NOT DISTINCT FROM ?`, bytes.Clone(k.sha[:]), k.position, k.at.UnixMicro(),
		nullIfEmpty(k.name)).Scan(&n)
	return n > 0, err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return ocpi.ValidText(s)
}

// forgetFrom undoes p and every batch begun after it, newest first, and
// marks the later ones refused. keepRaw keeps p's bytes in the raw archive
// (its outcome is unknown: the database may refer to them). Called with
// saveMu held.
func (s *Store) forgetFrom(p *pendingBatch, keepRaw bool) error {
	pending := s.idx.pending
	i := 0
	for i < len(pending) && pending[i] != p {
		i++
	}
	var errs []error
	for j := len(pending) - 1; j >= i; j-- {
		q := pending[j]
		s.idx.undo(&q.log)
		if q != p || !keepRaw {
			errs = append(errs, q.undoRaw())
		}
		if q != p {
			q.refused = true
		}
	}
	s.idx.resetCounters(p.start)
	s.idx.pending = pending[:i]
	return errors.Join(errs...)
}

// commit writes the batch's tables in one transaction on one connection.
func (s *Store) commit(ctx context.Context, t *batchTables) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// A context cancelled mid-insert still needs the rollback.
			if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
			}
		}
	}()
	if err := insertTables(ctx, conn, t.all()...); err != nil {
		return err
	}
	if testHookBeforeCommit != nil {
		if err := testHookBeforeCommit(); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return &commitStatementError{err}
	}
	if testHookAfterCommit != nil {
		if err := testHookAfterCommit(); err != nil {
			return &commitStatementError{err}
		}
	}
	return nil
}

// testHookAfterCommit lets a test make a COMMIT that succeeded report an
// error, as DuckDB does when a checkpoint after the WAL write fails.
var testHookAfterCommit func() error

// sameBody tells whether a stored body hash is the received object's. An
// object stored before identities were hashed case-insensitively
// (canonical.go) has a body hash that spells its identity as sent: the same
// bytes again still match it through that older hash.
func (w *writer) sameBody(stored, body [32]byte, r *ocpi.Received) bool {
	if stored == body {
		return true
	}
	legacy, differs := spelledHash(&w.canon, r)
	return differs && stored == legacy
}

func describe(r *ocpi.Received) string {
	cc, pid, id := r.Identity()
	obj := string(r.Kind)
	if id != "" {
		obj += " " + ocpi.PartyKey(cc, pid) + "*" + id
	}
	return fmt.Sprintf("%s (%s %s #%d)", obj, r.Source.Channel, r.Source.Name, r.Source.Position)
}

// testHookBeforeCommit lets a test fail a batch after every row was written.
var testHookBeforeCommit func() error

// writer turns one batch into table rows, classifying as it goes.
type writer struct {
	ix    *indexes
	t     *batchTables
	canon canon
	now   time.Time

	probe    receiptKey // the batch's first receipt
	hasProbe bool

	// payloads not stored before, for the raw archive
	newRaw     [][]byte
	newRawSums [][32]byte
	newRawAt   []time.Time
}

func (w *writer) reserve(batch []ocpi.Received) {
	n := len(batch)
	w.t.raw.reserve(n)
	w.t.receipts.reserve(n)
	w.t.cdrs.reserve(n)
	var periods, dims int
	for i := range batch {
		if c := batch[i].CDR; c != nil {
			periods += len(c.ChargingPeriods)
			for _, p := range c.ChargingPeriods {
				dims += len(p.Dimensions)
			}
		}
	}
	w.t.periods.reserve(periods)
	w.t.dims.reserve(dims)
}

func (w *writer) add(r *ocpi.Received) (ocpi.Outcome, error) {
	raw := sha256.Sum256(r.Raw)
	if r.SHA256 != ([32]byte{}) && r.SHA256 != raw {
		return "", fmt.Errorf("%w: SHA256 field does not match the raw bytes", ErrInvalid)
	}
	receivedAt := r.ReceivedAt
	if receivedAt.IsZero() {
		receivedAt = w.now
	}
	repeated := w.ix.raw(raw) // these bytes were received before
	if !repeated {
		w.ix.addRaw(raw)
		w.newRaw = append(w.newRaw, r.Raw)
		w.newRawSums = append(w.newRawSums, raw)
		w.newRawAt = append(w.newRawAt, receivedAt)
	}
	if !w.hasProbe {
		w.probe, w.hasProbe = receiptKey{sha: raw, name: r.Source.Name, position: r.Source.Position, at: receivedAt}, true
	}
	in := received{r: r, raw: raw, at: receivedAt}
	outcome := w.classify(&in)
	row := w.t.receipts.row()
	row.blob(raw[:])
	row.str(string(r.Source.Channel))
	row.optStr(r.Source.Name)
	row.optStr(r.Source.Partner)
	row.i64(r.Source.Position)
	row.ts(receivedAt)
	row.optStr(string(r.Kind))
	row.optStr(string(r.Version))
	row.str(string(outcome))
	row.boolean(repeated)
	row.end()
	return outcome, nil
}

// archiveRaw appends the batch's new payloads to the raw archive and adds
// their raw_payloads rows. The bytes are durable before the transaction
// that refers to them commits.
func (w *writer) archiveRaw(a rawArchive) (undo func() error, err error) {
	if len(w.newRaw) == 0 {
		return func() error { return nil }, nil
	}
	seg, offsets, err := a.append(w.newRaw, w.newRawSums)
	if err != nil {
		return nil, fmt.Errorf("raw archive: %w", err)
	}
	for i, p := range w.newRaw {
		row := w.t.raw.row()
		row.blob(w.newRawSums[i][:])
		row.i64(int64(len(p)))
		row.i32(seg)
		row.i64(offsets[i])
		row.ts(w.newRawAt[i])
		row.end()
	}
	return func() error { return a.truncate(seg, offsets[0]) }, nil
}

// received is one payload being classified.
type received struct {
	r     *ocpi.Received
	raw   [32]byte
	at    time.Time
	nulls *cdrNulls // a CDR's numbers stored as NULL (numbers.go)
}

func (w *writer) classify(in *received) ocpi.Outcome {
	r := in.r
	objects := 0
	for _, set := range []bool{r.CDR != nil, r.Tariff != nil, r.Location != nil, r.Invoice != nil} {
		if set {
			objects++
		}
	}
	switch {
	case r.Rejected || objects == 0:
		return w.reject(in, ocpi.Problem{Rule: ocpi.RuleKind, Message: "rejected: no object could be decoded", Blocking: true})
	case objects > 1:
		return w.reject(in, ocpi.Problem{Rule: ocpi.RuleKind, Message: "more than one object decoded from one payload"})
	}
	cc, pid, id := r.Identity()
	if cc == "" || pid == "" || id == "" {
		return w.reject(in, ocpi.Problem{Path: "id", Rule: ocpi.RuleOwner, Message: "no owner (country_code, party_id) or id"})
	}
	if p, bad := unstorable(r); bad {
		return w.reject(in, p)
	}
	if r.CDR != nil {
		in.nulls = cdrNumbers(r)
	}
	body := canonicalHash(&w.canon, r)
	switch {
	case r.CDR != nil:
		return w.cdr(in, cc, pid, id, body)
	case r.Tariff != nil:
		return w.versioned(in, ocpi.KindTariff, cc, pid, id, r.Tariff.LastUpdated, body, w.tariff)
	case r.Location != nil:
		return w.versioned(in, ocpi.KindLocation, cc, pid, id, r.Location.LastUpdated, body, w.location)
	default:
		return w.versioned(in, ocpi.KindInvoice, cc, pid, id, r.Invoice.LastUpdated, body, w.invoice)
	}
}

// reject records one rejects row per problem of the payload; why is used
// when the payload carries no problem that explains the refusal, and is
// added first when Save itself refuses a decoded object.
func (w *writer) reject(in *received, why ocpi.Problem) ocpi.Outcome {
	problems := in.r.Problems
	if !in.r.Rejected || len(problems) == 0 {
		// why restates the decoder's problem at its path when there is one
		// (unstorable): one reject row says it, blocking.
		problems = append(ocpi.Problems{why}, slices.DeleteFunc(slices.Clone(problems), func(p ocpi.Problem) bool {
			return why.Path != "" && p.Path == why.Path && p.Rule == why.Rule
		})...)
		// The caller's summary and reply name the reason Save refused it.
		in.r.Problems = problems
	}
	for _, p := range problems {
		row := w.t.rejects.row()
		row.blob(in.raw[:])
		row.str(string(in.r.Source.Channel))
		row.optStr(in.r.Source.Name)
		row.optStr(in.r.Source.Partner)
		row.i64(in.r.Source.Position)
		row.ts(in.at)
		row.optStr(string(in.r.Kind))
		row.optStr(string(in.r.Version))
		row.optStr(p.Path)
		row.str(string(p.Rule))
		row.optStr(p.Message)
		row.boolean(p.Blocking)
		row.end()
	}
	return ocpi.OutcomeRejected
}

// conflict refuses an object whose body differs from the one stored under
// its identity (and version), and records the conflict once: the same
// refused body again (a file imported twice) is refused without a new row.
func (w *writer) conflict(in *received, kind ocpi.Kind, cc, pid, id string, lastUpdated time.Time, stored, refused [32]byte) ocpi.Outcome {
	ck := conflictKey(kind, cc, pid, id, lastUpdated, refused)
	if w.ix.conflict(ck) {
		return ocpi.OutcomeConflict
	}
	w.ix.addConflict(ck)
	row := w.t.conflicts.row()
	row.str(string(kind))
	row.str(cc)
	row.str(pid)
	row.str(id)
	row.ts(lastUpdated)
	row.blob(stored[:])
	row.blob(refused[:])
	row.blob(in.raw[:])
	row.ts(in.at)
	row.end()
	return ocpi.OutcomeConflict
}

func (w *writer) findings(kind ocpi.Kind, key int64, cc, pid, id string, problems ocpi.Problems) {
	for _, p := range problems {
		row := w.t.findings.row()
		row.str(string(kind))
		row.i64(key)
		row.str(cc)
		row.str(pid)
		row.str(id)
		row.optStr(p.Path)
		row.str(string(p.Rule))
		row.optStr(p.Message)
		row.boolean(p.Blocking)
		row.end()
	}
}

func (w *writer) cdr(in *received, cc, pid, id string, body [32]byte) ocpi.Outcome {
	ik := identityOf(ocpi.KindCDR, cc, pid, id)
	if prev, ok := w.ix.cdr(ik); ok {
		if w.sameBody(prev.body, body, in.r) {
			return ocpi.OutcomeDuplicate
		}
		return w.conflict(in, ocpi.KindCDR, cc, pid, id, time.Time{}, prev.body, body)
	}
	key := w.ix.next.cdr
	w.ix.next.cdr++
	w.ix.addCDR(ik, seen{key: key, body: body})

	c := in.r.CDR
	row := w.t.cdrs.row()
	row.i64(key)
	row.str(cc)
	row.str(pid)
	row.str(id)
	row.optStr(ifDiffers(c.CountryCode, cc))
	row.optStr(ifDiffers(c.PartyID, pid))
	row.optStr(ifDiffers(c.ID, id))
	row.str(string(c.Version))
	row.blob(body[:])
	row.blob(in.raw[:])
	row.ts(c.StartDateTime)
	row.ts(c.EndDateTime)
	row.optStr(c.SessionID)
	row.optStr(c.Token.CountryCode)
	row.optStr(c.Token.PartyID)
	row.optStr(c.Token.UID)
	row.optStr(c.Token.Type)
	row.optStr(c.Token.ContractID)
	row.optStr(c.AuthMethod)
	row.optStr(c.AuthorizationReference)
	l := &c.Location
	row.optStr(l.ID)
	row.optStr(l.Name)
	row.optStr(l.Address)
	row.optStr(l.City)
	row.optStr(l.PostalCode)
	row.optStr(l.State)
	row.optStr(l.Country)
	row.optStr(l.Coordinates.Latitude)
	row.optStr(l.Coordinates.Longitude)
	row.optStr(l.EVSEUID)
	row.optStr(l.EVSEID)
	row.optStr(l.ConnectorID)
	row.optStr(l.ConnectorStandard)
	row.optStr(l.ConnectorFormat)
	row.optStr(l.ConnectorPowerType)
	row.optStr(l.TimeZone)
	row.strs(l.TariffIDs)
	row.optStr(c.MeterID)
	row.optStr(c.Currency)
	row.optStr(string(c.SignedData))
	nulls := in.nulls
	prices := cdrPrices(c)
	cdrPrice(&row, c.Version, prices[0], nulls)
	cdrPrice(&row, c.Version, prices[1], nulls)
	row.nullableDec(decimal.NullDecimal{Decimal: c.TotalEnergy, Valid: true}, nulls.null("total_energy"))
	cdrPrice(&row, c.Version, prices[2], nulls)
	row.nullableDec(decimal.NullDecimal{Decimal: c.TotalTime, Valid: true}, nulls.null("total_time"))
	cdrPrice(&row, c.Version, prices[3], nulls)
	row.nullableDec(c.TotalParkingTime, nulls.null("total_parking_time"))
	cdrPrice(&row, c.Version, prices[4], nulls)
	cdrPrice(&row, c.Version, prices[5], nulls)
	row.optStr(taxesJSON(c))
	row.optStr(c.Remark)
	row.optStr(c.InvoiceReferenceID)
	row.boolean(c.Credit)
	row.optStr(c.CreditReferenceID)
	row.boolean(c.HomeChargingCompensation)
	row.ts(c.LastUpdated)
	row.ts(in.at)
	row.boolean(in.r.Problems.Blocking())
	row.end()

	for pi, p := range c.ChargingPeriods {
		row := w.t.periods.row()
		row.i64(key)
		row.u16(pi)
		row.ts(p.StartDateTime)
		if pi+1 < len(c.ChargingPeriods) {
			row.ts(c.ChargingPeriods[pi+1].StartDateTime)
		} else {
			row.ts(c.EndDateTime)
		}
		row.optStr(p.TariffID)
		pv, _ := pivotVolumes(p.Dimensions)
		for di, d := range p.Dimensions {
			// A volume the store holds as NULL leaves its type's pivoted
			// column NULL: never a sum without it.
			if i := pivotIndex(d.Type); i >= 0 && nulls.null(volumePath(pi, di)) {
				pv.set[i] = false
			}
		}
		for i := range pv.v {
			row.scaledDec(pv.v[i], pv.set[i] && !(nulls != nil && nulls.periods[pi]))
		}
		row.end()
		for di, d := range p.Dimensions {
			row := w.t.dims.row()
			row.i64(key)
			row.u16(pi)
			row.u16(di)
			row.u8(w.dimType(d.Type))
			row.nullableDec(decimal.NullDecimal{Decimal: d.Volume, Valid: true}, nulls.null(volumePath(pi, di)))
			row.end()
		}
	}
	for ti := range c.Tariffs {
		if nulls != nil && nulls.tariffs[ti] {
			continue // kept in the raw payload only; a blocking finding says so
		}
		tk := w.tariffBody(&c.Tariffs[ti])
		row := w.t.cdrTariffs.row()
		row.i64(key)
		row.u16(ti)
		row.i64(tk)
		row.end()
	}
	w.findings(ocpi.KindCDR, key, cc, pid, id, in.r.Problems)
	return ocpi.OutcomeAccepted
}

func ifDiffers(asSent, key string) string {
	if asSent == key {
		return ""
	}
	return asSent
}

// cdrPrice writes a CDR's Price field: its amounts before and after taxes,
// NULL where numbers.go decided so.
func cdrPrice(row *rowCursor, v ocpi.Version, f namedPrice, nulls *cdrNulls) {
	if f.p == nil {
		row.decNull()
		row.decNull()
		return
	}
	excl, incl := priceFieldPaths(v, f.name)
	row.nullableDec(decimal.NullDecimal{Decimal: f.p.ExclVAT, Valid: true}, nulls.null(excl))
	row.nullableDec(f.p.InclVAT, incl != "" && nulls.null(incl))
}

func volumePath(period, dim int) string {
	return "charging_periods[" + strconv.Itoa(period) + "].dimensions[" + strconv.Itoa(dim) + "].volume"
}

func optPrice(row *rowCursor, p *ocpi.Price) {
	if p == nil {
		row.decNull()
		row.decNull()
		return
	}
	row.dec(p.ExclVAT)
	row.optDec(p.InclVAT)
}

// dimType returns the code of a dimension type, giving a type never seen
// before (a partner's own, or a typo the decoder let through) a new code.
func (w *writer) dimType(name string) uint8 {
	if code, ok := w.ix.dimTypes[name]; ok {
		return code
	}
	if w.ix.nextDim > 255 {
		return 0 // cannot happen with real data; 0 reads back as an unknown type
	}
	code := uint8(w.ix.nextDim)
	w.ix.nextDim++
	w.ix.dimTypes[name] = code
	w.ix.log.dims = append(w.ix.log.dims, name)
	row := w.t.dimTypes.row()
	row.u8(code)
	row.str(name)
	row.end()
	return code
}

// taxJSON is the stored shape of a 2.3.0 TaxAmount.
type taxJSON struct {
	Name          string              `json:"name"`
	AccountNumber string              `json:"account_number,omitempty"`
	Percentage    decimal.NullDecimal `json:"percentage"`
	Amount        decimal.Decimal     `json:"amount"`
}

// taxesJSON keeps the 2.3.0 tax lines of a CDR's prices, keyed by the
// price's field name; empty when no price lists taxes (all 2.1.1/2.2.1 CDRs).
func taxesJSON(c *ocpi.CDR) string {
	prices := cdrPrices(c)
	any := false
	for _, f := range prices {
		any = any || f.p != nil && len(f.p.Taxes) > 0
	}
	if !any {
		return ""
	}
	m := map[string][]taxJSON{}
	add := func(name string, p *ocpi.Price) {
		if p == nil || len(p.Taxes) == 0 {
			return
		}
		ts := make([]taxJSON, len(p.Taxes))
		for i, t := range p.Taxes {
			ts[i] = taxJSON(t)
		}
		m[name] = ts
	}
	for _, f := range prices {
		add(f.name, f.p)
	}
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // strings and decimals always marshal
	}
	return string(b)
}

type namedPrice struct {
	name string
	p    *ocpi.Price
}

// cdrPrices lists a CDR's Price fields by their 2.2.1 names (nil when absent).
func cdrPrices(c *ocpi.CDR) [6]namedPrice {
	return [6]namedPrice{
		{"total_cost", c.TotalCost},
		{"total_fixed_cost", c.TotalFixedCost},
		{"total_energy_cost", c.TotalEnergyCost},
		{"total_time_cost", c.TotalTimeCost},
		{"total_parking_cost", c.TotalParkingCost},
		{"total_reservation_cost", c.TotalReservationCost},
	}
}

// tariffBody stores a tariff's contents once per canonical hash and returns
// its tariff_key.
func (w *writer) tariffBody(t *ocpi.Tariff) int64 {
	h := tariffHash(&w.canon, t)
	if key, ok := w.ix.body(h); ok {
		return key
	}
	key := w.ix.next.tariff
	w.ix.next.tariff++
	w.ix.addBody(h, key)

	row := w.t.tariffBodies.row()
	row.i64(key)
	row.blob(h[:])
	row.str(string(t.Version))
	row.optStr(t.CountryCode)
	row.optStr(t.PartyID)
	row.optStr(t.ID)
	row.optStr(t.Currency)
	row.optStr(t.Type)
	row.optStr(altTextJSON(t.AltText))
	row.optStr(t.AltURL)
	priceLimit(&row, t.MinPrice)
	priceLimit(&row, t.MaxPrice)
	row.optStr(t.TaxIncluded)
	row.optTS(t.StartDateTime)
	row.optTS(t.EndDateTime)
	row.optStr(string(t.EnergyMix))
	row.ts(t.LastUpdated)
	row.end()
	for ei, e := range t.Elements {
		row := w.t.tariffElements.row()
		row.i64(key)
		row.u16(ei)
		r := e.Restrictions
		row.boolean(r != nil)
		if r == nil {
			r = &ocpi.TariffRestrictions{}
		}
		row.optStr(r.StartTime)
		row.optStr(r.EndTime)
		row.optStr(r.StartDate)
		row.optStr(r.EndDate)
		row.optDec(r.MinKWh)
		row.optDec(r.MaxKWh)
		row.optDec(r.MinCurrent)
		row.optDec(r.MaxCurrent)
		row.optDec(r.MinPower)
		row.optDec(r.MaxPower)
		row.optI64(r.MinDuration)
		row.optI64(r.MaxDuration)
		row.strs(r.DayOfWeek)
		row.optStr(r.Reservation)
		row.end()
		for ci, pc := range e.PriceComponents {
			row := w.t.tariffComponents.row()
			row.i64(key)
			row.u16(ei)
			row.u16(ci)
			row.str(pc.Type)
			row.dec(pc.Price)
			row.optDec(pc.VAT)
			row.i64(pc.StepSize)
			row.end()
		}
	}
	return key
}

func priceLimit(row *rowCursor, p *ocpi.PriceLimit) {
	if p == nil {
		row.decNull()
		row.decNull()
		return
	}
	row.dec(p.ExclVAT)
	row.optDec(p.InclVAT)
}

type displayTextJSON struct {
	Language string `json:"language"`
	Text     string `json:"text"`
}

func altTextJSON(ts []ocpi.DisplayText) string {
	if ts == nil {
		return ""
	}
	out := make([]displayTextJSON, len(ts))
	for i, t := range ts {
		out[i] = displayTextJSON(t)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// versioned classifies a tariff, location or IRR by (identity, last_updated)
// and stores it through store when it is a new version.
func (w *writer) versioned(in *received, kind ocpi.Kind, cc, pid, id string, lastUpdated time.Time, body [32]byte,
	store func(in *received, cc, pid, id string, body [32]byte) int64) ocpi.Outcome {
	vk := versionOf(kind, cc, pid, id, lastUpdated)
	if prev, ok := w.ix.version(vk); ok {
		if w.sameBody(prev.body, body, in.r) {
			return ocpi.OutcomeDuplicate
		}
		return w.conflict(in, kind, cc, pid, id, lastUpdated, prev.body, body)
	}
	key := store(in, cc, pid, id, body)
	w.ix.addVersion(vk, seen{key: key, body: body})
	w.findings(kind, key, cc, pid, id, in.r.Problems)
	return ocpi.OutcomeAccepted
}

func (w *writer) tariff(in *received, cc, pid, id string, _ [32]byte) int64 {
	t := in.r.Tariff
	key := w.tariffBody(t)
	w.ix.next.tariffRows++
	row := w.t.tariffs.row()
	row.str(cc)
	row.str(pid)
	row.str(id)
	row.ts(t.LastUpdated)
	row.i64(key)
	row.str(string(t.Version))
	row.blob(in.raw[:])
	row.ts(in.at)
	row.end()
	return key
}

func (w *writer) location(in *received, cc, pid, id string, body [32]byte) int64 {
	l := in.r.Location
	key := w.ix.next.loc
	w.ix.next.loc++
	row := w.t.locations.row()
	row.i64(key)
	row.str(cc)
	row.str(pid)
	row.str(id)
	row.optStr(ifDiffers(l.CountryCode, cc))
	row.optStr(ifDiffers(l.PartyID, pid))
	row.optStr(ifDiffers(l.ID, id))
	row.ts(l.LastUpdated)
	row.str(string(l.Version))
	row.blob(body[:])
	row.blob(in.raw[:])
	row.ts(in.at)
	row.optBool(l.Publish)
	row.optStr(l.Name)
	row.optStr(l.Address)
	row.optStr(l.City)
	row.optStr(l.PostalCode)
	row.optStr(l.State)
	row.optStr(l.Country)
	row.optStr(l.Coordinates.Latitude)
	row.optStr(l.Coordinates.Longitude)
	row.optStr(l.TimeZone)
	row.end()
	for ei, e := range l.EVSEs {
		row := w.t.evses.row()
		row.i64(key)
		row.u16(ei)
		row.optStr(e.UID)
		row.optStr(e.EVSEID)
		row.optStr(e.Status)
		row.ts(e.LastUpdated)
		row.end()
		for ci, k := range e.Connectors {
			row := w.t.connectors.row()
			row.i64(key)
			row.u16(ei)
			row.u16(ci)
			row.optStr(k.ID)
			row.optStr(k.Standard)
			row.optStr(k.Format)
			row.optStr(k.PowerType)
			row.i64(k.MaxVoltage)
			row.i64(k.MaxAmperage)
			row.optI64(k.MaxElectricPower)
			row.strs(k.TariffIDs)
			row.ts(k.LastUpdated)
			row.end()
		}
	}
	return key
}

func (w *writer) invoice(in *received, cc, pid, id string, body [32]byte) int64 {
	v := in.r.Invoice
	key := w.ix.next.irr
	w.ix.next.irr++
	row := w.t.invoices.row()
	row.i64(key)
	row.str(cc)
	row.str(pid)
	row.str(id)
	row.optStr(ifDiffers(v.ID, id))
	row.optStr(v.InvoiceID)
	row.ts(v.LastUpdated)
	row.str(string(v.Version))
	row.blob(body[:])
	row.blob(in.raw[:])
	row.ts(in.at)
	row.end()
	for i, cdrID := range v.CDRs {
		row := w.t.invoiceCDRs.row()
		row.i64(key)
		row.i32(i)
		row.str(cdrID)
		row.end()
	}
	return key
}

// unstorable reports the first value of a decoded object that the schema
// cannot hold exactly. The decoders flag these first (RulePrecision,
// RuleRequired); this is the store's own guard, because a rounded amount or
// a half-written batch would both break an invariant. Paths are only built
// for the value that fails.
func unstorable(r *ocpi.Received) (ocpi.Problem, bool) {
	path := ""
	switch {
	case r.CDR != nil:
		// Numbers that do not fit are NULL with a finding (numbers.go);
		// only a structure the schema cannot index is refused.
		if tooManyPeriods(r.CDR) {
			return ocpi.Problem{Path: "charging_periods", Rule: ocpi.RuleTooLarge,
				Message: "more than 65535 charging periods or dimensions", Blocking: true}, true
		}
	case r.Tariff != nil:
		if r.Tariff.LastUpdated.IsZero() {
			return missingLastUpdated(), true
		}
		if p, ok := unreadTariffNumber(r.Problems); ok {
			return p, true
		}
		path = unstorableTariff(r.Tariff)
	case r.Location != nil:
		if r.Location.LastUpdated.IsZero() {
			return missingLastUpdated(), true
		}
	case r.Invoice != nil:
		if r.Invoice.LastUpdated.IsZero() {
			return missingLastUpdated(), true
		}
	}
	if path == "" {
		return ocpi.Problem{}, false
	}
	p := ocpi.Problem{Path: path, Rule: ocpi.RulePrecision, Blocking: true,
		Message: "value does not fit DECIMAL(18,6): at most 12 integer digits and 6 decimals are stored exactly"}
	for _, q := range r.Problems {
		if q.Path == path && q.Rule == ocpi.RulePrecision {
			p.Message = q.Message + "; a published tariff is refused rather than rounded (" + p.Message + ")"
			break
		}
	}
	return p, true
}

// tariffNumbers are the fields of a tariff that the decoder reads as
// numbers (the last element of a problem's path).
var tariffNumbers = map[string]bool{"price": true, "vat": true, "step_size": true,
	"min_price": true, "max_price": true, "excl_vat": true, "incl_vat": true, "before_taxes": true, "after_taxes": true,
	"min_kwh": true, "max_kwh": true, "min_current": true, "max_current": true, "min_power": true, "max_power": true,
	"min_duration": true, "max_duration": true}

// unreadTariffNumber finds a tariff number the decoder could not read (too
// large, not a number) or a price that is missing. The model then holds 0
// or nothing there, and pricing reads the tables, not the findings: stored,
// the tariff would be priced as free or without its limit or restriction.
// A missing step_size is not one: 0 is the reading of no step.
func unreadTariffNumber(ps ocpi.Problems) (ocpi.Problem, bool) {
	for _, p := range ps {
		field := p.Path[strings.LastIndexByte(p.Path, '.')+1:]
		if tariffNumbers[field] && (p.Rule == ocpi.RuleTooLarge || p.Rule == ocpi.RuleType ||
			p.Rule == ocpi.RuleRequired && field != "step_size") {
			p.Blocking = true
			p.Message += "; a published tariff is refused rather than stored without this value (it would be priced as 0 or without the limit)"
			return p, true
		}
	}
	return ocpi.Problem{}, false
}

func fits(d decimal.Decimal) bool {
	_, ok := scaled(d)
	return ok
}

func fitsNull(d decimal.NullDecimal) bool { return !d.Valid || fits(d.Decimal) }

func tooManyPeriods(c *ocpi.CDR) bool {
	if len(c.ChargingPeriods) > 65535 {
		return true
	}
	for _, p := range c.ChargingPeriods {
		if len(p.Dimensions) > 65535 {
			return true
		}
	}
	return false
}

func unstorableTariff(t *ocpi.Tariff) string {
	for _, lim := range []struct {
		name string
		p    *ocpi.PriceLimit
	}{{"min_price", t.MinPrice}, {"max_price", t.MaxPrice}} {
		if lim.p != nil {
			if !fits(lim.p.ExclVAT) {
				return lim.name + ".excl_vat"
			}
			if !fitsNull(lim.p.InclVAT) {
				return lim.name + ".incl_vat"
			}
		}
	}
	for ei, e := range t.Elements {
		ep := func() string { return "elements[" + strconv.Itoa(ei) + "]" }
		for ci, pc := range e.PriceComponents {
			cp := func() string { return ep() + ".price_components[" + strconv.Itoa(ci) + "]" }
			if !fits(pc.Price) {
				return cp() + ".price"
			}
			if !fitsNull(pc.VAT) {
				return cp() + ".vat"
			}
		}
		if rs := e.Restrictions; rs != nil {
			for _, f := range []struct {
				name string
				d    decimal.NullDecimal
			}{{"min_kwh", rs.MinKWh}, {"max_kwh", rs.MaxKWh}, {"min_current", rs.MinCurrent},
				{"max_current", rs.MaxCurrent}, {"min_power", rs.MinPower}, {"max_power", rs.MaxPower}} {
				if !fitsNull(f.d) {
					return ep() + ".restrictions." + f.name
				}
			}
		}
	}
	return ""
}

func missingLastUpdated() ocpi.Problem {
	return ocpi.Problem{Path: "last_updated", Rule: ocpi.RuleRequired, Blocking: true,
		Message: "no readable last_updated: tariff, location and invoice reconciliation versions are keyed by it"}
}

// pivoted are a period's volumes by type, scaled to DECIMAL(18,6), in the
// order of the charging_periods columns (energy, time, parking_time,
// reservation_time, min_current, max_current, min_power, max_power).
type pivoted struct {
	v   [8]int64
	set [8]bool
}

func pivotIndex(dimType string) int {
	switch dimType {
	case ocpi.DimEnergy:
		return 0
	case ocpi.DimTime:
		return 1
	case ocpi.DimParkingTime:
		return 2
	case ocpi.DimReservationTime:
		return 3
	case ocpi.DimMinCurrent:
		return 4
	case ocpi.DimMaxCurrent:
		return 5
	case ocpi.DimMinPower:
		return 6
	case ocpi.DimMaxPower:
		return 7
	}
	return -1
}

// pivotVolumes pivots a period's dimensions; ok is false when a repeated
// type sums beyond DECIMAL(18,6). A type with a volume that does not fit
// stays unset (NULL), whatever its other volumes.
func pivotVolumes(dims []ocpi.CDRDimension) (p pivoted, ok bool) {
	var bad [8]bool
	defer func() {
		for i := range bad {
			p.set[i] = p.set[i] && !bad[i]
		}
	}()
	for _, d := range dims {
		i := pivotIndex(d.Type)
		if i < 0 {
			continue
		}
		v, fit := scaled(d.Volume)
		if !fit {
			bad[i] = true
			continue
		}
		switch {
		case !p.set[i]:
			p.v[i], p.set[i] = v, true
		case i < 4: // quantities add up
			p.v[i] += v // both below 10^18: no int64 overflow
			if p.v[i] > maxScaled || p.v[i] < -maxScaled {
				return p, false
			}
		case i%2 == 0: // MIN_*
			p.v[i] = min(p.v[i], v)
		default: // MAX_*
			p.v[i] = max(p.v[i], v)
		}
	}
	return p, true
}
