package main

import (
	"bytes"
	binenc "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The admin protocol: frames of one type byte, a big-endian uint32 length
// and the payload, over a Unix stream socket.
//
//	client -> serve  'R' adminRequest (JSON), once, first
//	                 'C' cancel: stop the command (Ctrl-C); closing the
//	                     connection does the same
//	serve -> client  'O' stdout bytes, 'E' stderr bytes, as the command
//	                     writes them
//	                 'X' the exit code (uint32), last
//	                 'F' refused (a text saying why), instead of running
const adminProto = 1

const (
	frameRequest = 'R'
	frameCancel  = 'C'
	frameStdout  = 'O'
	frameStderr  = 'E'
	frameExit    = 'X'
	frameRefused = 'F'
)

// maxFrame bounds a frame's payload: output is cut into pieces this size,
// and a request larger than it is refused.
const maxFrame = 1 << 20

// adminRequest is a command handed to serve.
type adminRequest struct {
	Proto int
	// Args is the command line after "roamsettle", with the paths made
	// absolute against Dir.
	Args []string
	// Config is the configuration as the client resolved it (its config
	// file, --db, paths absolute): the command runs with it.
	Config Config
	// Dir is the client's working directory.
	Dir string
	// LogLevel is the client's ROAMSETTLE_LOG.
	LogLevel string
}

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("admin: frame of %d bytes", len(payload))
	}
	var h [5]byte
	h[0] = typ
	binenc.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

var errFrameTooLarge = errors.New("admin: frame too large")

func readFrame(r io.Reader) (typ byte, payload []byte, err error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binenc.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, errFrameTooLarge
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return h[0], payload, nil
}

// frameWriter writes frames from several goroutines (a command's stdout,
// its stderr and its log lines); after the first write error it drops the
// output (the client went away; the command is being cancelled).
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (f *frameWriter) frame(typ byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.err = writeFrame(f.w, typ, p)
	return f.err
}

// stream is an io.Writer that sends what it is given as frames of typ.
func (f *frameWriter) stream(typ byte) io.Writer { return frameStream{f, typ} }

type frameStream struct {
	f   *frameWriter
	typ byte
}

func (s frameStream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), maxFrame)
		if err := s.f.frame(s.typ, p[:k]); err != nil {
			// The command must not stop over its output: the client is gone
			// and its context is being cancelled.
			return n + len(p), nil
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func (f *frameWriter) exit(code int) error {
	var b [4]byte
	binenc.BigEndian.PutUint32(b[:], uint32(code))
	return f.frame(frameExit, b[:])
}

func encodeRequest(req adminRequest) ([]byte, error) { return json.Marshal(req) }

// decodeRequest is strict: a field this build does not know means the
// client is another build of roamsettle, whose config or flags may differ.
func decodeRequest(b []byte) (adminRequest, error) {
	var req adminRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	return req, err
}
