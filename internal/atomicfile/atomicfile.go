// Package atomicfile writes a file so that its final name only ever shows
// complete contents: the bytes go to a temporary file in the same
// directory, which is synced and then renamed over the final name, and the
// directory is synced so that the rename survives a crash. A failed write
// leaves the final name as it was (absent, or the previous complete file)
// and no temporary file behind.
//
// Invariant: no caller ever observes a partial file under the final name,
// whatever point the process is stopped at.
package atomicfile

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write produces, atomically.
// perm applies to a new file (subject to the umask).
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	_, err := writeAtomic(path, perm, write, nil)
	return err
}

// WriteIfChanged is Write, except that when path already holds exactly the
// bytes write produced, it is left as it is (not even its time changes)
// and unchanged is true. The bytes are streamed to the temporary file and
// hashed on the way, never held in memory; size and sum describe them.
func WriteIfChanged(path string, perm fs.FileMode, write func(io.Writer) error) (size int64, sum [32]byte, unchanged bool, err error) {
	h := sha256.New()
	same := func(n int64) bool {
		size, sum = n, [32]byte(h.Sum(nil))
		return Holds(path, size, sum)
	}
	unchanged, err = writeAtomic(path, perm, func(w io.Writer) error { return write(io.MultiWriter(w, h)) }, same)
	return size, sum, unchanged, err
}

// Holds reports whether path is a regular file of size bytes with SHA-256 sum.
func Holds(path string, size int64, sum [32]byte) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	n, got, err := Sum(path)
	return err == nil && n == size && got == sum
}

// Sum reads the regular file path and returns its size and SHA-256.
func Sum(path string) (size int64, sum [32]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, sum, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, sum, err
	}
	if !fi.Mode().IsRegular() {
		return 0, sum, fmt.Errorf("atomicfile: %s is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, sum, err
	}
	return n, [32]byte(h.Sum(nil)), nil
}

// writeAtomic writes to a temporary file and renames it over path, unless
// keep (given the number of bytes written) says path already holds them:
// then the temporary file is removed and kept is true.
func writeAtomic(path string, perm fs.FileMode, write func(io.Writer) error, keep func(n int64) bool) (kept bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("atomicfile: %w", err)
	}
	defer func() {
		if err != nil || kept {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	cw := &countingWriter{w: tmp}
	w := bufio.NewWriterSize(cw, 1<<16)
	if err := write(w); err != nil {
		return false, fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return false, fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if keep != nil && keep(cw.n) {
		return true, nil
	}
	if err := tmp.Chmod(perm); err != nil {
		return false, fmt.Errorf("atomicfile: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("atomicfile: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("atomicfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("atomicfile: %w", err)
	}
	return false, syncDir(dir)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteFile is Write for bytes already in memory.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	err = d.Sync()
	// Some file systems cannot sync a directory; the rename is done.
	if errors.Is(err, os.ErrInvalid) {
		err = nil
	}
	return errors.Join(err, d.Close())
}

// Move puts a complete file another writer made (src, on the same file
// system as dst: a temporary directory beside the output) under its final
// name: src is synced, renamed over dst, and dst's directory synced, so
// dst only ever shows the complete file.
func Move(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", src, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}
