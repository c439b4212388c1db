package main

import (
	"context"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// cancelGrace is how long a cancelled client waits for serve to stop the
// command and send its last output and exit code.
const cancelGrace = time.Minute

// forward sends req over conn and copies the command's output to stdout and
// stderr until its exit code arrives. When ctx ends (Ctrl-C) it asks serve
// to cancel the command and still waits, up to cancelGrace, for the
// command to stop and say what it did.
func forward(ctx context.Context, conn *net.UnixConn, req adminRequest, stdout, stderr io.Writer) (int, error) {
	b, err := encodeRequest(req)
	if err != nil {
		return 0, err
	}
	if len(b) > maxFrame {
		return 0, fmt.Errorf("the command line and config take %d bytes, more than the %d the admin socket takes", len(b), maxFrame)
	}
	if err := writeFrame(conn, frameRequest, b); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			writeFrame(conn, frameCancel, nil)
			conn.SetReadDeadline(time.Now().Add(cancelGrace))
		case <-done:
		}
	}()
	for {
		typ, p, err := readFrame(conn)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, errors.New("serve closed the connection before the command ended (it may have stopped)")
			}
			return 0, err
		}
		switch typ {
		case frameStdout:
			stdout.Write(p)
		case frameStderr:
			stderr.Write(p)
		case frameExit:
			if len(p) != 4 {
				return 0, fmt.Errorf("malformed exit frame")
			}
			return int(binenc.BigEndian.Uint32(p)), nil
		case frameRefused:
			return 0, errors.New(string(p))
		default:
			return 0, fmt.Errorf("unexpected frame %q", typ)
		}
	}
}
