package ingest

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type cut struct {
	Raw     string
	Problem string
}

func splitAll(t *testing.T, input string, limit int) (cuts []cut, pages, errorPages int) {
	t.Helper()
	src := newSource(iotest.HalfReader(strings.NewReader(input)), 16) // tiny buffer: every refill path runs
	if limit > 0 {
		src.limit = limit
	}
	pages, errorPages, err := splitWith(src, func(p piece) error {
		c := cut{Raw: string(p.raw)}
		if p.problem != "" {
			c.Problem = p.problem
		}
		cuts = append(cuts, c)
		return nil
	})
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	return cuts, pages, errorPages
}

func TestSplit(t *testing.T) {
	const truncated = "unexpected end of input: the record is cut off"
	tests := []struct {
		name  string
		in    string
		want  []cut
		pages int
	}{
		{"single object", `{"id":"1"}`, []cut{{Raw: `{"id":"1"}`}}, 0},
		{"pretty object", "{\n  \"id\": \"1\",\n  \"a\": [1, {\"b\": \"}\"}]\n}\n",
			[]cut{{Raw: "{\n  \"id\": \"1\",\n  \"a\": [1, {\"b\": \"}\"}]\n}"}}, 0},
		{"array", ` [ {"id":"1"} , {"id":"2","s":"a]\"b"} ]`,
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":"2","s":"a]\"b"}`}}, 0},
		{"empty array", `[]`, nil, 0},
		{"ndjson", "{\"id\":\"1\"}\n\n{\"id\":\"2\"}\r\n{\"id\":\"3\"}",
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":"2"}`}, {Raw: `{"id":"3"}`}}, 0},
		{"ndjson with a broken line in the middle", "{\"id\":\"1\"}\n{\"id\": oops\n{\"id\":\"3\"}\n",
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id": oops`}, {Raw: `{"id":"3"}`}}, 0},
		{"ndjson with unbalanced braces in a line", "{\"id\":\"1\"}\n{\"id\":{\"x\":1}\n{\"id\":\"3\"}\n",
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":{"x":1}`}, {Raw: `{"id":"3"}`}}, 0},
		{"truncated last ndjson line", "{\"id\":\"1\"}\n{\"id\":\"2\",\"x\":[1,",
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":"2","x":[1,`}}, 0},
		{"truncated pretty object", "{\n \"id\": \"1\",\n \"x\": [",
			[]cut{{Raw: "{\n \"id\": \"1\",\n \"x\": [", Problem: truncated}}, 0},
		{"ocpi page", `{"data":[{"id":"1"},{"id":"2"}],"status_code":1000,"timestamp":"2015-06-30T21:59:59Z"}`,
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":"2"}`}}, 1},
		{"ocpi page with one object", `{"status_code":1000,"data":{"id":"1"}}`, []cut{{Raw: `{"id":"1"}`}}, 1},
		{"ocpi page without data", `{"status_code":2001,"status_message":"bad","data":null}`, nil, 1},
		{"pages as ndjson", "{\"data\":[{\"id\":\"1\"}],\"status_code\":1000}\n{\"data\":[{\"id\":\"2\"}],\"status_code\":1000}\n",
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":"2"}`}}, 2},
		{"pretty pages back to back", "{\n\"data\": [\n{\"id\":\"1\"}\n],\n\"status_code\": 1000}\n{\n\"data\": [{\"id\":\"2\"}], \"status_code\": 1000\n}",
			[]cut{{Raw: `{"id":"1"}`}, {Raw: `{"id":"2"}`}}, 2},
		{"an object with a data field is not a page", `{"data":[1],"id":"x"}`, []cut{{Raw: `{"data":[1],"id":"x"}`}}, 0},
		{"not json at all", "hello\nworld\n", []cut{{Raw: "hello"}, {Raw: "world"}}, 0},
		{"byte order mark", "\xEF\xBB\xBF{\"id\":\"1\"}", []cut{{Raw: `{"id":"1"}`}}, 0},
		{"empty input", "  \n ", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages, _ := splitAll(t, tt.in, 0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if pages != tt.pages {
				t.Errorf("pages = %d, want %d", pages, tt.pages)
			}
		})
	}
}

func TestSplitDeepNestingCostsNoStack(t *testing.T) {
	const depth = 200_000
	deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	got, _, _ := splitAll(t, deep+"\n"+`{"id":"2"}`+"\n", 0)
	// The top-level array is streamed: its one element is the array nested
	// one level less deep; then the NDJSON line follows.
	want := []cut{{Raw: deep[1 : len(deep)-1]}, {Raw: `{"id":"2"}`}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %d records, want the inner array and the next line", len(got))
	}
}

func TestSplitOversizedLineKeepsPrefixAndHash(t *testing.T) {
	big := `{"id":"big","pad":"` + strings.Repeat("x", 5000) + `"}`
	in := `{"id":"1"}` + "\n" + big + "\n" + `{"id":"3"}` + "\n"
	src := newSource(strings.NewReader(in), 64)
	src.limit = 1024
	var got []piece
	if _, _, err := splitWith(src, func(p piece) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	p := got[1]
	if !p.truncated || p.problem == "" {
		t.Fatalf("oversized record not flagged: %+v", p.problem)
	}
	if p.size != int64(len(big)+1) { // the newline ends it and is hashed with it
		t.Errorf("size = %d, want %d", p.size, len(big)+1)
	}
	if want := sha256.Sum256([]byte(big + "\n")); p.sum != want {
		t.Errorf("sum of the whole record differs")
	}
	if !bytes.HasPrefix([]byte(big), p.raw) || len(p.raw) == 0 {
		t.Errorf("raw is not a prefix of the record")
	}
	if string(got[2].raw) != `{"id":"3"}` {
		t.Errorf("record after the oversized one = %q", got[2].raw)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{`{"id":"1"}`, "[{\"a\":1},{\"b\":\"]\"}]", "{\"data\":[{}],\"status_code\":1000}", "{\n\"a\":\n", "x\ny", `"\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src := newSource(bytes.NewReader(in), 8)
		src.limit = 256
		var total int
		_, _, err := splitWith(src, func(p piece) error {
			total += len(p.raw)
			if p.problem == "" && len(bytes.TrimSpace(p.raw)) == 0 {
				t.Fatalf("empty record without a problem")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("split: %v", err)
		}
	})
}

// Split is the importer's rule for other commands: the same records, and the
// first error page's status.
func TestSplitExported(t *testing.T) {
	in := "{\"data\":[{\"id\":\"1\"}],\"status_code\":1000}\n" +
		"{\"status_code\":2001,\"status_message\":\"bad\",\"data\":[{\"id\":\"2\"}]}\n" +
		"{\"status_code\":3000,\"data\":null}\n{\"id\":\"3\"}\n"
	var got []string
	pages, err := Split(strings.NewReader(in), func(r Record) error {
		got = append(got, string(r.Raw))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"id":"1"}`, `{"id":"2"}`, `{"id":"3"}`}; !cmp.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
	if pages != (Pages{Pages: 3, ErrorPages: 2, ErrorCode: "2001"}) {
		t.Errorf("pages %+v", pages)
	}
}
