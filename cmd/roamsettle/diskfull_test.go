package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/roamsettle/roamsettle/store"
)

// Disk full during ingest (issue 12 item 14): on a 45 MiB filesystem the
// import of 15,000 CDRs (1.5 batches) commits the first batch, fails the
// second at the WAL write, and says so; once there is room again the
// database holds what the summary says (plus, at most, a batch it called
// unknown) and opens (it did not: see TestDatabaseLeftAfterMigrationsOpensAgain).
// Needs root to mount a tmpfs; skipped otherwise.
func TestIngestDiskFullSummaryMatchesStore(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=45m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	var in strings.Builder
	for i := range 15000 {
		in.WriteString(cdrLine(t, fmt.Sprintf("DF-%05d", i)) + "\n")
	}
	file := filepath.Join(dir, "cdrs.ndjson") // the input is on the big disk
	if err := os.WriteFile(file, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(mnt, "full.duckdb")
	out, errs, code := run(t, "ingest", "--db", db, "--quiet", file)
	t.Logf("exit %d\n%s%s", code, out, errs)
	if code != 0 && !strings.Contains(errs, "stopped: the database") && !strings.Contains(errs, "closing the database") {
		t.Errorf("the failure is not explained: %s", errs)
	}
	if code == 0 {
		t.Fatalf("the import did not run out of space; make the tmpfs smaller")
	}
	accepted := summaryCount(t, out, `accepted +(\d+)`)
	unknown := summaryCount(t, out, `unknown +(\d+)`)
	if out, err := exec.Command("mount", "-o", "remount,size=256m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	s, err := store.OpenExisting(context.Background(), db)
	if err != nil {
		t.Fatalf("reopen after freeing space: %v", err)
	}
	defer s.Close()
	c, err := s.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.CDRs < accepted || c.CDRs > accepted+unknown {
		t.Errorf("the summary says %d accepted (%d unknown), the database holds %d CDRs", accepted, unknown, c.CDRs)
	}
	// Every stored payload's raw bytes are readable.
	if _, err := s.Rejects(context.Background(), 1); err != nil {
		t.Errorf("rejects after disk full: %v", err)
	}
}

func summaryCount(t *testing.T, out, re string) int64 {
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}
