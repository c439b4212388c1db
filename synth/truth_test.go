package synth

import (
	"bytes"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
)

func TestGroundTruthShareAndKinds(t *testing.T) {
	out := sharedOutput(t)
	if len(out.gt) != out.sum.InjectedErrors {
		t.Fatalf("ground_truth.csv has %d rows, manifest says %d errors", len(out.gt), out.sum.InjectedErrors)
	}
	share := float64(len(out.gt)) / float64(out.sum.Sessions) // a ratio of counts, not money
	if share < 0.035 || share > 0.065 {
		t.Errorf("injected share %.4f, want about 0.05", share)
	}
	seen := map[string]int{}
	for _, r := range out.gt {
		seen[r.kind]++
	}
	for _, k := range ErrorKinds {
		if seen[string(k)] == 0 {
			t.Errorf("no %s error in the ground truth", k)
		}
	}
	for _, kc := range out.sum.ErrorsByKind {
		if seen[string(kc.Kind)] != kc.Count {
			t.Errorf("%s: %d rows, manifest says %d", kc.Kind, seen[string(kc.Kind)], kc.Count)
		}
	}
}

func TestZeroShareInjectsNothing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CDRs, cfg.ErrorPerMille = 300, -1
	s, err := Generate(t.Context(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.InjectedErrors != 0 || s.CDRLines != s.Sessions+s.CreditCDRs {
		t.Fatalf("errors %d, lines %d for %d sessions and %d credits", s.InjectedErrors, s.CDRLines, s.Sessions, s.CreditCDRs)
	}
}

// Every ground-truth row describes what the files really contain: the CDR
// claims the billed value, and the independent re-pricer finds the correct
// one.
func TestGroundTruthMatchesFiles(t *testing.T) {
	out := sharedOutput(t)
	byParty := map[string]*partyData{}
	for _, pd := range out.parties {
		byParty[pd.sum.CountryCode+"*"+pd.sum.PartyID] = pd
	}
	for _, r := range out.gt {
		pd := byParty[r.cc+"*"+r.pid]
		idx := pd.cdrsByID[r.id]
		if len(idx) == 0 {
			t.Errorf("%s: CDR %s not in %s", r.kind, r.id, pd.sum.CDRFile)
			continue
		}
		first := pd.cdrs[idx[0]]
		switch r.kind {
		case "duplicate":
			if len(idx) != 2 || !bytes.Equal(pd.lines[idx[0]], pd.lines[idx[1]]) {
				t.Errorf("duplicate %s: %d lines, identical %v", r.id, len(idx), len(idx) == 2 && bytes.Equal(pd.lines[idx[0]], pd.lines[idx[1]]))
			}
		case "conflict":
			if len(idx) != 2 || bytes.Equal(pd.lines[idx[0]], pd.lines[idx[1]]) {
				t.Errorf("conflict %s: want two different lines, got %d", r.id, len(idx))
				continue
			}
			checkAmount(t, pd, r, pd.cdrs[idx[1]], first)
		case "missing_fields":
			if fieldValue(first, r.field) != nil {
				t.Errorf("missing_fields %s: %s is present", r.id, r.field)
			}
		case "unknown_token":
			if out.tokenUIDs[r.billed] || out.contracts[r.billed] {
				t.Errorf("unknown_token %s: %s is in tokens.ndjson", r.id, r.billed)
			}
			if str(fieldValue(first, r.field)) != r.billed {
				t.Errorf("unknown_token %s: %s is %v, ground truth says %s", r.id, r.field, fieldValue(first, r.field), r.billed)
			}
		case "time_zone":
			if pd.sum.TimeZone == "Atlantic/Reykjavik" {
				t.Errorf("time_zone error %s in a zone that is UTC all year", r.id)
			}
			checkAmount(t, pd, r, first, first)
		default:
			checkAmount(t, pd, r, first, first)
		}
		if len(idx) > 1 && r.kind != "duplicate" && r.kind != "conflict" {
			t.Errorf("%s %s: id appears %d times", r.kind, r.id, len(idx))
		}
	}
}

// checkAmount verifies billed against the line that claims it and correct
// against the oracle's pricing of the session.
func checkAmount(t *testing.T, pd *partyData, r gtRow, billedCDR, sessionCDR jobj) {
	t.Helper()
	if got := num(fieldValue(billedCDR, r.field)); !got.Equal(decimal.RequireFromString(r.billed)) {
		t.Errorf("%s %s: %s is %s, ground truth billed %s", r.kind, r.id, r.field, got, r.billed)
	}
	res, err := reprice(pd, sessionCDR)
	if err != nil {
		t.Fatal(err)
	}
	want := res.total.excl
	switch r.field {
	case "total_cost.incl_vat":
		want = res.total.incl
	case "total_cost.taxes[0].amount":
		want = res.total.incl.Sub(res.total.excl)
	}
	if !want.Equal(decimal.RequireFromString(r.correct)) {
		t.Errorf("%s %s: oracle says %s %s, ground truth correct %s", r.kind, r.id, r.field, want, r.correct)
	}
	if r.correct == r.billed {
		t.Errorf("%s %s: billed equals correct (%s)", r.kind, r.id, r.billed)
	}
}

// fieldValue follows a ground-truth field path (a.b, taxes[0]).
func fieldValue(c jobj, path string) any {
	var cur any = c
	for _, part := range bytes.Split([]byte(path), []byte(".")) {
		name := string(part)
		idx := -1
		if i := bytes.IndexByte(part, '['); i >= 0 {
			name, idx = string(part[:i]), int(part[i+1]-'0')
		}
		o := obj(cur)
		if o == nil {
			return nil
		}
		cur = o[name]
		if idx >= 0 {
			a := arr(cur)
			if idx >= len(a) {
				return nil
			}
			cur = a[idx]
		}
	}
	return cur
}

func TestCleanTokensAreIssued(t *testing.T) {
	out := sharedOutput(t)
	for _, pd := range out.parties {
		for i, c := range pd.cdrs {
			rows := out.gtByCDR[cdrKey(pd, str(c["id"]))]
			if slices.ContainsFunc(rows, func(r gtRow) bool { return r.kind == "unknown_token" || r.kind == "missing_fields" }) {
				continue
			}
			if tok := obj(c["cdr_token"]); tok != nil {
				if !out.tokenUIDs[str(tok["uid"])] || !out.contracts[str(tok["contract_id"])] {
					t.Errorf("%s line %d: token %v not issued", pd.sum.CDRFile, i+1, tok)
				}
			} else if !out.contracts[str(c["auth_id"])] {
				t.Errorf("%s line %d: auth_id %v not issued", pd.sum.CDRFile, i+1, c["auth_id"])
			}
		}
	}
}

func TestCreditCDRsNegateTheOriginal(t *testing.T) {
	out := sharedOutput(t)
	credits := 0
	for _, pd := range out.parties {
		for i, c := range pd.cdrs {
			if !isCredit(c) {
				continue
			}
			credits++
			ref := str(c["credit_reference_id"])
			idx := pd.cdrsByID[ref]
			if len(idx) != 1 || str(c["id"]) != ref+"-C" {
				t.Errorf("%s line %d: credit of %q found %d originals", pd.sum.CDRFile, i+1, ref, len(idx))
				continue
			}
			orig := pd.cdrs[idx[0]]
			got, _ := claimed(c["total_cost"])
			want, _ := claimed(orig["total_cost"])
			if !got.excl.Equal(want.excl.Neg()) || !got.incl.Equal(want.incl.Neg()) {
				t.Errorf("%s line %d: credit total %v, original %v", pd.sum.CDRFile, i+1, got, want)
			}
			if !num(c["total_energy"]).Equal(num(orig["total_energy"])) {
				t.Errorf("%s line %d: credit does not repeat the session", pd.sum.CDRFile, i+1)
			}
		}
	}
	if credits == 0 || credits != out.sum.CreditCDRs {
		t.Errorf("%d credit CDRs in the files, manifest says %d", credits, out.sum.CreditCDRs)
	}
}
