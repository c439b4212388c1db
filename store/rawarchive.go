package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The raw archive keeps every distinct payload's bytes outside DuckDB, in
// append-only segment files next to the database (<db>.raw/NNNNNNNN.seg).
// raw_payloads holds each payload's SHA-256 and where its bytes are.
//
// Why not a BLOB column: loading ~1 KB blobs through DuckDB's WAL and
// checkpoints cost about as much as everything else Save writes (measured:
// 14 of 52 µs per CDR), and the archive is what the database is rebuilt
// from after a disaster, so it should not live inside the file it rebuilds.
//
// Each record is self-describing, so a segment can be read without the
// database: "RSP1", uint32 little-endian length, the 32-byte SHA-256, then
// the bytes. Save appends a batch's new payloads and fsyncs them before the
// database transaction that refers to them commits; if that transaction
// fails, the segment is truncated back. Bytes orphaned by a crash between
// the two are harmless: nothing refers to them and appends continue after.
type rawArchive interface {
	// append writes the payloads and returns where each one starts; the
	// records are durable when it returns.
	append(payloads [][]byte, sums [][32]byte) (segment int, offsets []int64, err error)
	// truncate undoes the last append.
	truncate(segment int, offset int64) error
	read(segment int, offset, size int64) ([]byte, error)
	close() error
}

const (
	rawMagic      = "RSP1"
	rawHeaderSize = 4 + 4 + 32
	// maxSegmentSize starts a new segment beyond 1 GiB: files stay easy to
	// copy and archive.
	maxSegmentSize = 1 << 30
)

// fileArchive is the archive of a file database.
type fileArchive struct {
	dir string

	mu      sync.Mutex
	current int // segment being appended to
	size    int64
	w       *os.File
	readers map[int]*os.File
}

func openFileArchive(dir string) (*fileArchive, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []int
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".seg"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				segs = append(segs, v)
			}
		}
	}
	sort.Ints(segs)
	a := &fileArchive{dir: dir, current: 1, readers: map[int]*os.File{}}
	if len(segs) > 0 {
		a.current = segs[len(segs)-1]
	}
	if err := a.openWriter(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *fileArchive) segPath(seg int) string {
	return filepath.Join(a.dir, fmt.Sprintf("%08d.seg", seg))
}

func (a *fileArchive) openWriter() error {
	f, err := os.OpenFile(a.segPath(a.current), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return err
	}
	a.w, a.size = f, size
	a.readers[a.current] = f
	return nil
}

func (a *fileArchive) append(payloads [][]byte, sums [][32]byte) (int, []int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	total := 0
	for _, p := range payloads {
		total += rawHeaderSize + len(p)
	}
	if a.size > 0 && a.size+int64(total) > maxSegmentSize {
		if err := a.w.Sync(); err != nil {
			return 0, nil, err
		}
		a.current++
		if err := a.openWriter(); err != nil {
			return 0, nil, err
		}
	}
	buf := make([]byte, 0, total)
	offsets := make([]int64, len(payloads))
	for i, p := range payloads {
		offsets[i] = a.size + int64(len(buf)) + rawHeaderSize
		buf = append(buf, rawMagic...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(p)))
		buf = append(buf, sums[i][:]...)
		buf = append(buf, p...)
	}
	if _, err := a.w.WriteAt(buf, a.size); err != nil {
		return 0, nil, err
	}
	if err := a.w.Sync(); err != nil {
		return 0, nil, err
	}
	a.size += int64(len(buf))
	return a.current, offsets, nil
}

func (a *fileArchive) truncate(segment int, offset int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if segment != a.current {
		return fmt.Errorf("truncate segment %d while appending to %d", segment, a.current)
	}
	start := offset - rawHeaderSize
	if err := a.w.Truncate(start); err != nil {
		return err
	}
	a.size = start
	return a.w.Sync()
}

func (a *fileArchive) read(segment int, offset, size int64) ([]byte, error) {
	a.mu.Lock()
	f, ok := a.readers[segment]
	if !ok {
		var err error
		f, err = os.Open(a.segPath(segment))
		if err != nil {
			a.mu.Unlock()
			return nil, err
		}
		a.readers[segment] = f
	}
	a.mu.Unlock()
	// The header is read too: a record that does not carry its own hash
	// back is a corrupt archive, not a payload.
	buf := make([]byte, rawHeaderSize+size)
	if _, err := f.ReadAt(buf, offset-rawHeaderSize); err != nil {
		return nil, fmt.Errorf("raw segment %d at %d: %w", segment, offset, err)
	}
	body := buf[rawHeaderSize:]
	if string(buf[:4]) != rawMagic || int64(binary.LittleEndian.Uint32(buf[4:8])) != size {
		return nil, fmt.Errorf("raw segment %d at %d: bad record header", segment, offset)
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], buf[8:40]) {
		return nil, fmt.Errorf("raw segment %d at %d: bytes do not match their SHA-256", segment, offset)
	}
	return body, nil
}

func (a *fileArchive) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, f := range a.readers {
		errs = append(errs, f.Close())
	}
	a.readers = nil
	return errors.Join(errs...)
}

// memArchive is the archive of an in-memory database: it lives as long.
type memArchive struct {
	mu     sync.Mutex
	chunks [][]byte
}

func (a *memArchive) append(payloads [][]byte, _ [][32]byte) (int, []int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	offsets := make([]int64, len(payloads))
	for i, p := range payloads {
		offsets[i] = int64(len(a.chunks))
		a.chunks = append(a.chunks, bytes.Clone(p))
	}
	return 1, offsets, nil
}

func (a *memArchive) truncate(_ int, offset int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.chunks = a.chunks[:offset]
	return nil
}

func (a *memArchive) read(_ int, offset, size int64) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if offset < 0 || offset >= int64(len(a.chunks)) || int64(len(a.chunks[offset])) != size {
		return nil, fmt.Errorf("raw payload %d not in the in-memory archive", offset)
	}
	return a.chunks[offset], nil
}

func (a *memArchive) close() error { return nil }
