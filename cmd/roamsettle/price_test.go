package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/shopspring/decimal"

	"github.com/roamsettle/roamsettle/pricing"
)

func init() {
	// Other test files of the package may define -update too.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden output")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestUpdatePriceGolden rewrites the `cmp stdout` golden sections of the
// price scripts (run by TestScripts) when -update is given.
func TestUpdatePriceGolden(t *testing.T) {
	if !updating() {
		t.Skip("rewrites testdata/script/price*.txtar golden output with -update")
	}
	files, err := filepath.Glob("testdata/script/price*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no price scripts: %v", err)
	}
	testscript.Run(t, testscript.Params{Files: files, UpdateScripts: true})
}

func TestParsePolicy(t *testing.T) {
	def := pricing.DefaultPolicy()
	rows := []struct {
		spec    string
		want    pricing.Policy
		wantErr bool
	}{
		{spec: "", want: def},
		{spec: "default", want: def},
		{spec: "exact", want: pricing.ExactPolicy()},
		{spec: "rounding=half_even", want: pricing.Policy{Mode: pricing.HalfEven, Level: pricing.RoundTotal, Step: pricing.StepLastTimeDimension, MinorUnits: -1}},
		{spec: "level=line, step=2.2.1-tag ,minor=3", want: pricing.Policy{Mode: pricing.HalfUp, Level: pricing.RoundLine, Step: pricing.StepCombinedTime, MinorUnits: 3}},
		{spec: "mode=half_up,level=none", want: pricing.ExactPolicy()},
		{spec: "level=sometimes", wantErr: true},
		{spec: "minor=-1", wantErr: true},
		{spec: "minor=5", wantErr: true},
		{spec: "colour=blue", wantErr: true},
		{spec: "half_up", wantErr: true},
	}
	for _, r := range rows {
		got, err := parsePolicy(r.spec)
		if (err != nil) != r.wantErr {
			t.Errorf("%q: error %v, want error %v", r.spec, err, r.wantErr)
			continue
		}
		if !r.wantErr && got != r.want {
			t.Errorf("%q: %+v, want %+v", r.spec, got, r.want)
		}
	}
}

// price reads files with ingest's one rule (ingest.Split): objects, lists,
// NDJSON and OCPI pages (data + status_code); an error page or a record cut
// off is an error.
func TestReadObjects(t *testing.T) {
	rows := []struct {
		name, in string
		n        int
		wantErr  bool
	}{
		{"object", `{"id":"1","elements":[]}`, 1, false},
		{"object with BOM and space", "\ufeff {\"id\":\"1\"} \n", 1, false},
		{"list", `[{"id":"1"},{"id":"2"}]`, 2, false},
		{"empty list", `[]`, 0, false},
		{"ndjson", "{\"id\":\"1\"}\n{\"id\":\"2\"}\n", 2, false},
		{"envelope with object", `{"data":{"id":"1"},"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}`, 1, false},
		{"envelope with list", `{"data":[{"id":"1"},{"id":"2"},{"id":"3"}],"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}`, 3, false},
		{"envelope without timestamp", `{"data":[{"id":"1"}],"status_code":1000}`, 1, false},
		{"an object with a data field is not an envelope", `{"id":"1","data":"x"}`, 1, false},
		{"a status without data is not an envelope", `{"status_code":2001,"status_message":"bad","timestamp":"2026-01-01T00:00:00Z"}`, 1, false},
		{"error envelope", `{"data":[],"status_code":2001,"status_message":"bad"}`, 0, true},
		{"envelope with null data", `{"data":null,"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}`, 0, false},
		{"empty", ``, 0, false},
		{"truncated", "{\n\"id\":", 0, true},
	}
	dir := t.TempDir()
	for i, r := range rows {
		path := filepath.Join(dir, fmt.Sprintf("%d.json", i))
		if err := os.WriteFile(path, []byte(r.in), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readObjects(path)
		if (err != nil) != r.wantErr || len(got) != r.n {
			t.Errorf("%s: %d objects, error %v; want %d, error %v", r.name, len(got), err, r.n, r.wantErr)
		}
	}
}

// Amounts are written from the decimal's digits: with the currency's minor
// units when that is exact, else with every digit, never rounded.
func TestMoneyDigits(t *testing.T) {
	rows := []struct {
		in    string
		minor int
		want  string
	}{
		{"4", 2, "4.00"},
		{"4.4000000000", 2, "4.40"},
		{"0.3833333333", 2, "0.3833333333"},
		{"12.375", 2, "12.375"},
		{"-3.75", 2, "-3.75"},
		{"1500", 0, "1500"},
		{"0.125", 3, "0.125"},
		{"0", 3, "0.000"},
	}
	for _, r := range rows {
		if got := string(money(decimal.RequireFromString(r.in), r.minor)); got != r.want {
			t.Errorf("money(%s, %d) = %s, want %s", r.in, r.minor, got, r.want)
		}
	}
}
