package atomicfile

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteReplacesWholeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "INV-000001.pdf")
	if err := WriteFile(path, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("second, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "second, longer" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	assertOnly(t, dir, "INV-000001.pdf")
}

// TestFailedWriteLeavesFinalNameAlone: a writer that fails half way leaves
// the previous file intact and no temporary file; a new name never appears.
func TestFailedWriteLeavesFinalNameAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "INV-000001.pdf")
	if err := WriteFile(path, []byte("complete"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	half := func(w io.Writer) error {
		w.Write([]byte("half a fi"))
		return boom
	}
	if err := Write(path, 0o644, half); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "complete" {
		t.Fatalf("final file changed: %q", b)
	}
	if err := Write(filepath.Join(dir, "new.pdf"), 0o644, half); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	assertOnly(t, dir, "INV-000001.pdf")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(names) {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Fatalf("directory holds %v, want %v", got, names)
	}
	for i, e := range entries {
		if e.Name() != names[i] {
			t.Fatalf("directory holds %s, want %s", e.Name(), names[i])
		}
	}
}

// TestMove: the file another writer made replaces the final name whole,
// and leaves its temporary place.
func TestMove(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "out", "priced_cdrs.parquet")
	os.MkdirAll(filepath.Dir(final), 0o755)
	if err := WriteFile(final, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tmp", "x.parquet")
	os.MkdirAll(filepath.Dir(tmp), 0o755)
	os.WriteFile(tmp, []byte("new, complete"), 0o644)
	if err := Move(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(final); string(b) != "new, complete" {
		t.Fatalf("content %q", b)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the temporary file is still there: %v", err)
	}
	if err := Move(tmp, final); err == nil {
		t.Fatal("moving a missing file passed")
	}
	if b, _ := os.ReadFile(final); string(b) != "new, complete" {
		t.Fatalf("a failed move changed the file: %q", b)
	}
}

// WriteIfChanged writes a new file, leaves a file holding the same bytes
// untouched (not even its time), and replaces one holding other bytes;
// size and hash are those of the bytes written, and no temporary file stays.
func TestWriteIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reconcile.json")
	text := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	n, sum, unchanged, err := WriteIfChanged(path, 0o644, text("first"))
	if err != nil || unchanged || n != 5 || sum != sha256.Sum256([]byte("first")) {
		t.Fatalf("new file: %d bytes, unchanged %v, err %v", n, unchanged, err)
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if _, _, unchanged, err := WriteIfChanged(path, 0o644, text("first")); err != nil || !unchanged {
		t.Fatalf("same bytes: unchanged %v, err %v", unchanged, err)
	}
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(old) {
		t.Errorf("same bytes: the file was touched (%v)", fi.ModTime())
	}
	if _, _, unchanged, err := WriteIfChanged(path, 0o644, text("fir5t")); err != nil || unchanged {
		t.Fatalf("other bytes of the same size: unchanged %v, err %v", unchanged, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "fir5t" {
		t.Fatalf("content %q", b)
	}
	assertOnly(t, dir, "reconcile.json")
}
