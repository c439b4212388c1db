package invoicing

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// indentOracle is what indentJSON must equal: json.Indent.
func indentOracle(t testing.TB, compact []byte) []byte {
	var want bytes.Buffer
	if err := json.Indent(&want, compact, "", "  "); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	return want.Bytes()
}

// TestIndentJSONMatchesEncodingJSON: documents and random values indent
// to json.Indent's bytes, and MarshalDocument (its lines streamed one by
// one) writes what the encoder with SetIndent wrote before, with lines,
// with none (null) and with an empty list.
func TestIndentJSONMatchesEncodingJSON(t *testing.T) {
	cfg := sampleConfig()
	cfg.Grouping = PerCDR
	cfg.Disputes = ListDisputes
	docs, err := Statements(cfg, samplePeriod(), sampleCDRs(30), sampleIssueDate)
	if err != nil {
		t.Fatal(err)
	}
	noLines, emptyLines := *docs[0], *docs[0]
	noLines.Lines, emptyLines.Lines = nil, []Line{}
	for _, d := range append(docs, cjkDoc(t), &noLines, &emptyLines) {
		var old bytes.Buffer
		enc := json.NewEncoder(&old)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
		got, err := MarshalDocument(d)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, old.Bytes()) {
			t.Errorf("document %s: MarshalDocument differs from the indenting encoder", d.Number)
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 2000 {
		v := randomJSON(rng, 0)
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := indentJSON(nil, compact, "", "  "), indentOracle(t, compact); !bytes.Equal(got, want) {
			t.Fatalf("value %d %s:\ngot  %s\nwant %s", i, compact, got, want)
		}
	}
}

func randomJSON(rng *rand.Rand, depth int) any {
	k := rng.IntN(8)
	if depth > 4 {
		k = rng.IntN(4)
	}
	switch k {
	case 0:
		return randomString(rng)
	case 1:
		return json.Number(strconv.FormatInt(rng.Int64N(2_000_000)-1_000_000, 10) + []string{"", ".5", "e3", ".125E-2"}[rng.IntN(4)])
	case 2:
		return []any{true, false, nil}[rng.IntN(3)]
	case 3:
		return rng.Float64()
	case 4, 5:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = randomJSON(rng, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for range rng.IntN(4) {
			m[randomString(rng)] = randomJSON(rng, depth+1)
		}
		return m
	}
}

func randomString(rng *rand.Rand) string {
	pieces := []string{"a", `"`, `\`, "\n", "ł", "€", "<&>", ",", ":", "{", "]", " ", "\u2028", "\x01"}
	var b strings.Builder
	for range rng.IntN(6) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// FuzzIndentJSON: any valid JSON, compacted, indents as json.Indent does.
func FuzzIndentJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{},[],"x\"y"],"b":{"c":null}}`, `"\\"`, `[true,false,-0.5e3]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, in); err != nil {
			return
		}
		if got, want := indentJSON(nil, compact.Bytes(), "", "  "), indentOracle(t, compact.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("%q:\ngot  %q\nwant %q", compact.Bytes(), got, want)
		}
	})
}
