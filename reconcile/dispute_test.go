package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

func TestDisputeLifecycle(t *testing.T) {
	c := sessionCDR()
	billAs(t, c, []ocpi.Tariff{v1}, baseOpts)
	ev := evaluate(t, c, nil)
	at := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	d := NewDispute(ev, "2026-10", at, "reconcile 2026-10")
	if d == nil || d.State() != DisputeRaised || d.Key() != "NL-EVB/CDR1" || d.InDispute.Excl != d.Billed.Excl-d.Recomputed.Excl || d.InDispute.Excl >= 0 {
		t.Fatalf("%+v", d)
	}
	if !strings.Contains(d.Evidence, "EXPLAINS") || !strings.Contains(d.Evidence, "T1 of") {
		t.Errorf("evidence:\n%s", d.Evidence)
	}
	steps := []struct {
		to DisputeState
		ok bool
	}{{DisputeAccepted, false}, {DisputeSent, true}, {DisputeDeclined, true}, {DisputeSent, true}, {DisputeAccepted, true},
		{DisputeDeclined, false}, {DisputeRevised, true}, {DisputeWrittenOff, false}}
	for i, s := range steps {
		_, err := d.Move(s.to, at.Add(time.Duration(i)*time.Hour), "user", "")
		if (err == nil) != s.ok {
			t.Errorf("step %d to %s: %v", i, s.to, err)
		}
	}
	// Every change appended: raised + 5 moves, in order.
	if len(d.Events) != 6 || d.State() != DisputeRevised || !d.State().Closed() || d.Events[5].Seq != 6 {
		t.Errorf("events %+v", d.Events)
	}
	// A matching CDR raises none.
	c = sessionCDR()
	billAs(t, c, []ocpi.Tariff{v2}, baseOpts)
	if d := NewDispute(evaluate(t, c, nil), "2026-10", at, "x"); d != nil {
		t.Errorf("dispute on an OK CDR: %+v", d)
	}
	// An unknown token disputes the whole billed amount; a duplicate none of it.
	tok := Findings{{Code: CodeUnknownToken, Severity: SeverityError}}
	if d := NewDispute(evaluate(t, c, tok), "2026-10", at, "x"); d == nil || d.InDispute.Excl != d.Billed.Excl || d.Codes[0] != CodeUnknownToken {
		t.Errorf("unknown token: %+v", d)
	}
	dup := Findings{{Code: CodeDuplicate, Severity: SeverityError}}
	if d := NewDispute(evaluate(t, c, dup), "2026-10", at, "x"); d == nil || d.InDispute.HasExcl {
		t.Errorf("duplicate: %+v", d)
	}
}

func TestParseDisputeState(t *testing.T) {
	if s, err := ParseDisputeState(" Written-Off "); err != nil || s != DisputeWrittenOff {
		t.Fatal(s, err)
	}
	if _, err := ParseDisputeState("paid"); err == nil {
		t.Fatal("paid accepted")
	}
}
