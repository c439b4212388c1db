package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Status counts per partner and kind (issue 12 item 16); its JSON is a
// surface other tools read, so its field names are pinned here.
func TestStatus(t *testing.T) {
	s := openMem(t)
	blocked := sampleCDR("B")
	bRecv := recvCDR(blocked, "b", 1)
	bRecv.Problems = ocpi.Problems{{Path: "currency", Rule: ocpi.RuleCurrency, Blocking: true, Message: "x"}}
	conflicting := sampleCDR("A")
	conflicting.MeterID = "other"
	save(t, s, recvCDR(sampleCDR("A"), "a", 0), bRecv, recvCDR(conflicting, "a2", 2),
		recvTariff(sampleTariff("T1", t0), "t1", 3), recvTariff(sampleTariff("T1", t0.Add(1e9)), "t2", 4),
		recvLocation(sampleLocation("L1", "Europe/Brussels", t0), "l", 5),
		recvRejected("nope", 6, ocpi.Problem{Rule: ocpi.RuleSyntax, Blocking: true}))
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Partners) != 1 {
		t.Fatalf("partners %+v", st.Partners)
	}
	p := st.Partners[0]
	if p.Party != "NL-ABC" || p.CDRs.Count != 2 || p.CDRs.Blocked != 1 || p.Tariffs.Objects != 1 || p.Tariffs.Versions != 2 ||
		p.Locations.Versions != 1 || p.Conflicts != 1 || p.Rejected != 1 || p.Receipts.Count != 7 || p.Receipts.ByChannel["file"] != 7 ||
		p.FindingsByRule["currency"] != (RuleCount{1, 1}) || p.CDRs.LastEnd == nil || p.LastReceivedAt == nil {
		t.Errorf("partner status %+v", p)
	}
	if st.Totals.CDRs != 2 || st.Totals.BlockedCDRs != 1 || st.Totals.Rejected != 1 || st.RejectsByRule["syntax"] != 1 ||
		st.ConflictsByKind["cdr"] != 1 {
		t.Errorf("totals %+v rejects %v conflicts %v", st.Totals, st.RejectsByRule, st.ConflictsByKind)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"database"`, `"schema_version"`, `"totals"`, `"partners"`, `"party"`, `"cdrs"`, `"blocked"`,
		`"tariffs"`, `"locations"`, `"invoice_reconciliations"`, `"objects"`, `"versions"`, `"withdrawn"`, `"receipts"`,
		`"by_channel"`, `"by_outcome"`, `"rejected"`, `"conflicts"`, `"findings_by_rule"`, `"pulls"`, `"rejects_by_rule"`,
		`"conflicts_by_kind"`, `"last_received_at"`, `"blocked_cdrs"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("status JSON lacks %s", key)
		}
	}
}
