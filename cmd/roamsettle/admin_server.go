package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/roamsettle/roamsettle/store"
)

// adminServer is serve's side of the admin socket: it runs the commands
// handed to it on handles lent from serve's Store.
type adminServer struct {
	db   *store.Store
	path string // the database file serve opened
	ln   *adminListener
	log  *slog.Logger

	ctx    context.Context // every command's; cancelled by stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// writer is held by the command that writes (one at a time, as the
	// file lock had it); holder describes it to those that wait.
	writer chan struct{}
	mu     sync.Mutex
	holder string
}

// startAdmin listens on the admin socket of the database at path.
func startAdmin(db *store.Store, path string, log *slog.Logger) (*adminServer, error) {
	ln, err := listenAdmin(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &adminServer{db: db, path: path, ln: ln, log: log, ctx: ctx, cancel: cancel, writer: make(chan struct{}, 1)}
	a.wg.Add(1)
	go a.accept()
	return a, nil
}

func (a *adminServer) accept() {
	defer a.wg.Done()
	for {
		c, err := a.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.log.Error("admin socket: accept", "err", err)
			}
			return
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.handle(c)
		}()
	}
}

// stop closes the socket (removing it), cancels the commands going on and
// waits up to grace for them to return. A nil server has nothing to stop.
func (a *adminServer) stop(grace time.Duration) error {
	if a == nil {
		return nil
	}
	err := a.ln.Close()
	a.cancel()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return err
	case <-time.After(grace):
		return errors.Join(err, fmt.Errorf("admin socket: commands still running after %s", grace))
	}
}

// adminCall is one command handed to serve.
type adminCall struct {
	a       *adminServer
	req     adminRequest
	env     *Env
	started time.Time
	pid     int
	holds   bool           // holds a.writer
	lent    []*store.Store // given back when the command returns
}

type servedKey struct{}

// servedCall is the admin call a command runs for, if it runs inside serve.
func servedCall(ctx context.Context) *adminCall {
	c, _ := ctx.Value(servedKey{}).(*adminCall)
	return c
}

func (a *adminServer) handle(c *net.UnixConn) {
	defer c.Close()
	out := &frameWriter{w: c}
	p, err := peerOf(c)
	if err == nil {
		err = checkPeer(p, os.Geteuid())
	}
	if err != nil {
		a.log.Warn("admin socket: connection refused", "err", err)
		out.frame(frameRefused, []byte(err.Error()))
		return
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, b, err := readFrame(c)
	if err != nil || typ != frameRequest {
		// A client that found out it may not hand its command over (connect,
		// demo) hangs up without a request.
		lvl := slog.LevelWarn
		if errors.Is(err, io.EOF) {
			lvl = slog.LevelDebug
		}
		a.log.Log(context.Background(), lvl, "admin socket: no request", "pid", p.pid, "err", err)
		return
	}
	c.SetReadDeadline(time.Time{})
	req, err := decodeRequest(b)
	if err == nil {
		err = a.admissible(req)
	}
	if err != nil {
		a.log.Warn("admin socket: request refused", "pid", p.pid, "err", err)
		out.frame(frameRefused, []byte(err.Error()))
		return
	}

	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	// Whatever the client sends next, or its going away, cancels.
	go func() {
		readFrame(c)
		cancel()
	}()
	stderr := out.stream(frameStderr)
	env := &Env{Stdout: out.stream(frameStdout), Stderr: stderr, Log: newLogger(stderr, req.LogLevel)}
	call := &adminCall{a: a, req: req, env: env, started: time.Now(), pid: p.pid}
	line := "roamsettle " + strings.Join(req.Args, " ")
	a.log.Info("admin socket: running a command", "pid", p.pid, "command", line)
	code := call.run(context.WithValue(ctx, servedKey{}, call))
	a.log.Info("admin socket: command done", "pid", p.pid, "command", req.Args[0], "exit", code,
		"elapsed", time.Since(call.started).Round(time.Millisecond))
	if err := out.exit(code); err != nil {
		a.log.Warn("admin socket: the client went away before the command ended", "pid", p.pid, "command", req.Args[0])
	}
}

// admissible checks a request before anything runs.
func (a *adminServer) admissible(req adminRequest) error {
	if req.Proto != adminProto {
		return fmt.Errorf("this serve speaks admin protocol %d, the command %d: run the same roamsettle build", adminProto, req.Proto)
	}
	if len(req.Args) == 0 {
		return errors.New("no command")
	}
	if !isCommand(req.Args[0]) {
		return fmt.Errorf("this serve does not know the command %q (another roamsettle build?)", req.Args[0])
	}
	if f, ok := forwardingOf(req.Args[0]); ok && f.refuse != "" {
		return errors.New(f.refuse)
	}
	return a.owns(req.Config.Database)
}

// owns checks that db is the database this serve opened.
func (a *adminServer) owns(db string) error {
	mine, err1 := os.Stat(a.path)
	theirs, err2 := os.Stat(db)
	if err1 != nil || err2 != nil || !os.SameFile(mine, theirs) {
		return fmt.Errorf("this serve owns %s, not %s", a.path, db)
	}
	return nil
}

// run runs the command as Run would, with its panics caught: a command's
// bug must not take the receiver down.
func (c *adminCall) run(ctx context.Context) (code int) {
	defer func() {
		if v := recover(); v != nil {
			c.a.log.Error("admin socket: command panicked", "command", c.req.Args, "panic", v, "stack", string(debug.Stack()))
			fmt.Fprintf(c.env.Stderr, "roamsettle %s: internal error inside serve: %v\n", c.req.Args[0], v)
			code = 1
		}
		for _, l := range c.lent {
			l.Close() // once only: a command that closed it already is fine
		}
		if c.holds {
			c.a.mu.Lock()
			c.a.holder = ""
			c.a.mu.Unlock()
			<-c.a.writer
		}
	}()
	return runServed(ctx, c.env, c.req.Args)
}

// runServed and isCommand reach the command table from serve's admin
// server; set in init, since commands -> runServe -> the admin server ->
// commands would be an initialization cycle.
var (
	runServed func(ctx context.Context, env *Env, args []string) int
	isCommand func(name string) bool
)

func init() {
	runServed = runCommand
	isCommand = func(name string) bool { _, ok := commands[name]; return ok }
}

// open is openDatabase inside serve: the command's database must be serve's,
// a command that writes waits for the writer's turn, and it gets a handle
// lent from serve's Store.
func (c *adminCall) open(ctx context.Context, fs *flag.FlagSet) (*store.Store, error) {
	if err := c.a.owns(c.req.Config.Database); err != nil {
		return nil, err
	}
	fw, ok := forwardingOf(fs.Name())
	if !ok || fw.refuse != "" {
		return nil, fmt.Errorf("%s cannot run inside serve", fs.Name())
	}
	if !fw.reads && !c.holds {
		if err := c.waitWriter(ctx, fs.Name()); err != nil {
			return nil, err
		}
	}
	db, err := c.a.db.Lend(ctx)
	if err == nil {
		c.lent = append(c.lent, db)
	}
	return db, err
}

// waitWriter takes the writer's turn, saying who it waits for.
func (c *adminCall) waitWriter(ctx context.Context, name string) error {
	what := fmt.Sprintf("`roamsettle %s` (pid %d, since %s)", name, c.pid, time.Now().Format(time.TimeOnly))
	select {
	case c.a.writer <- struct{}{}:
	default:
		c.a.mu.Lock()
		holder := c.a.holder
		c.a.mu.Unlock()
		fmt.Fprintf(c.env.Stderr, "roamsettle %s: waiting for %s to finish (one command writes at a time; Ctrl-C gives up)\n", name, holder)
		select {
		case c.a.writer <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.holds = true
	c.a.mu.Lock()
	c.a.holder = what
	c.a.mu.Unlock()
	return nil
}

// serveAdmin starts serve's admin socket for the database at path. Without
// it serve still serves OCPI, and commands started beside it fail on the
// lock as they did before, so a failure is logged, not fatal.
func serveAdmin(env *Env, db *store.Store, path string) *adminServer {
	if path == "" || path == ":memory:" {
		return nil
	}
	a, err := startAdmin(db, path, env.Log)
	if err != nil {
		env.Log.Error("admin socket: not started; commands started beside serve will fail on the database lock", "err", err)
		return nil
	}
	env.Log.Info("admin socket: commands started beside serve on this database run inside it", "socket", a.ln.path)
	return a
}
