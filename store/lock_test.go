package store

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// holdLockEnv makes the test binary a process that opens a database and
// waits: the other process a lock message names.
const holdLockEnv = "ROAMSETTLE_TEST_HOLD_LOCK"

// crashAfterOpenEnv makes the test binary create a database and exit
// without closing it, as a crash or a full disk at Close would.
const crashAfterOpenEnv = "ROAMSETTLE_TEST_CRASH_AFTER_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashAfterOpenEnv); path != "" {
		if _, err := Open(context.Background(), path); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0) // no Close: what is not checkpointed stays in the WAL
	}
	if path := os.Getenv(holdLockEnv); path != "" {
		s, err := Open(context.Background(), path)
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("open\n")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdLock starts another process holding the database at path open and
// returns its pid; it exits when the test ends.
func holdLock(t *testing.T, path string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "open\n" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
	return cmd.Process.Pid
}

// Another process holding the database is named, with what to do (issue 12
// item 15), instead of DuckDB's raw lock message.
func TestLockHeldByAnotherProcessIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.duckdb")
	pid := holdLock(t, path)
	_, err := Open(context.Background(), path)
	var le *LockError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want a LockError", err)
	}
	msg := err.Error()
	for _, want := range []string{path + " is in use by another process", "(pid " + strconv.Itoa(pid) + ")",
		"-test.run=^$", "wait for that command to finish"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Conflicting lock") {
		t.Errorf("DuckDB's raw message: %s", msg)
	}
}

// A command that only reads never creates a database (issue 12 item 13).
func TestOpenExistingRefusesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.duckdb")
	if _, err := OpenExisting(context.Background(), path); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("err = %v, want ErrNoDatabase", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a database was created: %v", err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenExisting(context.Background(), path)
	if err != nil {
		t.Fatalf("existing database: %v", err)
	}
	s.Close()
}

// A database created and then left without Close (a crash, or a disk that
// filled up before the final checkpoint) opens again. DuckDB 1.5.6 fails to
// replay the migrations' ALTER TABLE ... ADD COLUMN from the WAL ("INTERNAL
// Error: Failure while replaying WAL file"), so Open checkpoints after
// migrating: the schema never lives only in the WAL.
func TestDatabaseLeftAfterMigrationsOpensAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crashed.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashAfterOpenEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("first process: %v %s", err, out)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}
