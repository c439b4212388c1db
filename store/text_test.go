package store

import (
	"context"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// One invalid UTF-8 byte used to fail the whole batch ("Invalid unicode"):
// in a group commit, every partner's CDRs with it (issue 12 items 6, 7).
// Text that reaches Save by any way is stored with its bad bytes spelt
// \xHH, and the rest of the batch is stored too.
func TestInvalidUTF8NeverFailsABatch(t *testing.T) {
	s := openMem(t)
	bad := sampleCDR("BAD")
	bad.Location.Address = "Damrak\xff 70"
	bad.Location.TariffIDs = []string{"T\xfe"}
	badRecv := recvCDR(bad, "bad", 0)
	badRecv.Source.Name = "/ocpi/2.2.1/tariffs/NL/ABC/\xff"
	rej := recvRejected("{\"id\": \"\xff\"", 2, ocpi.Problem{Rule: ocpi.RuleSyntax, Message: "bad \xff"})
	out := save(t, s, badRecv, recvCDR(sampleCDR("GOOD"), "good", 1), rej)
	if out[0] != ocpi.OutcomeAccepted || out[1] != ocpi.OutcomeAccepted || out[2] != ocpi.OutcomeRejected {
		t.Fatalf("outcomes %v", out)
	}
	var addr, tariff, source string
	if err := s.DB().QueryRow(`SELECT location_address, location_tariff_ids[1] FROM cdrs WHERE id = 'BAD'`).Scan(&addr, &tariff); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRow(`SELECT source_name FROM receipts WHERE position = 0`).Scan(&source); err != nil {
		t.Fatal(err)
	}
	if addr != `Damrak\xFF 70` || tariff != `T\xFE` || source != `/ocpi/2.2.1/tariffs/NL/ABC/\xFF` {
		t.Errorf("stored %q %q %q", addr, tariff, source)
	}
	if c := counts(t, s); c.CDRs != 2 || c.RejectsByRule[ocpi.RuleSyntax] != 1 {
		t.Errorf("counts %+v", c)
	}
	// The raw payload keeps the bytes as sent.
	rs, err := s.Rejects(context.Background(), 10)
	if err != nil || len(rs) != 1 || string(rs[0].Raw) != "{\"id\": \"\xff\"" {
		t.Fatalf("rejects %v %v", rs, err)
	}
}
