package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/internal/atomicfile"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

// outFiles is settle.Files on the output folder: each file is streamed to
// a temporary file beside its name and hashed on the way, then renamed over
// the name (synced first) unless the folder already held the same bytes, so
// that a run repeated on the same inputs changes no file, not even its
// time, and a partner's large report is never held whole in memory.
type outFiles struct{ root string }

var _ settle.Files = outFiles{}

func (f outFiles) Write(rel string, render func(io.Writer) error) (settle.FileOutput, error) {
	path := filepath.Join(f.root, filepath.FromSlash(rel))
	removeStaleTemps(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return settle.FileOutput{}, err
	}
	n, sum, unchanged, err := atomicfile.WriteIfChanged(path, 0o644, render)
	if err != nil {
		return settle.FileOutput{}, err
	}
	return settle.FileOutput{Path: path, Bytes: n, SHA256: sum, Unchanged: unchanged}, nil
}

// removeStaleTemps removes what a write of path killed before its rename
// left (atomicfile's ".NAME.tmp-*"): jobs run one at a time, so no other
// write of the same name is going on.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	stale, _ := filepath.Glob(filepath.Join(dir, "."+base+".tmp-*"))
	for _, f := range stale {
		os.Remove(f)
	}
}

// removeStaleReportDirs removes the report step's temporary folders
// (".tmp-report-*") a killed run left in the output folder.
func removeStaleReportDirs(outDir string) {
	stale, _ := filepath.Glob(filepath.Join(outDir, ".tmp-report-*"))
	for _, d := range stale {
		os.RemoveAll(d)
	}
}

// Existing gives the file rel as it is, when there is one: its size and
// hash (an issued document's renderings are written once).
func (f outFiles) Existing(rel string) (settle.FileOutput, bool) {
	path := filepath.Join(f.root, filepath.FromSlash(rel))
	n, sum, err := atomicfile.Sum(path)
	if err != nil {
		return settle.FileOutput{}, false
	}
	return settle.FileOutput{Path: path, Bytes: n, SHA256: sum, Unchanged: true}, true
}

// Intact reports whether the file holds exactly the recorded bytes.
func (f outFiles) Intact(o settle.FileOutput) bool {
	return atomicfile.Holds(o.Path, o.Bytes, o.SHA256)
}

// openWaiting opens the database for a run; while another process (not a
// serve, which takes the command over its admin socket) holds it, it
// waits up to wait, so that a run started during another finds it done.
func openWaiting(ctx context.Context, env *Env, dbf dbFlags, wait time.Duration) (*store.Store, Config, error) {
	deadline := time.Now().Add(wait)
	said := false
	for {
		db, cfg, err := dbf.openExisting(ctx)
		if err == nil || !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) {
			return db, cfg, err
		}
		if !said {
			fmt.Fprintf(env.Stderr, "roamsettle run: %s; waiting up to %s (--wait) for it to finish\n",
				strings.TrimPrefix(err.Error(), "store: "), wait.Round(time.Second))
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, cfg, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
