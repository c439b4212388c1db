package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/roamsettle/roamsettle/store"
)

// One owner, many hands (DESIGN invariant 8). While `serve` owns a
// database, a command started beside it hands its work to serve over the
// admin socket beside the database file instead of failing on DuckDB's lock:
// the client forwards its command line (paths made absolute) and the config
// as it resolved it, serve runs the same subcommand function in process on a
// handle lent from its open Store, and streams stdout, stderr and the exit
// code back. Without a live serve the command opens the file itself.
//
// The hook is openDatabase, where every command that opens the database
// ends up (dbFlags.open and openExisting): on the client it forwards, in
// serve it lends. The subcommands themselves do not know.

// forwarding is what serve does with a command started beside it, keyed by
// the command's flag set name ("ingest", "partners list"), or its first
// word for a name not listed.
type forwarding struct {
	// refuse says why the command cannot run inside serve ("": it can).
	refuse string
	// reads: the command only reads, and runs beside other commands; a
	// command that writes waits until serve's other writing command is done
	// (the file lock used to keep them apart).
	reads bool
	// paths are the flags that name files or folders besides --config and
	// --db; argPaths: the positional arguments are files.
	paths    []string
	argPaths bool
}

var forwardings = map[string]forwarding{
	"ingest":          {paths: []string{"cpuprofile"}, argPaths: true},
	"rejects":         {reads: true},
	"status":          {reads: true},
	"price":           {reads: true}, // only price --db opens the database; its --cdr is CC-PID-ID
	"reprice":         {paths: []string{"cpuprofile"}},
	"reconcile":       {paths: []string{"invoice", "tokens", "cpuprofile"}},
	"disputes":        {reads: true},
	"disputes move":   {},
	"partners add":    {},
	"partners list":   {reads: true},
	"partners remove": {},
	"pull":            {},
	"run":             {paths: []string{"out"}},
	"runs":            {reads: true},
	"invoice":         {paths: []string{"out", "cpuprofile"}},
	"report":          {paths: []string{"out", "cpuprofile"}},

	"serve": {refuse: "serve is already running on this database"},
	"connect": {refuse: "connect listens for the partner's callback itself and cannot run inside serve: " +
		"stop serve, run connect, then start serve again"},
	"demo": {refuse: "demo builds its own database from scratch and cannot run inside serve: " +
		"give it another --out"},
	"gen": {refuse: "gen writes files and never opens a database"},
	"schedule": {refuse: "schedule runs on its own only where serve does not: while serve owns the database, " +
		"its [schedule] section runs the schedule"},
}

func forwardingOf(name string) (forwarding, bool) {
	if f, ok := forwardings[name]; ok {
		return f, true
	}
	first, _, _ := strings.Cut(name, " ")
	f, ok := forwardings[first]
	return f, ok
}

// errNoServe: no live serve owns the database (no socket, or a dead serve's
// socket): the command opens the file itself.
var errNoServe = errors.New("no serve owns this database")

// forwardedExit is a command's result when serve ran it: its output and
// its error message are already printed.
type forwardedExit struct{ code int }

func (e *forwardedExit) Error() string { return fmt.Sprintf("serve ran the command (exit %d)", e.code) }

// invocation is a command line as the user typed it (set by Run).
type invocation struct {
	args []string
	env  *Env
}

type invocationKey struct{}

func withInvocation(ctx context.Context, inv *invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// openDatabase opens the database of cfg for the command whose flags are fs,
// or hands the command to the serve that owns it, or (inside serve) lends
// serve's Store. existing refuses a path where no database exists. The
// Config returned is the one the command must use: inside serve, the
// client's.
func openDatabase(ctx context.Context, fs *flag.FlagSet, cfg Config, existing bool) (*store.Store, Config, error) {
	if call := servedCall(ctx); call != nil {
		db, err := call.open(ctx, fs)
		return db, call.req.Config, err
	}
	if inv, _ := ctx.Value(invocationKey{}).(*invocation); inv != nil && cfg.Database != "" && cfg.Database != ":memory:" {
		err := handOver(ctx, inv, fs, cfg)
		if !errors.Is(err, errNoServe) {
			return nil, cfg, err
		}
	}
	open := store.Open
	if existing {
		open = store.OpenExisting
	}
	db, err := open(ctx, cfg.Database)
	return db, cfg, err
}

// clientArgs is the command line to forward: args as typed, with the path
// flags' values and (argPaths) the positional arguments made absolute
// against dir. fs has parsed a suffix of args (a subcommand's flags), whose
// last fs.NArg() elements are the positional arguments.
func clientArgs(args []string, fs *flag.FlagSet, fw forwarding, dir string) []string {
	out := append([]string(nil), args...)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	isPath := map[string]bool{"config": true, "db": true}
	for _, p := range fw.paths {
		isPath[p] = true
	}
	flagEnd := len(out) - fs.NArg()
	for i := 0; i < flagEnd; i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !isPath[name] || fs.Lookup(name) == nil {
			continue
		}
		if hasValue {
			out[i] = a[:len(a)-len(value)] + abs(value)
		} else if i+1 < flagEnd {
			out[i+1] = abs(out[i+1])
			i++
		}
	}
	if fw.argPaths {
		for i := flagEnd; i < len(out); i++ {
			out[i] = abs(out[i])
		}
	}
	return out
}

// clientConfig is cfg with its relative paths made absolute against dir, as
// the command would have read them here.
func clientConfig(cfg Config, dir string) Config {
	for _, p := range []*string{&cfg.Database, &cfg.Output, &cfg.Tokens} {
		if *p != "" && *p != ":memory:" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg
}

// handOver runs the command in the serve that owns cfg's database and
// returns its exit as a *forwardedExit, or errNoServe when no serve owns
// it, or why it could not be handed over.
func handOver(ctx context.Context, inv *invocation, fs *flag.FlagSet, cfg Config) error {
	conn, peer, err := dialAdmin(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer conn.Close()
	fw, ok := forwardingOf(fs.Name())
	if !ok {
		fw.refuse = "this command has not been made to run inside serve"
	}
	if fw.refuse != "" {
		return fmt.Errorf("%s is owned by `roamsettle serve` (pid %d): %s", cfg.Database, peer.pid, fw.refuse)
	}
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	req := adminRequest{
		Proto:    adminProto,
		Args:     clientArgs(inv.args, fs, fw, dir),
		Config:   clientConfig(cfg, dir),
		Dir:      dir,
		LogLevel: os.Getenv("ROAMSETTLE_LOG"),
	}
	inv.env.Log.Debug("handing the command to serve", "pid", peer.pid, "args", req.Args)
	code, err := forward(ctx, conn, req, inv.env.Stdout, inv.env.Stderr)
	if err != nil {
		return fmt.Errorf("serve (pid %d) on %s: %w", peer.pid, cfg.Database, err)
	}
	return &forwardedExit{code: code}
}
