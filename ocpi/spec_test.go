package ocpi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ocpi/golden")

const specDir = "../testdata/ocpi/spec"
const goldenDir = "../testdata/ocpi/golden"

// specHint is what a receiver would know about a spec example: the version
// of the connection and, for 2.1.1 objects without owner fields, the party.
func specHint(version Version) Hint {
	h := Hint{Version: version}
	if version == V211 {
		h.CountryCode, h.PartyID = "NL", "TNM"
	}
	return h
}

func kindOfFile(name string) Kind {
	switch {
	case strings.HasPrefix(name, "cdr"):
		return KindCDR
	case strings.HasPrefix(name, "tariff"):
		return KindTariff
	case strings.HasPrefix(name, "location"):
		return KindLocation
	}
	return ""
}

type specFile struct {
	version Version
	name    string
	path    string
}

func specFiles(t testing.TB) []specFile {
	var out []specFile
	for _, v := range Versions {
		paths, err := filepath.Glob(filepath.Join(specDir, string(v), "*.json"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no spec examples for %s: %v", v, err)
		}
		for _, p := range paths {
			out = append(out, specFile{v, filepath.Base(p), p})
		}
	}
	return out
}

// golden is the normalised view of a decode stored under testdata: the
// model marshalled with decimals as strings, plus every problem.
type golden struct {
	Kind     Kind     `json:"kind"`
	Version  Version  `json:"version"`
	Rejected bool     `json:"rejected"`
	Problems []string `json:"problems"`
	Object   any      `json:"object"`
}

func goldenOf(d Decoded) []byte {
	g := golden{Kind: d.Kind, Version: d.Version, Rejected: d.Rejected, Problems: []string{}}
	for _, p := range d.Problems {
		g.Problems = append(g.Problems, p.String())
	}
	switch {
	case d.CDR != nil:
		g.Object = d.CDR
	case d.Tariff != nil:
		g.Object = d.Tariff
	case d.Location != nil:
		g.Object = d.Location
	case d.Invoice != nil:
		g.Object = d.Invoice
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// Every CDR, tariff and location example of the three specifications decodes
// and validates; the golden files pin the normalised model and the exact
// problems (spec defects show up there as non-blocking problems).
func TestSpecExamples(t *testing.T) {
	for _, f := range specFiles(t) {
		t.Run(string(f.version)+"/"+f.name, func(t *testing.T) {
			raw, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			d := Decode(raw, specHint(f.version))
			if d.Rejected {
				t.Fatalf("rejected: %v", d.Problems)
			}
			if d.Kind != kindOfFile(f.name) || d.Version != f.version {
				t.Errorf("decoded as %s %s, want %s %s", d.Kind, d.Version, kindOfFile(f.name), f.version)
			}
			for _, p := range d.Problems {
				if p.Blocking && !knownBlockingDefects[string(f.version)+"/"+f.name+" "+p.Path] {
					t.Errorf("blocking problem in a spec example: %s", p)
				}
			}
			got := goldenOf(d)
			gp := filepath.Join(goldenDir, string(f.version), strings.TrimSuffix(f.name, ".json")+".golden.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(gp), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(gp, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("%v (run go test -run TestSpecExamples -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decode differs from %s (run with -update after checking the change):\n%s", gp, got)
			}
		})
	}
}

// knownBlockingDefects lists the spec examples whose own defects block
// pricing, by "version/file path".
var knownBlockingDefects = map[string]bool{}

// Kind and version detection from the keys alone agrees with where the spec
// example came from. 2.3.0 locations cannot be told from 2.2.1 ones by their
// keys (only length limits differ); they are detected as 2.2.1.
func TestDetectSpecExamples(t *testing.T) {
	for _, f := range specFiles(t) {
		raw, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		h := specHint(f.version)
		h.Version = ""
		d := Decode(raw, h)
		want := f.version
		if kindOfFile(f.name) == KindLocation && f.version == V230 {
			want = V221
		}
		if d.Kind != kindOfFile(f.name) || d.Version != want {
			t.Errorf("%s/%s: detected %s %s, want %s %s", f.version, f.name, d.Kind, d.Version, kindOfFile(f.name), want)
		}
	}
}
