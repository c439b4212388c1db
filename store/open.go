package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoDatabase: a command that only reads was pointed at a path where no
// database exists (DESIGN invariant 8: a read command never creates one).
var ErrNoDatabase = errors.New("no database at this path")

// ErrLocked: another process has the database open (DuckDB allows one
// read-write process per file).
var ErrLocked = errors.New("database is in use by another process")

// OpenExisting is Open for commands that only read or act on data already
// stored (reprice, rejects, status, price --db, partners list): it refuses a
// path where no database exists instead of creating an empty one there.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	if path != "" && path != ":memory:" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, errorf("open", path, fmt.Errorf("%w (check --db or the config's database; "+
				"ingest, pull, serve and partners add create one)", ErrNoDatabase))
		}
	}
	return Open(ctx, path)
}

// LockError says which process holds the database and what to do.
type LockError struct {
	Path    string
	PID     int    // 0 when DuckDB did not say
	Program string // the holder's executable as DuckDB reports it
	Command string // its command line, when this system shows it (/proc)
}

func (e *LockError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is in use by another process", e.Path)
	switch {
	case e.Command != "":
		fmt.Fprintf(&b, ": %q (pid %d)", e.Command, e.PID)
	case e.PID != 0:
		fmt.Fprintf(&b, ": %s (pid %d)", e.Program, e.PID)
	}
	b.WriteString(". DuckDB lets one process open a database at a time: wait for that command to finish")
	if strings.Contains(e.Command, " serve") {
		b.WriteString(", or stop `roamsettle serve` (Ctrl-C or kill -TERM")
		if e.PID != 0 {
			fmt.Fprintf(&b, " %d", e.PID)
		}
		b.WriteString("; it finishes its batch and closes the database) and start it again afterwards")
	} else {
		b.WriteString(", then run this one again")
	}
	return b.String()
}

func (e *LockError) Unwrap() error { return ErrLocked }

// lockHolder matches DuckDB's "Conflicting lock is held in PROGRAM (PID N)".
var lockHolder = regexp.MustCompile(`Conflicting lock is held in (.*?) \(PID (\d+)\)`)

// lockError turns DuckDB's lock message into a LockError, or returns nil
// when err is not about the file lock.
func lockError(path string, err error) error {
	if err == nil || !strings.Contains(err.Error(), "Could not set lock on file") {
		return nil
	}
	le := &LockError{Path: path}
	if m := lockHolder.FindStringSubmatch(err.Error()); m != nil {
		le.Program = m[1]
		le.PID, _ = strconv.Atoi(m[2])
		if cmdline, rerr := os.ReadFile("/proc/" + m[2] + "/cmdline"); rerr == nil {
			le.Command = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return le
}
