package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
)

// The tests read the generated files back with encoding/json and
// shopspring/decimal, independently of the generator's own types.

type jobj = map[string]any

type gtRow struct {
	cc, pid, id, kind, field, billed, correct, note string
}

type partyData struct {
	sum      PartySummary
	tariffs  map[string][]jobj // by id, in file order (oldest first)
	locTZ    map[string]string
	lines    [][]byte
	cdrs     []jobj
	cdrsByID map[string][]int // line indexes
}

type outData struct {
	dir       string
	sum       Summary
	parties   []*partyData
	gt        []gtRow
	gtByCDR   map[string][]gtRow // key CC*PID*ID
	tokenUIDs map[string]bool
	contracts map[string]bool
}

var (
	sharedOnce sync.Once
	shared     *outData
	sharedErr  error
)

// sharedOutput generates one month of 4,000 sessions for all the read-back
// tests.
func sharedOutput(t *testing.T) *outData {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "synth-test-")
		if err != nil {
			sharedErr = err
			return
		}
		cfg := DefaultConfig()
		cfg.CDRs, cfg.Seed = 4000, 7
		if _, err := Generate(context.Background(), cfg, dir); err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = loadOutput(dir)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func decodeLine(line []byte) (jobj, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var o jobj
	if err := d.Decode(&o); err != nil {
		return nil, err
	}
	return o, nil
}

func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out, sc.Err()
}

func loadOutput(dir string) (*outData, error) {
	o := &outData{dir: dir, gtByCDR: map[string][]gtRow{}, tokenUIDs: map[string]bool{}, contracts: map[string]bool{}}
	m, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(m, &o.sum); err != nil {
		return nil, err
	}
	for _, ps := range o.sum.Parties {
		pd := &partyData{sum: ps, tariffs: map[string][]jobj{}, locTZ: map[string]string{}, cdrsByID: map[string][]int{}}
		lines, err := readLines(filepath.Join(dir, ps.TariffsFile))
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			t, err := decodeLine(l)
			if err != nil {
				return nil, err
			}
			pd.tariffs[str(t["id"])] = append(pd.tariffs[str(t["id"])], t)
		}
		if lines, err = readLines(filepath.Join(dir, ps.LocationFile)); err != nil {
			return nil, err
		}
		for _, l := range lines {
			loc, err := decodeLine(l)
			if err != nil {
				return nil, err
			}
			pd.locTZ[str(loc["id"])] = str(loc["time_zone"])
		}
		if pd.lines, err = readLines(filepath.Join(dir, ps.CDRFile)); err != nil {
			return nil, err
		}
		for i, l := range pd.lines {
			c, err := decodeLine(l)
			if err != nil {
				return nil, err
			}
			pd.cdrs = append(pd.cdrs, c)
			pd.cdrsByID[str(c["id"])] = append(pd.cdrsByID[str(c["id"])], i)
		}
		o.parties = append(o.parties, pd)
	}
	f, err := os.Open(filepath.Join(dir, "ground_truth.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	for _, r := range rows[1:] {
		g := gtRow{r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]}
		o.gt = append(o.gt, g)
		k := g.cc + "*" + g.pid + "*" + g.id
		o.gtByCDR[k] = append(o.gtByCDR[k], g)
	}
	lines, err := readLines(filepath.Join(dir, "tokens.ndjson"))
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		tk, err := decodeLine(l)
		if err != nil {
			return nil, err
		}
		o.tokenUIDs[str(tk["uid"])] = true
		o.contracts[str(tk["contract_id"])] = true
	}
	return o, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func obj(v any) jobj {
	o, _ := v.(jobj)
	return o
}

func arr(v any) []any {
	a, _ := v.([]any)
	return a
}

// num reads a JSON number exactly; absent is zero.
func num(v any) decimal.Decimal {
	n, ok := v.(json.Number)
	if !ok {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(n.String())
	if err != nil {
		panic(err)
	}
	return d
}
