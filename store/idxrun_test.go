package store

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"
)

// model is what the index must answer: every entry ever added, per space.
type model [numSpaces]map[string][]byte

func newModel() *model {
	var m model
	for sp := range m {
		m[sp] = map[string][]byte{}
	}
	return &m
}

// addEntry adds an entry to the memtable as Save does (through the add
// methods, which keep the undo log and the counters).
func addEntry(ix *indexes, sp space, key, val []byte) {
	switch sp {
	case spaceCDR:
		ix.addCDR(identityKey(key), seenFrom(val))
	case spaceRaw:
		ix.addRaw([32]byte(key))
	case spaceVersion:
		ix.addVersion(versionKey{identity: identityKey(key[:16]), lastUpdated: int64(binary.BigEndian.Uint64(key[16:]))},
			seenFrom(val))
	case spaceBody:
		ix.addBody([32]byte(key), int64(binary.LittleEndian.Uint64(val)))
	case spaceConflict:
		ix.addConflict([32]byte(key))
	}
}

func lookup(ix *indexes, sp space, key []byte) ([]byte, bool) {
	switch sp {
	case spaceCDR:
		s, ok := ix.cdr(identityKey(key))
		return s.bytes(), ok
	case spaceRaw:
		return nil, ix.raw([32]byte(key))
	case spaceVersion:
		s, ok := ix.version(versionKey{identity: identityKey(key[:16]), lastUpdated: int64(binary.BigEndian.Uint64(key[16:]))})
		return s.bytes(), ok
	case spaceBody:
		k, ok := ix.body([32]byte(key))
		return binary.LittleEndian.AppendUint64(nil, uint64(k)), ok
	default:
		return nil, ix.conflict([32]byte(key))
	}
}

// The index answers exactly what was added, whatever the interleaving of
// additions, flushes into runs and tiered merges, on the heap and in files;
// and keys that were never added are not found, however many runs there are.
func TestIndexRunsAnswerLikeAMap(t *testing.T) {
	for _, onDisk := range []bool{false, true} {
		name := "heap"
		if onDisk {
			name = "files"
		}
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				ix := &indexes{dimTypes: map[string]uint8{}}
				ix.resetMemtable()
				if onDisk {
					dir, err := os.MkdirTemp("", "idxrun")
					if err != nil {
						t.Fatal(err)
					}
					defer os.RemoveAll(dir)
					ix.dir = dir
				}
				defer ix.close()
				m := newModel()
				// Keys come from a small pool of prefixes so that neighbours
				// share directory buckets and filter blocks.
				keyGen := func(sp space) *rapid.Generator[[]byte] {
					return rapid.Custom(func(t *rapid.T) []byte {
						k := rapid.SliceOfN(rapid.Byte(), layouts[sp].key, layouts[sp].key).Draw(t, "key")
						k[0] = rapid.SampledFrom([]byte{0, 1, 0x80, 0xff}).Draw(t, "prefix")
						return k
					})
				}
				steps := rapid.IntRange(1, 60).Draw(t, "steps")
				for range steps {
					switch rapid.IntRange(0, 9).Draw(t, "op") {
					case 0:
						if err := flushHeapOrFiles(ix); err != nil {
							t.Fatal(err)
						}
					default:
						sp := space(rapid.IntRange(0, int(numSpaces)-1).Draw(t, "space"))
						key := keyGen(sp).Draw(t, "k")
						if _, ok := m[sp][string(key)]; ok {
							continue // Save adds only what it did not find
						}
						val := rapid.SliceOfN(rapid.Byte(), layouts[sp].val, layouts[sp].val).Draw(t, "val")
						addEntry(ix, sp, key, val)
						m[sp][string(key)] = val
					}
				}
				for sp := range numSpaces {
					for k, want := range m[sp] {
						got, ok := lookup(ix, sp, []byte(k))
						if !ok || (layouts[sp].val > 0 && !bytes.Equal(got, want)) {
							t.Fatalf("space %d key %x: got %x %v, want %x", sp, k, got, ok, want)
						}
					}
					for range 20 {
						k := keyGen(sp).Draw(t, "absent")
						if _, in := m[sp][string(k)]; in {
							continue
						}
						if _, ok := lookup(ix, sp, k); ok {
							t.Fatalf("space %d: %x found but never added", sp, k)
						}
					}
				}
			})
		})
	}
}

// flushHeapOrFiles writes the memtable into a run and merges, like flush but
// without a database (no manifest).
func flushHeapOrFiles(ix *indexes) error {
	r, err := writeIdxRun(ix.dir, ix.seq+1, ix.memtableSource())
	if err != nil {
		return err
	}
	ix.seq++
	ix.runs = append(ix.runs, r)
	ix.resetMemtable()
	old, err := ix.compact()
	for _, r := range old {
		r.close()
	}
	return err
}

// A run whose header was damaged, or that was cut short, is refused.
func TestRunFileDamageIsDetected(t *testing.T) {
	dir := t.TempDir()
	ix := &indexes{dimTypes: map[string]uint8{}, dir: dir}
	ix.resetMemtable()
	for i := range 1000 {
		var k [32]byte
		binary.BigEndian.PutUint64(k[:], uint64(i)*0x9E3779B97F4A7C15)
		ix.addRaw(k)
	}
	r, err := writeIdxRun(dir, 1, ix.memtableSource())
	if err != nil {
		t.Fatal(err)
	}
	r.close()
	name := filepath.Join(dir, idxRunFile(1))
	good, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		data []byte
	}{
		{"a header byte flipped", func() []byte { b := bytes.Clone(good); b[20] ^= 1; return b }()},
		{"cut short", good[:len(good)-100]},
		{"empty", nil},
	} {
		if err := os.WriteFile(name, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if r, err := openIdxRun(dir, 1); err == nil {
			r.close()
			t.Errorf("%s: opened", tc.what)
		}
	}
	if _, err := openIdxRun(dir, 2); err == nil {
		t.Error("a missing run opened")
	}
	if err := os.WriteFile(name, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseIdxRun(good, 7); err == nil {
		t.Error("run 1 accepted as run 7")
	}
}
