package reconcile

import (
	"fmt"
	"strings"
	"time"
)

// DisputeState is a stage of a dispute's lifecycle, modelled on clearing
// practice (OCHP's CDR states): the eMSP raises it, sends it to the
// partner, who accepts or declines it; a credit CDR from the partner
// revises the disputed CDR; the eMSP may write it off. States are stored:
// never rename one.
type DisputeState string

const (
	DisputeRaised     DisputeState = "raised"
	DisputeSent       DisputeState = "sent"
	DisputeAccepted   DisputeState = "accepted"    // the partner agrees and will correct (a credit CDR follows)
	DisputeDeclined   DisputeState = "declined"    // the partner maintains the CDR
	DisputeRevised    DisputeState = "revised"     // a credit CDR for the disputed CDR arrived
	DisputeWrittenOff DisputeState = "written_off" // the eMSP gave up the claim
	// DisputeWithdrawn: reconciling again found nothing to dispute any more
	// (a late tariff version, a corrected input) before the dispute was
	// sent; it is raised again if the CDR is disputed again.
	DisputeWithdrawn DisputeState = "withdrawn"
)

// DisputeStates lists the states in lifecycle order.
var DisputeStates = []DisputeState{DisputeRaised, DisputeSent, DisputeAccepted, DisputeDeclined, DisputeRevised, DisputeWrittenOff,
	DisputeWithdrawn}

// transitions are the moves each state allows. revised and written_off
// close a dispute.
var transitions = map[DisputeState][]DisputeState{
	DisputeRaised:    {DisputeSent, DisputeRevised, DisputeWrittenOff, DisputeWithdrawn},
	DisputeWithdrawn: {DisputeRaised},
	DisputeSent:      {DisputeAccepted, DisputeDeclined, DisputeRevised, DisputeWrittenOff},
	DisputeAccepted:  {DisputeRevised, DisputeWrittenOff},
	DisputeDeclined:  {DisputeSent, DisputeRevised, DisputeWrittenOff},
}

// ParseDisputeState reads a state name (case-insensitive, "-" for "_").
func ParseDisputeState(s string) (DisputeState, error) {
	t := DisputeState(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	for _, x := range DisputeStates {
		if x == t {
			return t, nil
		}
	}
	return "", fmt.Errorf("dispute state %q: want one of raised, sent, accepted, declined, revised, written_off, withdrawn", s)
}

// Closed reports whether the state ends the lifecycle.
func (s DisputeState) Closed() bool { return s == DisputeRevised || s == DisputeWrittenOff }

// CanMove reports whether a dispute in state from may move to state to.
func CanMove(from, to DisputeState) error {
	for _, x := range transitions[from] {
		if x == to {
			return nil
		}
	}
	if from.Closed() {
		return fmt.Errorf("dispute is %s: closed, it cannot become %s", from, to)
	}
	next := make([]string, len(transitions[from]))
	for i, x := range transitions[from] {
		next[i] = string(x)
	}
	return fmt.Errorf("a %s dispute cannot become %s (it can become %s)", from, to, strings.Join(next, ", "))
}

// DisputeEvent is one change of a dispute's state. Events are appended,
// never changed: the lifecycle is the list.
type DisputeEvent struct {
	Seq   int          `json:"seq"`
	State DisputeState `json:"state"`
	At    time.Time    `json:"at"`
	// By says who or what moved it ("reconcile 2026-10", "user"); Note
	// why; CreditCDR names the credit CDR that revised it.
	By        string `json:"by"`
	Note      string `json:"note,omitempty"`
	CreditCDR string `json:"credit_cdr,omitempty"`
}

// Dispute is one disputed CDR: what is wrong (the evaluation's verdict,
// reasons and findings), how much is at stake, and its lifecycle. One
// dispute per CDR identity: reconciling again refreshes its evidence and
// never raises a second one.
type Dispute struct {
	CountryCode, PartyID, CDRID string
	Period                      string
	Currency                    string
	MinorUnits                  int
	Verdict                     Verdict
	Reasons                     []Reason
	Codes                       []Code // the error findings
	// Billed and Recomputed are total_cost (Recomputed.HasExcl false: not
	// priced); InDispute is what the eMSP refuses to pay: billed -
	// recomputed for a mismatch, the whole billed amount for a CDR that
	// cannot be verified or whose token the eMSP never issued, nothing
	// for a data finding that does not touch the amount (a duplicate).
	Billed, Recomputed, InDispute Amount
	// Periods are the charging periods where the difference arises
	// (Evaluation.DifferingPeriods): indexes into the CDR's periods sorted
	// by start, as the evidence names them; none when no hypothesis
	// explains the amount or the difference is only at the totals.
	Periods []int
	// Evidence is the account of the evaluation: each hypothesis tried and
	// what it gave, and the findings (text, for the partner).
	Evidence string
	Events   []DisputeEvent
}

// State is the dispute's current state (raised when it has no event yet).
func (d *Dispute) State() DisputeState {
	if len(d.Events) == 0 {
		return DisputeRaised
	}
	return d.Events[len(d.Events)-1].State
}

// Move appends a state change after checking the lifecycle allows it.
func (d *Dispute) Move(to DisputeState, at time.Time, by, note string) (DisputeEvent, error) {
	if err := CanMove(d.State(), to); err != nil {
		return DisputeEvent{}, fmt.Errorf("dispute %s: %w", d.Key(), err)
	}
	ev := DisputeEvent{Seq: len(d.Events) + 1, State: to, At: at.UTC(), By: by, Note: note}
	d.Events = append(d.Events, ev)
	return ev, nil
}

// Key is the dispute's identity: "CC-PID/CDR id".
func (d *Dispute) Key() string { return IdentityKey(d.CountryCode, d.PartyID, d.CDRID) }

// NewDispute raises a dispute from an evaluation that warrants one
// (Disputed), or returns nil.
func NewDispute(ev *Evaluation, period string, at time.Time, by string) *Dispute {
	if !ev.Disputed() {
		return nil
	}
	d := &Dispute{CountryCode: ev.CountryCode, PartyID: ev.PartyID, CDRID: ev.ID, Period: period, Currency: ev.Currency,
		MinorUnits: ev.MinorUnits, Verdict: ev.Verdict, Reasons: append([]Reason(nil), ev.Reasons...),
		Billed: ev.Billed[TotalCost], Recomputed: ev.Recomputed[TotalCost], Periods: ev.DifferingPeriods(), Evidence: ev.Evidence()}
	for _, f := range ev.Findings {
		if f.Severity == SeverityError && !hasCode(d.Codes, f.Code) {
			d.Codes = append(d.Codes, f.Code)
		}
	}
	d.InDispute = inDispute(ev)
	d.Events = []DisputeEvent{{Seq: 1, State: DisputeRaised, At: at.UTC(), By: by, Note: ev.String()}}
	return d
}

func hasCode(cs []Code, c Code) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// DifferingPeriods are the charging periods where the difference arises:
// those the most likely hypothesis that explains the billed amount (the
// one the first reason comes from: most other amounts reproduced, then
// reason precedence) prices differently from the recomputation. Nil when
// no hypothesis explains it.
func (e *Evaluation) DifferingPeriods() []int {
	var best *Trial
	for i := range e.Trials {
		t := &e.Trials[i]
		if !t.Explains {
			continue
		}
		if best == nil || t.Agree > best.Agree || t.Agree == best.Agree && reasonRank(t.Reason) < reasonRank(best.Reason) {
			best = t
		}
	}
	if best == nil || len(best.Periods) == 0 {
		return nil
	}
	return append([]int(nil), best.Periods...)
}

// inDispute is the amount the eMSP refuses to pay for the CDR.
func inDispute(ev *Evaluation) Amount {
	b, r := ev.Billed[TotalCost], ev.Recomputed[TotalCost]
	round := func(a Amount) Amount {
		a.Excl, a.Incl = RoundMicro(a.Excl, ev.MinorUnits), RoundMicro(a.Incl, ev.MinorUnits)
		return a
	}
	switch {
	case ev.Verdict == VerdictMismatch && b.HasExcl && r.HasExcl:
		return round(subAmount(b, r))
	case ev.Verdict == VerdictNotVerifiable && b.HasExcl, ev.Findings.Has(CodeUnknownToken) && b.HasExcl:
		return round(b)
	}
	return Amount{}
}

// Evidence is a text account of an evaluation for the partner: both
// computations, the tariff versions, each hypothesis tried, the findings.
func (e *Evaluation) Evidence() string {
	var b strings.Builder
	money := func(a Amount) string {
		if !a.HasExcl {
			return "none"
		}
		s := FixedMicro(a.Excl, e.MinorUnits)
		if a.HasIncl {
			s += " / " + FixedMicro(a.Incl, e.MinorUnits)
		}
		return s + " " + e.Currency
	}
	fmt.Fprintf(&b, "%s\n", e.String())
	fmt.Fprintf(&b, "billed total_cost %s (excl / incl VAT), recomputed %s\n", money(e.Billed[TotalCost]), money(e.Recomputed[TotalCost]))
	for f := range NumFields {
		if f == TotalCost || (!e.Beyond[f][0] && !e.Beyond[f][1]) {
			continue
		}
		fmt.Fprintf(&b, "  %s billed %s, recomputed %s\n", f, money(e.Billed[f]), money(e.Recomputed[f]))
	}
	for _, v := range e.Versions {
		fmt.Fprintf(&b, "tariff in effect: %s\n", v)
	}
	if e.Zone != "" {
		fmt.Fprintf(&b, "local time zone: %s\n", e.Zone)
	}
	for i := range e.Trials {
		t := &e.Trials[i]
		b.WriteString("hypothesis ")
		b.WriteString(t.Describe(e.MinorUnits))
		if len(t.Periods) > 0 {
			fmt.Fprintf(&b, " (differs in periods %v)", t.Periods)
		}
		b.WriteByte('\n')
	}
	for _, f := range e.Findings {
		fmt.Fprintf(&b, "finding %s\n", f)
	}
	return strings.TrimRight(b.String(), "\n")
}
