package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The client forwards the command line as typed, with the path flags and
// (for ingest) the files made absolute against its working directory.
func TestClientArgs(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string // as typed, command name first
		parse int      // how many leading words are not the flag set's
		fw    forwarding
		want  []string
	}{
		{"ingest", []string{"ingest", "--db", "x.duckdb", "--partner", "NL-ABC", "a.json", "/abs/b.json", "sub/c"}, 1,
			forwardings["ingest"],
			[]string{"ingest", "--db", "/home/u/x.duckdb", "--partner", "NL-ABC", "/home/u/a.json", "/abs/b.json", "/home/u/sub/c"}},
		{"ingest", []string{"ingest", "-db=x.duckdb", "--config=../c.toml", "-quiet", "--cpuprofile", "p.out", "f"}, 1,
			forwardings["ingest"],
			[]string{"ingest", "-db=/home/u/x.duckdb", "--config=/home/c.toml", "-quiet", "--cpuprofile", "/home/u/p.out", "/home/u/f"}},
		{"partners add", []string{"partners", "add", "--db", "d", "--country", "NL", "--party", "ABC"}, 2,
			forwardings["partners add"],
			[]string{"partners", "add", "--db", "/home/u/d", "--country", "NL", "--party", "ABC"}},
		{"pull", []string{"pull", "cdrs", "--partner", "NL-ABC", "--db", "d"}, 2, forwardings["pull"],
			[]string{"pull", "cdrs", "--partner", "NL-ABC", "--db", "/home/u/d"}},
		{"price", []string{"price", "--db", "d", "--cdr", "NL-ABC-1"}, 1, forwardings["price"],
			[]string{"price", "--db", "/home/u/d", "--cdr", "NL-ABC-1"}},
		{"reconcile", []string{"reconcile", "--db", "/d", "--invoice", "inv.csv", "--invoice=x/inv2.xlsx", "--period", "2026-10"}, 1,
			forwardings["reconcile"],
			[]string{"reconcile", "--db", "/d", "--invoice", "/home/u/inv.csv", "--invoice=/home/u/x/inv2.xlsx", "--period", "2026-10"}},
	} {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		addDBFlags(fs)
		for _, name := range []string{"partner", "cpuprofile", "country", "party", "cdr", "period"} {
			fs.String(name, "", "")
		}
		var inv multiFlag
		fs.Var(&inv, "invoice", "")
		fs.Bool("quiet", false, "")
		if err := fs.Parse(c.args[c.parse:]); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		got := clientArgs(c.args, fs, c.fw, "/home/u")
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%v:\n%s", c.args, diff)
		}
	}
}

// The config travels as the client resolved it: its relative paths read
// from the client's folder.
func TestClientConfig(t *testing.T) {
	got := clientConfig(Config{Database: "db/x.duckdb", Output: "out", Tokens: "/abs/tokens.ndjson"}, "/home/u")
	want := Config{Database: "/home/u/db/x.duckdb", Output: "/home/u/out", Tokens: "/abs/tokens.ndjson"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if got := clientConfig(Config{Database: ":memory:"}, "/x"); got.Database != ":memory:" {
		t.Errorf("memory: %q", got.Database)
	}
}

// Every string field of the config is known to be a path (clientConfig
// resolves it) or not: a new path field must be resolved on the client.
func TestConfigPathFieldsClassified(t *testing.T) {
	paths := []string{"Database", "Output", "Tokens"}
	notPaths := []string{"CountryCode", "PartyID", "Role", "Name", "Version", "RoundingMode", "RoundingLevel",
		"StepReading", "PeriodTimeZone",
		// [invoicing] and the parties' legal details (run_invoicing.go).
		"Billing", "Grouping", "Disputes", "Rounding", "TaxMethod", "UntaxedCategory", "UntaxedReason", "InvoiceSeries",
		"CreditNoteSeries", "PaymentNote", "LegalName", "Street", "Additional", "PostalCode", "City", "Region", "Country",
		"VATID", "RegistrationID", "Email", "IBAN", "BIC"}
	var walk func(typ reflect.Type, at string)
	walk = func(typ reflect.Type, at string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.String && slices.Contains(paths, f.Name) && at == "Config":
			case ft.Kind() == reflect.String && slices.Contains(notPaths, f.Name):
			case ft.Kind() == reflect.String:
				t.Errorf("%s.%s: a path? resolve it in clientConfig (admin.go) and list it here, else list it as not a path", at, f.Name)
			case ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeFor[Config]().PkgPath():
				walk(ft, ft.Name())
			}
		}
	}
	walk(reflect.TypeFor[Config](), "Config")
}

var (
	flagLine  = regexp.MustCompile(`^  -(\S+)`)
	pathWords = regexp.MustCompile(`(?i)\b(file|files|folder|directory|path)\b`)
)

// Every flag of a command that serve runs, whose help speaks of a file or a
// folder, is one the client makes absolute (or is known not to be a path).
func TestForwardedFlagsClassified(t *testing.T) {
	notPaths := map[string]bool{"config": true, "db": true, // always resolved
		"reconcile invoice-total": true, "ingest version": true, "run partner": true,
		"reconcile per-cdr": true}
	for name, fw := range forwardings {
		first, _, _ := strings.Cut(name, " ")
		if fw.refuse != "" || commands[first].run == nil {
			continue // not run inside serve, or not written yet
		}
		var out bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &out, Log: newLogger(io.Discard, "")}
		runCommand(context.Background(), env, append(strings.Fields(name), "--db", "/nonexistent", "--help"))
		flags := map[string]string{}
		cur := ""
		for _, line := range strings.Split(out.String(), "\n") {
			if m := flagLine.FindStringSubmatch(line); m != nil {
				cur = m[1]
				flags[cur] = line
			} else if cur != "" {
				flags[cur] += line
			}
		}
		if len(flags) == 0 {
			t.Errorf("%s --help listed no flags:\n%s", name, out.String())
		}
		for f, help := range flags {
			if pathWords.MatchString(help) && !slices.Contains(fw.paths, f) && !notPaths[f] && !notPaths[name+" "+f] {
				t.Errorf("%s --%s speaks of a file (%q): add it to forwardings[%q].paths in admin.go, or to notPaths here",
					name, f, strings.TrimSpace(help), name)
			}
		}
		for _, p := range fw.paths {
			if _, ok := flags[p]; !ok {
				t.Errorf("forwardings[%q] names --%s, which %s does not have", name, p, name)
			}
		}
	}
	for name := range commands {
		_, ok := forwardingOf(name)
		for k := range forwardings {
			ok = ok || strings.HasPrefix(k, name+" ")
		}
		if !ok {
			t.Errorf("command %s: say in forwardings (admin.go) whether serve runs it when it owns the database", name)
		}
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	fw := &frameWriter{w: &buf}
	big := bytes.Repeat([]byte("x"), maxFrame+10)
	if n, err := fw.stream(frameStdout).Write(big); n != len(big) || err != nil {
		t.Fatal(n, err)
	}
	fw.exit(3)
	var got []byte
	var types []byte
	for {
		typ, p, err := readFrame(&buf)
		if err != nil {
			break
		}
		types = append(types, typ)
		if typ == frameStdout {
			got = append(got, p...)
		}
	}
	if string(types) != "OOX" || !bytes.Equal(got, big) {
		t.Fatalf("frames %q, %d bytes", types, len(got))
	}
	// A length over the limit is refused before anything is allocated.
	if _, _, err := readFrame(bytes.NewReader([]byte{'O', 0xff, 0xff, 0xff, 0xff})); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	// A request from another build (a field this one does not know) is refused.
	if _, err := decodeRequest([]byte(`{"Proto":1,"Args":["rejects"],"Shiny":true}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// The peer check: the same uid only, root included.
func TestCheckPeer(t *testing.T) {
	if err := checkPeer(peer{pid: 10, uid: 1000}, 1000); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ peer, self int }{{0, 1000}, {1001, 1000}, {1000, 0}} {
		err := checkPeer(peer{pid: 77, uid: c.peer}, c.self)
		if err == nil || !strings.Contains(err.Error(), "process 77 runs as uid") {
			t.Errorf("peer uid %d, serve uid %d: %v", c.peer, c.self, err)
		}
	}
}

// SO_PEERCRED on a real socket names this process on both ends.
func TestPeerOf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan peer, 1)
	go func() {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		p, _ := peerOf(c)
		accepted <- p
	}()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := peerOf(c)
	me := peer{pid: os.Getpid(), uid: os.Geteuid()}
	if err != nil || p != me {
		t.Fatalf("client side: %+v %v, want %+v", p, err, me)
	}
	if p := <-accepted; p != me {
		t.Fatalf("server side: %+v, want %+v", p, me)
	}
}

// The client's view of the admin folder: none means no serve; a socket
// nobody listens on (serve was killed) means no serve; a folder others may
// enter, a symbolic link or a folder of another user is refused.
func TestDialAdmin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "x.duckdb")
	if _, _, err := dialAdmin(ctx, db); !errors.Is(err, errNoServe) {
		t.Fatalf("no folder: %v", err)
	}
	ln, err := listenAdmin(db)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(db + ".admin")
	sst, _ := os.Stat(ln.path)
	if st.Mode().Perm() != 0o700 || sst.Mode().Perm() != 0o600 {
		t.Fatalf("modes: folder %v, socket %v", st.Mode().Perm(), sst.Mode().Perm())
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c, p, err := dialAdmin(ctx, db)
	if err != nil || p.pid != os.Getpid() {
		t.Fatalf("live: %v %+v", err, p)
	}
	c.Close()
	// The socket of a dead serve: the file stays, nobody listens.
	ln.UnixListener.Close()
	if _, err := os.Stat(ln.path); err != nil {
		t.Fatalf("the test needs the socket file left behind: %v", err)
	}
	if _, _, err := dialAdmin(ctx, db); !errors.Is(err, errNoServe) {
		t.Fatalf("stale socket: %v", err)
	}
	// A new serve replaces it.
	ln2, err := listenAdmin(db)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln2.Close()
	if _, err := os.Stat(ln2.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after close: %v", err)
	}

	os.Chmod(db+".admin", 0o755)
	if _, _, err := dialAdmin(ctx, db); err == nil || !strings.Contains(err.Error(), "want 0700") {
		t.Fatalf("open folder: %v", err)
	}
	os.Chmod(db+".admin", 0o700)
	other := filepath.Join(dir, "y.duckdb")
	os.Symlink(db+".admin", other+".admin")
	if _, _, err := dialAdmin(ctx, other); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("symlinked folder: %v", err)
	}
	if os.Geteuid() == 0 {
		os.Chown(db+".admin", 65534, 65534)
		if _, _, err := dialAdmin(ctx, db); !errors.Is(err, errOtherUser) {
			t.Fatalf("another user's folder: %v", err)
		}
	}
}

// A database path too long for a sockaddr_un is reached through the
// folder's descriptor.
func TestLongSocketPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 150 {
		dir = filepath.Join(dir, "a-rather-long-folder-name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "x.duckdb")
	ln, err := listenAdmin(db)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, _, err := dialAdmin(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if string(b) != "hi" {
		t.Fatalf("read %q", b)
	}
}

// In process, against a serve started by Run: commands beside it run inside
// it with the client's config, their output and exit code come back, a
// second writer waits for the first, one that cannot run inside serve says
// why, and a client's cancellation stops its command in serve.
func TestCommandsBesideServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "serve.duckdb")
	logs := &syncBuffer{}
	_, stop := startServe(t, db, logs, "--quiet-requests")

	out, errs, code := run(t, "partners", "add", "--db", db, "--country", "NL", "--party", "ABC")
	if code != 0 || !strings.Contains(out, "partner NL-ABC (CPO) added") {
		t.Fatalf("partners add: %d %q %q", code, out, errs)
	}
	out, _, code = run(t, "partners", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "NL-ABC") {
		t.Fatalf("partners list: %d %q", code, out)
	}
	if !strings.Contains(logs.String(), "admin socket: running a command") {
		t.Fatalf("the commands did not go through serve:\n%s", logs.String())
	}
	// A failing command: its message and exit code come back.
	_, errs, code = run(t, "partners", "add", "--db", db, "--country", "NL", "--party", "ABC")
	if code != 1 || !strings.Contains(errs, "roamsettle partners: ") || !strings.Contains(errs, "already registered") {
		t.Fatalf("second add: %d %q", code, errs)
	}
	// connect cannot run inside serve.
	_, errs, code = run(t, "connect", "--db", db, "--url", "http://127.0.0.1:1/versions", "--token", "x")
	if code != 1 || !strings.Contains(errs, "owned by `roamsettle serve` (pid ") || !strings.Contains(errs, "stop serve") {
		t.Fatalf("connect: %d %q", code, errs)
	}

	// Nor can a second serve.
	_, errs, code = run(t, "serve", "--db", db, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errs, "serve is already running on this database") {
		t.Fatalf("second serve: %d %q", code, errs)
	}

	cdr := loadCDRs(t, 0, 1, 0)[0] // before leaving the package folder

	// Relative paths and the config are the client's: a config in a folder
	// of its own naming the database relatively, and a relative file.
	cwd := filepath.Join(dir, "client")
	os.MkdirAll(cwd, 0o755)
	os.WriteFile(filepath.Join(cwd, "roamsettle.toml"), []byte("database = \"../serve.duckdb\"\n"), 0o644)
	os.WriteFile(filepath.Join(cwd, "t.json"), []byte(`{"country_code":"NL","party_id":"ABC","id":"T1","currency":"EUR",`+
		`"elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}],"last_updated":"2026-10-01T00:00:00Z"}`), 0o644)
	chdir(t, cwd)
	out, errs, code = run(t, "ingest", "--config", "roamsettle.toml", "--quiet", "t.json")
	if code != 0 || !strings.Contains(out, "accepted   1  tariff 1") {
		t.Fatalf("ingest through serve from another folder: %d %q %q", code, out, errs)
	}
	if !strings.Contains(logs.String(), filepath.Join(cwd, "t.json")) {
		t.Fatalf("serve did not get the absolute path:\n%s", logs.String())
	}

	// One writer at a time. An ingest reading a named pipe holds the
	// writer's turn as long as the test keeps the pipe open: a writer
	// started meanwhile waits and says for what, a reader does not wait, and
	// a writer whose client is cancelled (Ctrl-C) gives up in serve.
	fifo := filepath.Join(dir, "cdrs.ndjson")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ingestDone := make(chan [3]string, 1)
	go func() {
		out, errs, code := run(t, "ingest", "--db", db, "--quiet", "--partner", "NL-P00", fifo)
		ingestDone <- [3]string{out, errs, strconv.Itoa(code)}
	}()
	pipe, err := os.OpenFile(fifo, os.O_WRONLY, 0) // until the ingest inside serve opens it
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	addDone := make(chan [3]string, 1)
	go func() {
		out, errs, code := run(t, "partners", "add", "--db", db, "--country", "NL", "--party", "DEF")
		addDone <- [3]string{out, errs, strconv.Itoa(code)}
	}()
	if out, _, code := run(t, "partners", "list", "--db", db); code != 0 || !strings.Contains(out, "NL-ABC") {
		t.Fatalf("a reader waited for the writer: %d %q", code, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan [2]string, 1)
	go func() {
		var cerr bytes.Buffer
		code := Run(ctx, []string{"partners", "add", "--db", db, "--country", "NL", "--party", "GHI"}, io.Discard, &cerr)
		cancelled <- [2]string{strconv.Itoa(code), cerr.String()}
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case r := <-addDone:
		t.Fatalf("a writer did not wait for the ingest: %q", r)
	default:
	}
	cancel()
	select {
	case r := <-cancelled:
		if r[0] != "1" || !strings.Contains(r[1], "waiting for `roamsettle ingest`") || !strings.Contains(r[1], "context canceled") {
			t.Fatalf("cancelled while waiting: %q", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled command did not end")
	}
	pipe.Write(cdr)
	pipe.Close()
	if r := <-ingestDone; r[2] != "0" || !strings.Contains(r[0], "accepted   1  cdr 1") {
		t.Fatalf("ingest of the pipe: %q", r)
	}
	if r := <-addDone; r[2] != "0" || !strings.Contains(r[1], "waiting for `roamsettle ingest`") || !strings.Contains(r[0], "NL-DEF") {
		t.Fatalf("the waiting writer: %q", r)
	}
	if out, _, _ := run(t, "partners", "list", "--db", db); strings.Contains(out, "NL-GHI") {
		t.Fatalf("the cancelled add ran:\n%s", out)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs.String())
	}
	if _, err := os.Stat(db + ".admin/" + adminSocketName); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after serve stopped: %v", err)
	}
	// Without serve the commands open the file themselves.
	if out, _, code := run(t, "partners", "list", "--db", db); code != 0 || !strings.Contains(out, "NL-DEF") {
		t.Fatalf("after serve: %d %q", code, out)
	}
}

func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}
