package settle

// writeRows is how many priced rows one write takes: the store's Arrow
// insert costs less per row in bigger batches (0.9 M rows/s at 65536, 1.16 M
// at 262144 in BenchmarkPricedWriterCDRs).
const writeRows = 1 << 18

type writeBuf struct {
	rows  PricedCDRs
	lines PricedLines
}

// startWriter starts the goroutine that writes filled buffers while the
// kernel prices the next batch.
func (r *runner) startWriter(w RunWriter) {
	r.w = w
	r.buf, r.full, r.free, r.werr = &writeBuf{}, make(chan *writeBuf), make(chan *writeBuf, 1), make(chan error, 1)
	r.free <- &writeBuf{}
	r.wrun = true
	go r.writer()
}

// stopWriter waits for the writer to write what it was given and returns
// its first error. It may be called again (it then returns nil).
func (r *runner) stopWriter() error {
	if !r.wrun {
		return nil
	}
	r.wrun = false
	close(r.full)
	return <-r.werr
}

// flush hands the filled buffer to the writer and takes the other one.
func (r *runner) flush() error {
	select {
	case err := <-r.werr:
		r.werr <- err
		return err
	default:
	}
	r.sum.Lines += int64(r.buf.lines.Len())
	r.full <- r.buf
	select {
	case r.buf = <-r.free:
		return nil
	case err := <-r.werr:
		r.werr <- err
		return err
	}
}

// writer appends the buffers it is given until full is closed. It reports
// exactly one value on werr: its first error as soon as it happens (then it
// only drains), or nil once full is closed.
func (r *runner) writer() {
	var err error
	for b := range r.full {
		if err != nil {
			continue
		}
		err = wrap("write priced rows", ErrWrite, r.opts.Run.ID(), r.w.WriteCDRs(r.ctx, &b.rows))
		if err == nil {
			err = wrap("write priced lines", ErrWrite, r.opts.Run.ID(), r.w.WriteLines(r.ctx, &b.lines))
		}
		if err != nil {
			r.werr <- err
			continue
		}
		b.rows.Reset()
		b.lines.Reset()
		r.free <- b
	}
	if err == nil {
		r.werr <- nil
	}
}
