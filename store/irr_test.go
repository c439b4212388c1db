package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// TestInvoiceReconciliationLatestAndWithdrawal: the newest version's raw
// payload comes back whatever the arrival order, and a withdrawal is
// recorded beside the versions, which all stay.
func TestInvoiceReconciliationLatestAndWithdrawal(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	if _, err := s.LatestInvoiceRaw(ctx, "NL", "ABC", "IRR1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown record: %v", err)
	}
	if _, ok, err := s.InvoiceWithdrawnAt(ctx, "NL", "ABC", "IRR1"); ok || err != nil {
		t.Fatalf("withdrawn before any DELETE: %v %v", ok, err)
	}
	for _, lu := range []string{"2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z"} {
		raw := []byte(`{"country_code":"NL","party_id":"ABC","id":"IRR1","invoice_id":"INV-1","cdrs":["C1"],"last_updated":"` + lu + `"}`)
		r := ocpi.Received{Source: ocpi.Source{Channel: ocpi.ChannelPush}, Raw: raw}
		ocpi.DecodeReceived(&r, ocpi.Hint{Kind: ocpi.KindInvoice, Version: ocpi.V230})
		if out, err := s.Save(ctx, []ocpi.Received{r}); err != nil || out[0] != ocpi.OutcomeAccepted {
			t.Fatalf("save: %v %v %v", out, err, r.Problems)
		}
	}
	raw, err := s.LatestInvoiceRaw(ctx, "nl", "abc", "irr1")
	if err != nil || !strings.Contains(string(raw), "2024-03-01") {
		t.Fatalf("latest: %s %v", raw, err)
	}
	first, second := time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{second, first} {
		if err := s.WithdrawInvoice(ctx, "nl", "abc", "IRR1", at); err != nil {
			t.Fatal(err)
		}
	}
	if at, ok, err := s.InvoiceWithdrawnAt(ctx, "NL", "ABC", "irr1"); !ok || err != nil || !at.Equal(second) {
		t.Fatalf("withdrawn at %v %v %v, want %v", at, ok, err, second)
	}
	if c, err := s.Counts(ctx); err != nil || c.Invoices != 3 {
		t.Fatalf("versions after withdrawal: %+v %v", c, err)
	}
	if _, err := s.LatestInvoiceRaw(ctx, "NL", "ABC", "IRR1"); err != nil {
		t.Fatalf("a withdrawn record keeps its versions: %v", err)
	}
}
