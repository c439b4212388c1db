package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

func segmentSize(t *testing.T, dbPath string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dbPath+".raw", "00000001.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A failed batch takes its bytes out of the archive again, and what was
// committed is read back (and checked against its hash) after a reopen.
func TestRawArchiveFollowsTheTransaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roam.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	kept := recvCDR(sampleCDR("KEEP"), "k", 0)
	save(t, s, kept)
	size := segmentSize(t, path)
	testHookBeforeCommit = func() error { return errors.New("power cut") }
	_, err = s.Save(ctx, []ocpi.Received{recvCDR(sampleCDR("LOST"), "l", 1)})
	testHookBeforeCommit = nil
	if err == nil {
		t.Fatal("Save succeeded through a failing commit")
	}
	if got := segmentSize(t, path); got != size {
		t.Fatalf("segment is %d bytes after a failed batch, was %d", got, size)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := s.CDR(ctx, "NL", "ABC", "KEEP")
	if err != nil || string(raw) != string(kept.Raw) {
		t.Fatalf("raw after reopen %q, %v", raw, err)
	}
	// Appends continue after what is there.
	later := recvCDR(sampleCDR("LATER"), "x", 2)
	save(t, s, later)
	if _, raw, err := s.CDR(ctx, "NL", "ABC", "LATER"); err != nil || string(raw) != string(later.Raw) {
		t.Fatalf("raw of a later CDR %q, %v", raw, err)
	}
	s.Close()

	// A flipped byte in the archive is found, not served.
	seg := filepath.Join(path+".raw", "00000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2] ^= 0x20
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.CDR(ctx, "NL", "ABC", "LATER"); err == nil {
		t.Fatal("a corrupted raw payload was served")
	}
}
