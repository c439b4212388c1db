package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"
)

func TestCleanCDRsRepriceExactly(t *testing.T) {
	checked := 0
	for _, n := range checkCleanCDRs(t, sharedOutput(t)) {
		checked += n
	}
	if checked < 3500 {
		t.Fatalf("only %d clean CDRs checked", checked)
	}
}

// checkCleanCDRs reprices every CDR without an injected error or a credit
// with the oracle and checks the billed amounts; it returns how many were
// checked per currency.
func checkCleanCDRs(t *testing.T, out *outData) map[string]int {
	t.Helper()
	checked := map[string]int{}
	for _, pd := range out.parties {
		v211 := pd.sum.OCPIVersion == "2.1.1"
		for i, c := range pd.cdrs {
			if isCredit(c) || len(out.gtByCDR[cdrKey(pd, str(c["id"]))]) > 0 {
				continue
			}
			r, err := reprice(pd, c)
			if err != nil {
				t.Fatalf("%s line %d: %v", pd.sum.CDRFile, i+1, err)
			}
			for _, s := range r.split {
				t.Errorf("%s line %d: not split at a tariff boundary: %s", pd.sum.CDRFile, i+1, s)
			}
			for _, d := range compareClaimed(c, r, v211) {
				t.Errorf("%s line %d (%s): %s", pd.sum.CDRFile, i+1, str(c["id"]), d)
			}
			checked[pd.sum.Currency]++
		}
	}
	return checked
}

func TestDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CDRs = 1500
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	ctx := context.Background()
	if _, err := Generate(ctx, cfg, a); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, cfg, b); err != nil {
		t.Fatal(err)
	}
	cfg.Seed++
	sumC, err := Generate(ctx, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for _, f := range sumC.Files {
		fa, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		fb, _ := os.ReadFile(filepath.Join(b, f))
		fc, _ := os.ReadFile(filepath.Join(c, f))
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s: two runs with the same config differ", f)
		}
		if !bytes.Equal(fa, fc) {
			differ++
		}
	}
	if differ != len(sumC.Files) {
		t.Errorf("a different seed changed only %d of %d files", differ, len(sumC.Files))
	}
}

func TestEveryLineIsJSON(t *testing.T) {
	out := sharedOutput(t)
	for _, f := range out.sum.Files {
		if filepath.Ext(f) != ".ndjson" {
			continue
		}
		lines, err := readLines(filepath.Join(out.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) == 0 {
			t.Errorf("%s is empty", f)
		}
		for i, l := range lines {
			if !json.Valid(l) {
				t.Errorf("%s line %d is not JSON: %.200s", f, i+1, l)
			}
			if bytes.Contains(l, []byte(`e+`)) || bytes.Contains(l, []byte(`E+`)) {
				t.Errorf("%s line %d has an exponent number", f, i+1)
			}
		}
	}
}

func TestDateTimesAreUTCWithZ(t *testing.T) {
	out := sharedOutput(t)
	for _, pd := range out.parties {
		for i, c := range pd.cdrs {
			for _, k := range []string{"start_date_time", "end_date_time", "stop_date_time", "last_updated"} {
				if v, ok := c[k]; ok {
					s := str(v)
					if len(s) != 20 || s[19] != 'Z' {
						t.Errorf("%s line %d: %s %q", pd.sum.CDRFile, i+1, k, s)
					}
				}
			}
		}
	}
}

// Each period's declared time volume is its length in hours to 4 decimals,
// and the session totals match the timestamps.
func TestTimeVolumesMatchPeriods(t *testing.T) {
	out := sharedOutput(t)
	hour := decimal.NewFromInt(3600)
	half := decimal.RequireFromString("0.00005")
	for _, pd := range out.parties {
		for i, c := range pd.cdrs {
			periods := arr(c["charging_periods"])
			if len(periods) == 0 {
				continue
			}
			endV := c["end_date_time"]
			if endV == nil {
				endV = c["stop_date_time"]
			}
			end := parseDT(endV)
			totalTime, parking, energy := decimal.Zero, decimal.Zero, decimal.Zero
			for j, pv := range periods {
				ps := parseDT(obj(pv)["start_date_time"])
				pe := end
				if j+1 < len(periods) {
					pe = parseDT(obj(periods[j+1])["start_date_time"])
				}
				length := decimal.NewFromInt(int64(pe.Sub(ps).Seconds())).Div(hour)
				declared := decimal.Zero
				for _, dv := range arr(obj(pv)["dimensions"]) {
					d := obj(dv)
					switch str(d["type"]) {
					case "TIME":
						declared = declared.Add(num(d["volume"]))
					case "PARKING_TIME":
						declared = declared.Add(num(d["volume"]))
						parking = parking.Add(num(d["volume"]))
					case "ENERGY":
						energy = energy.Add(num(d["volume"]))
					}
				}
				if declared.Sub(length).Abs().GreaterThan(half) {
					t.Errorf("%s line %d period %d: time %s h for a %s h period", pd.sum.CDRFile, i+1, j, declared, length)
				}
				totalTime = totalTime.Add(length)
			}
			if got := num(c["total_time"]); got.Sub(totalTime).Abs().GreaterThan(half) {
				t.Errorf("%s line %d: total_time %s, periods span %s", pd.sum.CDRFile, i+1, got, totalTime)
			}
			if got := num(c["total_parking_time"]); got.Sub(parking).Abs().GreaterThan(half.Mul(decimal.NewFromInt(int64(len(periods))))) {
				t.Errorf("%s line %d: total_parking_time %s, periods %s", pd.sum.CDRFile, i+1, got, parking)
			}
			if got := num(c["total_energy"]); !got.Equal(energy) {
				t.Errorf("%s line %d: total_energy %s, periods %s", pd.sum.CDRFile, i+1, got, energy)
			}
		}
	}
}
