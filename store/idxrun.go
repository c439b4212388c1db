package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"syscall"
)

// A run is an immutable, sorted part of the identity index (index.go): per
// space, fixed-size records (key, value) sorted by key, a bucket directory
// over the first bits of the key and a blocked Bloom filter. Keys are or
// begin with SHA-256 output, so they are uniformly distributed: the
// directory puts a lookup within a bucket of about 64 records, and a key
// that is not in the run is, 98.5% of the time, turned away by its filter
// block without touching the records. A lookup therefore reads about three
// pages whatever the run's size, and a file run is mmapped: opening it
// reads nothing but its header.
//
// File layout (little-endian): a header of idxHeaderSize bytes, then per
// space its records, its directory (uint32 start index per bucket, plus the
// count) and its filter (64-byte blocks). The header carries its own CRC.
type idxRun struct {
	seq    uint64
	data   []byte // mmapped (file runs) or on the heap (in-memory stores)
	mapped bool
	file   string
	spaces [numSpaces]idxSpace
}

type idxSpace struct {
	count   int
	layout  layout
	records []byte
	dirBits uint
	dir     []byte
	blocks  uint64
	filter  []byte
}

// space is one kind of entry of the index.
type space uint8

const (
	spaceCDR      space = iota // identityKey -> body SHA-256, cdr_key
	spaceRaw                   // raw payload SHA-256
	spaceVersion               // versionKey (tariffs, locations, IRRs) -> body SHA-256, key
	spaceBody                  // tariff body SHA-256 -> tariff_key
	spaceConflict              // conflictKey of a recorded conflict
	numSpaces
)

type layout struct{ key, val int }

func (l layout) rec() int { return l.key + l.val }

var layouts = [numSpaces]layout{
	spaceCDR:      {16, 40},
	spaceRaw:      {32, 0},
	spaceVersion:  {24, 40},
	spaceBody:     {32, 8},
	spaceConflict: {32, 0},
}

const (
	idxRunMagic     = "RSIDX\x00\x00\x01"
	idxHeaderSize   = 8 + 8 + int(numSpaces)*spaceHeaderSize + 4
	spaceHeaderSize = 8 * 6
	bloomBlock      = 64 // bytes
	bloomBitsPer    = 10 // filter bits per entry: ~1.5% false positives with 7 probes in 512-bit blocks
	bucketTarget    = 64 // records per directory bucket
)

// get returns the value stored under key in this run.
func (r *idxRun) get(sp space, key []byte) ([]byte, bool) {
	return r.spaces[sp].get(key)
}

func (s *idxSpace) get(key []byte) ([]byte, bool) {
	if s.count == 0 || !s.mayContain(key) {
		return nil, false
	}
	lo, hi := 0, s.count
	if s.dirBits > 0 {
		b := binary.BigEndian.Uint64(key) >> (64 - s.dirBits)
		lo = int(binary.LittleEndian.Uint32(s.dir[4*b:]))
		hi = int(binary.LittleEndian.Uint32(s.dir[4*b+4:]))
	}
	kl, rl := s.layout.key, s.layout.rec()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		rec := s.records[m*rl : (m+1)*rl]
		switch c := bytes.Compare(rec[:kl], key); {
		case c == 0:
			return rec[kl:], true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil, false
}

// bloomHash mixes every 8-byte word of a key (a version key differs from its
// neighbours only in its last word).
func bloomHash(key []byte) (block, probes uint64) {
	block = binary.LittleEndian.Uint64(key[0:8])
	probes = binary.LittleEndian.Uint64(key[8:16])
	for i := 16; i+8 <= len(key); i += 8 {
		w := binary.LittleEndian.Uint64(key[i:])
		block = (block ^ w) * 0x9E3779B97F4A7C15
		probes = (probes ^ bits.RotateLeft64(w, 29)) * 0xC2B2AE3D27D4EB4F
	}
	return block ^ block>>31, probes
}

func (s *idxSpace) mayContain(key []byte) bool {
	h, p := bloomHash(key)
	hi, _ := bits.Mul64(h, s.blocks)
	blk := s.filter[hi*bloomBlock : (hi+1)*bloomBlock]
	for i := range 7 {
		bit := (p >> (9 * i)) & 511
		if blk[bit>>3]&(1<<(bit&7)) == 0 {
			return false
		}
	}
	return true
}

func dirBitsFor(n int) uint {
	return uint(min(bits.Len(uint(n/bucketTarget)), 24))
}

func blocksFor(n int) uint64 {
	return uint64(max(1, (n*bloomBitsPer+bloomBlock*8-1)/(bloomBlock*8)))
}

// idxRunWriter writes a run: spaces in order, each one's records in key order.
type idxRunWriter struct {
	w   *bufio.Writer
	off int64
	hdr [numSpaces]spaceHeader
	err error

	// the space being written
	sp      space
	count   int
	last    []byte
	buckets []uint32
	dirBits uint
	filter  []byte
	blocks  uint64
	started bool
}

type spaceHeader struct {
	count, records, dirBits, dir, blocks, filter uint64
}

func newIdxRunWriter(w io.Writer) *idxRunWriter {
	rw := &idxRunWriter{w: bufio.NewWriterSize(w, 1<<20)}
	rw.write(make([]byte, idxHeaderSize)) // the header is written last, over this
	return rw
}

func (rw *idxRunWriter) write(b []byte) {
	if rw.err != nil {
		return
	}
	n, err := rw.w.Write(b)
	rw.off += int64(n)
	rw.err = err
}

// begin starts space sp, which will hold at most bound records.
func (rw *idxRunWriter) begin(sp space, bound int) {
	rw.sp, rw.count, rw.last, rw.started = sp, 0, rw.last[:0], true
	rw.dirBits = dirBitsFor(bound)
	rw.buckets = make([]uint32, 1<<rw.dirBits)
	rw.blocks = blocksFor(bound)
	rw.filter = make([]byte, rw.blocks*bloomBlock)
	rw.hdr[sp] = spaceHeader{records: uint64(rw.off), dirBits: uint64(rw.dirBits), blocks: rw.blocks}
}

// add appends a record; keys must come in strictly increasing order.
func (rw *idxRunWriter) add(rec []byte) {
	l := layouts[rw.sp]
	key := rec[:l.key]
	if rw.count > 0 && bytes.Compare(key, rw.last) <= 0 && rw.err == nil {
		rw.err = fmt.Errorf("identity index: %d-byte keys out of order", l.key)
	}
	rw.last = append(rw.last[:0], key...)
	rw.count++
	if rw.dirBits > 0 {
		rw.buckets[binary.BigEndian.Uint64(key)>>(64-rw.dirBits)]++
	}
	h, p := bloomHash(key)
	hi, _ := bits.Mul64(h, rw.blocks)
	blk := rw.filter[hi*bloomBlock : (hi+1)*bloomBlock]
	for i := range 7 {
		bit := (p >> (9 * i)) & 511
		blk[bit>>3] |= 1 << (bit & 7)
	}
	rw.write(rec)
}

// end writes the space's directory and filter.
func (rw *idxRunWriter) end() {
	h := &rw.hdr[rw.sp]
	h.count = uint64(rw.count)
	h.dir = uint64(rw.off)
	dir := make([]byte, 4*(len(rw.buckets)+1))
	start := uint32(0)
	for i, n := range rw.buckets {
		binary.LittleEndian.PutUint32(dir[4*i:], start)
		start += n
	}
	binary.LittleEndian.PutUint32(dir[4*len(rw.buckets):], start)
	if pad := len(dir) % 8; pad != 0 {
		dir = append(dir, make([]byte, 8-pad)...)
	}
	rw.write(dir)
	h.filter = uint64(rw.off)
	rw.write(rw.filter)
	rw.started = false
}

// finish flushes the body and returns the header to write at offset 0.
func (rw *idxRunWriter) finish(seq uint64) ([]byte, error) {
	if rw.err == nil {
		rw.err = rw.w.Flush()
	}
	if rw.err != nil {
		return nil, rw.err
	}
	b := make([]byte, 0, idxHeaderSize)
	b = append(b, idxRunMagic...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	for _, h := range rw.hdr {
		for _, v := range []uint64{h.count, h.records, h.dirBits, h.dir, h.blocks, h.filter} {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return b, nil
}

// parseIdxRun checks a run's header and slices its sections.
func parseIdxRun(data []byte, seq uint64) (*idxRun, error) {
	if len(data) < idxHeaderSize || string(data[:8]) != idxRunMagic {
		return nil, errors.New("not an identity index run")
	}
	crc := binary.LittleEndian.Uint32(data[idxHeaderSize-4:])
	if crc32.Checksum(data[:idxHeaderSize-4], crc32.MakeTable(crc32.Castagnoli)) != crc {
		return nil, errors.New("run header checksum mismatch")
	}
	if got := binary.LittleEndian.Uint64(data[8:]); got != seq {
		return nil, fmt.Errorf("run %d found where run %d was expected", got, seq)
	}
	r := &idxRun{seq: seq, data: data}
	p := data[16:]
	size := uint64(len(data))
	for sp := range numSpaces {
		var h spaceHeader
		for i, v := range []*uint64{&h.count, &h.records, &h.dirBits, &h.dir, &h.blocks, &h.filter} {
			*v = binary.LittleEndian.Uint64(p[8*i:])
		}
		p = p[spaceHeaderSize:]
		l := layouts[sp]
		recEnd := h.records + h.count*uint64(l.rec())
		dirEnd := h.dir + 4*((uint64(1)<<h.dirBits)+1)
		filterEnd := h.filter + h.blocks*bloomBlock
		if h.dirBits > 24 || h.blocks == 0 || recEnd > h.dir || dirEnd > h.filter || filterEnd > size ||
			h.count > 1<<32-1 {
			return nil, fmt.Errorf("run %d: space %d does not fit the file", seq, sp)
		}
		s := idxSpace{count: int(h.count), layout: l, records: data[h.records:recEnd], dirBits: uint(h.dirBits),
			dir: data[h.dir:dirEnd], blocks: h.blocks, filter: data[h.filter:filterEnd]}
		if s.dirBits > 0 && binary.LittleEndian.Uint32(s.dir[len(s.dir)-4:]) != uint32(s.count) {
			return nil, fmt.Errorf("run %d: space %d: directory does not end at the record count", seq, sp)
		}
		r.spaces[sp] = s
	}
	return r, nil
}

// records is one space's entries, to be sorted and written.
type records struct {
	l   layout
	buf []byte
}

func (rs *records) add(key, val []byte) {
	rs.buf = append(rs.buf, key...)
	rs.buf = append(rs.buf, val...)
}

func (rs *records) len() int { return len(rs.buf) / rs.l.rec() }

// sort orders the records by key: a counting sort on the first bits (keys
// are uniform: a few records per bucket), then an insertion sort within
// each bucket.
func (rs *records) sort() {
	rl, kl, n := rs.l.rec(), rs.l.key, rs.len()
	if n < 2 {
		return
	}
	shift := 64 - uint(min(max(bits.Len(uint(n))-2, 8), 20))
	bucket := func(rec []byte) uint64 { return binary.BigEndian.Uint64(rec) >> shift }
	counts := make([]int, 1<<(64-shift)+1)
	for i := range n {
		counts[bucket(rs.buf[i*rl:])+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	out := make([]byte, len(rs.buf))
	next := append([]int(nil), counts...)
	for i := range n {
		rec := rs.buf[i*rl : (i+1)*rl]
		b := bucket(rec)
		copy(out[next[b]*rl:], rec)
		next[b]++
	}
	tmp := make([]byte, rl)
	for b := 0; b+1 < len(counts); b++ {
		lo, hi := counts[b], counts[b+1]
		for i := lo + 1; i < hi; i++ {
			j := i
			for j > lo && bytes.Compare(out[(j-1)*rl:(j-1)*rl+kl], out[i*rl:i*rl+kl]) > 0 {
				j--
			}
			if j < i {
				copy(tmp, out[i*rl:(i+1)*rl])
				copy(out[(j+1)*rl:(i+1)*rl], out[j*rl:i*rl])
				copy(out[j*rl:], tmp)
			}
		}
	}
	rs.buf = out
}

// idxRunSource streams a run body into a writer: the memtable's sorted records
// or a merge of older runs.
type idxRunSource func(rw *idxRunWriter)

// writeIdxRun writes a run to dir (a file, fsynced, then renamed into place),
// or to memory when dir is "", and opens it.
func writeIdxRun(dir string, seq uint64, src idxRunSource) (*idxRun, error) {
	if dir == "" {
		var buf bytes.Buffer
		rw := newIdxRunWriter(&buf)
		src(rw)
		hdr, err := rw.finish(seq)
		if err != nil {
			return nil, err
		}
		data := buf.Bytes()
		copy(data, hdr)
		return parseIdxRun(data, seq)
	}
	name := idxRunFile(seq)
	tmp := dir + "/" + name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	rw := newIdxRunWriter(f)
	src(rw)
	hdr, err := rw.finish(seq)
	if err == nil {
		_, err = f.WriteAt(hdr, 0)
	}
	if err == nil && syncIndex {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dir+"/"+name)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("identity index run %s: %w", name, err)
	}
	return openIdxRun(dir, seq)
}

func idxRunFile(seq uint64) string { return fmt.Sprintf("%010d.run", seq) }

// openIdxRun maps a run file read-only.
func openIdxRun(dir string, seq uint64) (*idxRun, error) {
	name := dir + "/" + idxRunFile(seq)
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < int64(idxHeaderSize) || st.Size() > 1<<40 {
		return nil, fmt.Errorf("%s: %d bytes is not a run", name, st.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", name, err)
	}
	r, err := parseIdxRun(data, seq)
	if err != nil {
		syscall.Munmap(data)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.mapped, r.file = true, name
	return r, nil
}

func (r *idxRun) close() error {
	if !r.mapped {
		return nil
	}
	r.mapped = false
	return syscall.Munmap(r.data)
}

// errMergeStopped ends a background merge that closeIndex stopped.
var errMergeStopped = errors.New("identity index: merge stopped")

// mergeSource merges runs (oldest first) space by space. Keys are unique
// across runs (an entry is added only when no run has it); should one
// repeat, the newest run's record is kept. Closing stop abandons the merge.
func mergeSource(runs []*idxRun, stop <-chan struct{}) idxRunSource {
	return func(rw *idxRunWriter) {
		for sp := range numSpaces {
			bound, rl := 0, layouts[sp].rec()
			kl := layouts[sp].key
			pos := make([]int, len(runs))
			for _, r := range runs {
				bound += r.spaces[sp].count
			}
			rw.begin(sp, bound)
			for {
				best := -1
				var bestKey []byte
				for i, r := range runs {
					s := &r.spaces[sp]
					if pos[i] >= s.count {
						continue
					}
					k := s.records[pos[i]*rl : pos[i]*rl+kl]
					if best < 0 || bytes.Compare(k, bestKey) <= 0 {
						best, bestKey = i, k // <=: the newer of equal keys wins
					}
				}
				if best < 0 {
					break
				}
				for i, r := range runs {
					s := &r.spaces[sp]
					if i != best && pos[i] < s.count && bytes.Equal(s.records[pos[i]*rl:pos[i]*rl+kl], bestKey) {
						pos[i]++
					}
				}
				s := &runs[best].spaces[sp]
				rw.add(s.records[pos[best]*rl : (pos[best]+1)*rl])
				pos[best]++
				if stop != nil && rw.count%(1<<16) == 0 {
					select {
					case <-stop:
						if rw.err == nil {
							rw.err = errMergeStopped
						}
						return
					default:
					}
				}
			}
			rw.end()
		}
	}
}
