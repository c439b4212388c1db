package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// documents maps the documents (statements, invoices, credit notes) under
// out/2026-10/ to their bytes, by CC-PID/NAME.
func documents(t *testing.T, out string) map[string]string {
	t.Helper()
	docs := map[string]string{}
	for _, pattern := range []string{"statement-*", "INV-*", "CN-*"} {
		files, err := filepath.Glob(filepath.Join(out, "2026-10", "*", pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = string(b)
		}
	}
	return docs
}

func sameDocuments(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: no documents", what)
	}
	for name, body := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: no %s", what, name)
		} else if g != body {
			t.Errorf("%s: %s differs", what, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s is new", what, name)
		}
	}
}

// The invoice step on its own, with the real binary on a generated month:
// it refuses a period that is not reconciled; after reconcile it writes
// every partner's statements, the bytes `run`'s invoice step writes for
// the same instant, and the same bytes again on a re-run without touching
// the files; --final issues the numbered invoices once (a re-run issues
// nothing and rewrites nothing), and `run --final` afterwards renders the
// very same documents; --partner writes one partner's folder only; a final
// before the period ends is refused.
func TestInvoiceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and settles a month in separate processes")
	}
	_, _, config, _ := generatedMonth(t, 1500)
	dir := t.TempDir()
	inv, run, one := filepath.Join(dir, "invoice"), filepath.Join(dir, "run"), filepath.Join(dir, "one")
	base := []string{"invoice", "--config", config, "--period", "2026-10"}

	_, stderr, code := binary(t, nil, append(base, "--out", inv)...)
	if code != 1 || !strings.Contains(stderr, "CDRs without a reconciliation result: BE-BLX (") ||
		!strings.Contains(stderr, "roamsettle reconcile --period 2026-10") {
		t.Errorf("an unreconciled period: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(inv); !os.IsNotExist(err) {
		t.Errorf("a refused invoice wrote %s (%v)", inv, err)
	}

	if _, stderr, code := binary(t, nil, "invoice", "--config", config, "--period", "2099-01", "--final"); code != 1 ||
		!strings.Contains(stderr, "a period cannot be finalised before it ends (2099-02-01T00:00:00Z)") {
		t.Errorf("a final before the period ends: exit %d\n%s", code, stderr)
	}

	mustBinary(t, "reconcile", "--config", config, "--period", "2026-10")
	provisional := "2026-11-01T02:00:00Z"
	stdout := mustBinary(t, append(base, "--out", inv, "--as-of", provisional)...)
	if !strings.Contains(stdout, "statements for 8 partner(s)") || !strings.Contains(stdout, "read from reprice:2026-10/*") {
		t.Errorf("statements:\n%s", stdout)
	}
	statements := documents(t, inv)
	if len(statements) != 3*8 { // PDF, XLSX and JSON for each of the 8 CPOs (one currency each)
		t.Errorf("%d statement files, want 24", len(statements))
	}
	before := modTimes(t, inv)
	if stdout := mustBinary(t, append(base, "--out", inv, "--as-of", provisional)...); strings.Count(stdout, ": 0 files written, 3 already in place") != 8 {
		t.Errorf("a re-run:\n%s", stdout)
	}
	if after := modTimes(t, inv); len(after) != len(before) {
		t.Errorf("a re-run changed the files: %d -> %d", len(before), len(after))
	} else {
		for f, m := range before {
			if !after[f].Equal(m) {
				t.Errorf("a re-run rewrote %s", f)
			}
		}
	}
	mustBinary(t, "run", "--config", config, "--period", "2026-10", "--as-of", provisional, "--out", run)
	sameDocuments(t, "run's statements", statements, documents(t, run))

	final := "2026-11-06T02:00:00Z"
	stdout = mustBinary(t, append(base, "--out", inv, "--final", "--as-of", final)...)
	if !strings.Contains(stdout, "final invoices for 8 partner(s)") || strings.Count(stdout, "new: 1 invoice, 0 credit notes") != 8 {
		t.Errorf("final:\n%s", stdout)
	}
	issued := documents(t, inv)
	invoices, _ := filepath.Glob(filepath.Join(inv, "2026-10", "*", "INV-*.pdf"))
	if len(invoices) != 8 {
		t.Errorf("%d invoices, want one per partner: %v", len(invoices), invoices)
	}
	stdout = mustBinary(t, append(base, "--out", inv, "--final", "--as-of", "2026-11-07T02:00:00Z")...)
	if strings.Count(stdout, "new: 0 invoices, 0 credit notes") != 8 {
		t.Errorf("final again on the same rows:\n%s", stdout)
	}
	sameDocuments(t, "final again", issued, documents(t, inv))

	// An issued document's renderings are written once: a PDF as an older
	// roamsettle rendered it stays as it is; a workbook that went missing
	// is rendered again from the stored JSON.
	older, missing := invoices[0], strings.TrimSuffix(invoices[1], ".pdf")+".xlsx"
	if err := os.WriteFile(older, []byte("%PDF-1.3 as an older renderer wrote it"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	mustBinary(t, append(base, "--out", inv, "--final", "--as-of", "2026-11-08T02:00:00Z")...)
	if b, _ := os.ReadFile(older); string(b) != "%PDF-1.3 as an older renderer wrote it" {
		t.Errorf("an issued invoice's PDF was rewritten (%d bytes)", len(b))
	}
	if b, err := os.ReadFile(missing); err != nil || string(b) != issued[filepath.Base(filepath.Dir(missing))+"/"+filepath.Base(missing)] {
		t.Errorf("a missing issued workbook: %v, %d bytes, want it rendered again as issued", err, len(b))
	}
	if err := os.WriteFile(older, []byte(issued[filepath.Base(filepath.Dir(older))+"/"+filepath.Base(older)]), 0o644); err != nil {
		t.Fatal(err)
	}
	mustBinary(t, "run", "--config", config, "--period", "2026-10", "--final", "--as-of", final, "--out", run)
	sameDocuments(t, "run --final after invoice --final", issued, documents(t, run))

	// Without --as-of (statements dated by when the period's newest CDR
	// was received) a re-run rewrites nothing either.
	mustBinary(t, append(base, "--out", one, "--partner", "NL-EVB")...)
	if stdout := mustBinary(t, append(base, "--out", one, "--partner", "NL-EVB")...); !strings.Contains(stdout, ": 0 files written, 3 already in place") {
		t.Errorf("a re-run without --as-of:\n%s", stdout)
	}
	if folders, _ := filepath.Glob(filepath.Join(one, "2026-10", "*")); len(folders) != 1 || filepath.Base(folders[0]) != "NL-EVB" {
		t.Errorf("--partner NL-EVB wrote %v", folders)
	}
}
