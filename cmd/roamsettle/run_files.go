package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"

	"github.com/roamsettle/roamsettle/internal/atomicfile"
	"github.com/roamsettle/roamsettle/settle"
)

// outFiles is settle.Files on the output folder: each file is rendered in
// memory, and written atomically (a temporary file synced and renamed) only
// when the folder does not already hold the same bytes, so that a run
// repeated on the same inputs changes no file, not even its time.
type outFiles struct{ root string }

var _ settle.Files = outFiles{}

func (f outFiles) Write(rel string, render func(io.Writer) error) (settle.FileOutput, error) {
	path := filepath.Join(f.root, filepath.FromSlash(rel))
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return settle.FileOutput{}, err
	}
	out := settle.FileOutput{Path: path, Bytes: int64(buf.Len()), SHA256: sha256.Sum256(buf.Bytes())}
	if f.Intact(out) {
		out.Unchanged = true
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return out, err
	}
	return out, atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// Intact reports whether the file holds exactly the recorded bytes.
func (f outFiles) Intact(o settle.FileOutput) bool {
	fi, err := os.Stat(o.Path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != o.Bytes {
		return false
	}
	file, err := os.Open(o.Path)
	if err != nil {
		return false
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return false
	}
	return [32]byte(h.Sum(nil)) == o.SHA256
}
