package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

// End to end with the real binary: `roamsettle serve` owns a DuckDB file
// and receives CDR pushes on loopback while `roamsettle ingest`, `reprice`,
// `rejects` and `partners list` are started beside it as separate
// processes; a serve killed with SIGKILL leaves a socket that blocks
// nobody; another user's process cannot use the socket.
func TestAdminSocketWithTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a push load: skipped with -short")
	}
	// The binary lives in a folder others may enter, for the other-user
	// case.
	binDir, err := os.MkdirTemp("", "roamsettle-admin-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	os.Chmod(binDir, 0o755)
	bin := filepath.Join(binDir, "roamsettle")
	if prebuilt := os.Getenv("ROAMSETTLE_TEST_BINARY"); prebuilt != "" {
		// A measurement of another build (A/B runs).
		if err := copyFile(prebuilt, bin); err != nil {
			t.Fatal(err)
		}
	} else {
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Env = append(os.Environ(), "GOFLAGS=-tags=duckdb_arrow")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	t.Run("under load", func(t *testing.T) { adminUnderLoad(t, bin) })
	t.Run("stale socket", func(t *testing.T) { adminStaleSocket(t, bin) })
	t.Run("another user", func(t *testing.T) { adminOtherUser(t, bin, binDir) })
}

// servedBinary is a `roamsettle serve` process.
type servedBinary struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan error
}

func startServeBinary(t *testing.T, bin, db string) *servedBinary {
	t.Helper()
	s := &servedBinary{cmd: exec.Command(bin, "serve", "--db", db, "--listen", "127.0.0.1:0", "--quiet-requests"),
		logs: &syncBuffer{}, done: make(chan error, 1)}
	stdout, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		t.Fatalf("serve did not start: %v\n%s", err, s.logs)
	}
	go io.Copy(io.Discard, stdout)
	go func() { s.done <- s.cmd.Wait() }()
	s.base = strings.TrimSuffix(strings.TrimSpace(line[strings.Index(line, "http"):]), "/ocpi/versions")
	t.Cleanup(func() { s.cmd.Process.Kill() })
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *servedBinary) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, s.logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop\n%s", s.logs)
	}
}

// besideResult is a command run beside serve.
type besideResult struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func runBinary(bin string, dir string, args ...string) besideResult {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := besideResult{args: args, stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code, r.stderr = -1, err.Error()
	}
	return r
}

// pusher pushes CDRs with fresh ids, one request at a time on each of its
// connections, until stopped, and records what was acknowledged and when.
type pusher struct {
	mu       sync.Mutex
	acked    map[string][]string // party -> ids acknowledged
	ackTimes []time.Time
	lat      []time.Duration
	failures atomic.Int64
	errs     atomic.Int64
}

func (p *pusher) run(ctx context.Context, base string, tokens []string, tmpl [][]byte, conc int) *sync.WaitGroup {
	p.acked = map[string][]string{}
	var wg sync.WaitGroup
	for i := range tokens {
		for c := range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 60 * time.Second}
				auth := ocpi.AuthorizationHeader(tokens[i], ocpi.AuthBase64, ocpi.V221)
				old := []byte(`"id":"L` + loadParty(i) + `-0"`)
				for n := 0; ctx.Err() == nil; n++ {
					id := fmt.Sprintf("A%s-%d-%d", loadParty(i), c, n)
					body := bytes.Replace(tmpl[i], old, []byte(`"id":"`+id+`"`), 1)
					req, _ := http.NewRequest("POST", base+"/ocpi/2.2.1/cdrs", bytes.NewReader(body))
					req.Header.Set("Authorization", auth)
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					res, err := client.Do(req)
					if err != nil {
						p.errs.Add(1)
						continue
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 201 && res.StatusCode != 200 {
						p.failures.Add(1)
						continue
					}
					now := time.Now()
					p.mu.Lock()
					p.acked[loadParty(i)] = append(p.acked[loadParty(i)], id)
					p.ackTimes = append(p.ackTimes, now)
					p.lat = append(p.lat, now.Sub(t0))
					p.mu.Unlock()
				}
			}()
		}
	}
	return &wg
}

// rate is the acknowledged CDRs per second between from and to, and the
// 50th and 99th percentile latency of those requests.
func (p *pusher) rate(from, to time.Time) (perSec float64, p50, p99 time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lat []time.Duration
	for i, at := range p.ackTimes {
		if !at.Before(from) && at.Before(to) {
			lat = append(lat, p.lat[i])
		}
	}
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	return float64(len(lat)) / to.Sub(from).Seconds(), lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}

var acceptedCDRs = regexp.MustCompile(`accepted +\d+ +cdr (\d+)`)

func adminUnderLoad(t *testing.T, bin string) {
	dir := t.TempDir()
	db := filepath.Join(dir, "serve.duckdb")
	// ROAMSETTLE_ADMIN_E2E_CDRS scales the ingest for a measurement.
	cdrs := "20000"
	if n := os.Getenv("ROAMSETTLE_ADMIN_E2E_CDRS"); n != "" {
		cdrs = n
	}
	if r := runBinary(bin, dir, "gen", "--cdrs", cdrs, "--out", "data", "--quiet"); r.code != 0 {
		t.Fatalf("gen: %+v", r)
	}
	const partners = 8
	tokens := loadPartners(t, db, partners)
	tmpl := make([][]byte, partners)
	for i := range tmpl {
		tmpl[i] = loadCDRs(t, i, 1, 0)[0]
	}
	s := startServeBinary(t, bin, db)
	ctx, stopPush := context.WithCancel(context.Background())
	var p pusher
	start := time.Now()
	pushing := p.run(ctx, s.base, tokens, tmpl, 2)
	time.Sleep(3 * time.Second) // the receiver alone

	// Beside it, as a user would: relative paths from the database's folder.
	besideStart := time.Now()
	results := make(chan besideResult, 4)
	var beside sync.WaitGroup
	for _, args := range [][]string{
		{"ingest", "--db", "serve.duckdb", "--quiet", "data"},
		{"rejects", "--db", "serve.duckdb", "--limit", "3"},
		{"partners", "list", "--db", "serve.duckdb"},
	} {
		beside.Add(1)
		go func() {
			defer beside.Done()
			results <- runBinary(bin, dir, args...)
		}()
	}
	beside.Wait()
	ingestEnd := time.Now()
	// A reprice of the month just ingested: a long write beside the receiver.
	results <- runBinary(bin, dir, "reprice", "--db", "serve.duckdb", "--period", "2026-10")
	besideEnd := time.Now()
	close(results)
	time.Sleep(2 * time.Second) // the receiver alone again
	stopPush()
	pushing.Wait()
	end := time.Now()
	s.stop(t)

	var ingested int64 = -1
	for r := range results {
		t.Logf("beside serve: roamsettle %s: exit %d in %s", strings.Join(r.args, " "), r.code, r.elapsed.Round(time.Millisecond))
		if r.code != 0 {
			t.Errorf("roamsettle %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
		}
		switch r.args[0] {
		case "ingest":
			m := acceptedCDRs.FindStringSubmatch(r.stdout)
			if m == nil {
				t.Errorf("ingest printed no accepted CDRs:\n%s", r.stdout)
				continue
			}
			ingested, _ = strconv.ParseInt(m[1], 10, 64)
			t.Logf("ingest said: %s", strings.SplitN(r.stdout, "\n", 2)[0])
		case "rejects":
			if !strings.Contains(r.stdout, "no rejects") && !strings.Contains(r.stdout, "record") {
				t.Errorf("rejects printed %q", r.stdout)
			}
		case "partners":
			if !strings.Contains(r.stdout, "NL-P00") {
				t.Errorf("partners list printed %q", r.stdout)
			}
		case "reprice":
			t.Logf("reprice said: %s", strings.SplitN(r.stdout, "\n", 2)[0])
		}
	}
	if got := strings.Count(s.logs.String(), "admin socket: running a command"); got != 4 {
		t.Errorf("serve ran %d commands, want 4:\n%s", got, s.logs)
	}

	// Every acknowledged push is stored, and everything ingest accepted.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[string]bool{}
	rows, err := st.DB().Query(`SELECT id FROM cdrs WHERE id LIKE 'AP%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id] = true
	}
	rows.Close()
	acked, lost := 0, 0
	for _, ids := range p.acked {
		for _, id := range ids {
			acked++
			if !stored[id] {
				lost++
			}
		}
	}
	var fromFiles int64
	if err := st.DB().QueryRow(`SELECT count(*) FROM cdrs WHERE id NOT LIKE 'AP%'`).Scan(&fromFiles); err != nil {
		t.Fatal(err)
	}
	if lost != 0 || acked == 0 {
		t.Errorf("%d of %d acknowledged CDRs are not stored", lost, acked)
	}
	if fromFiles != ingested {
		t.Errorf("ingest accepted %d CDRs, %d are stored", ingested, fromFiles)
	}
	if n := p.failures.Load(); n != 0 {
		t.Errorf("%d pushes answered with an error", n)
	}
	before, b50, b99 := p.rate(start.Add(500*time.Millisecond), besideStart)
	during, d50, d99 := p.rate(besideStart, ingestEnd)
	repr, r50, r99 := p.rate(ingestEnd, besideEnd)
	after, a50, a99 := p.rate(besideEnd, end)
	t.Logf("receiver, CDR POSTs acknowledged per second (p50/p99 latency): alone %.0f (%s/%s); with ingest, rejects and "+
		"partners list beside it %.0f (%s/%s); with reprice beside it %.0f (%s/%s); alone again %.0f (%s/%s); "+
		"%d acknowledged, all stored; %d transport errors",
		before, b50, b99, during, d50, d99, repr, r50, r99, after, a50, a99, acked, p.errs.Load())
	if during == 0 {
		t.Errorf("the receiver acknowledged nothing while ingest ran beside it")
	}
}

func adminStaleSocket(t *testing.T, bin string) {
	dir := t.TempDir()
	db := filepath.Join(dir, "stale.duckdb")
	s := startServeBinary(t, bin, db)
	if r := runBinary(bin, dir, "partners", "add", "--db", db, "--country", "NL", "--party", "ABC"); r.code != 0 {
		t.Fatalf("partners add through serve: %+v", r)
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	sock := db + ".admin/" + adminSocketName
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("SIGKILL left no socket behind, nothing to test: %v", err)
	}
	// Nobody listens: the commands open the file themselves.
	r := runBinary(bin, dir, "partners", "list", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "NL-ABC") {
		t.Fatalf("partners list after serve was killed: %+v", r)
	}
	if r := runBinary(bin, dir, "partners", "add", "--db", db, "--country", "NL", "--party", "DEF"); r.code != 0 {
		t.Fatalf("partners add after serve was killed: %+v", r)
	}
	// A new serve replaces the dead one's socket and takes the commands.
	s = startServeBinary(t, bin, db)
	r = runBinary(bin, dir, "partners", "list", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "NL-DEF") || !strings.Contains(s.logs.String(), "admin socket: running a command") {
		t.Fatalf("partners list through the new serve: %+v\n%s", r, s.logs)
	}
	s.stop(t)
}

// adminProbeEnv makes the test binary dial an admin socket, send a request
// and print the first frame it gets back (TestAdminProbe).
const adminProbeEnv = "ROAMSETTLE_TEST_ADMIN_PROBE"

func adminOtherUser(t *testing.T, bin, binDir string) {
	if os.Geteuid() != 0 {
		t.Skip("running a process as another user needs root; the credential check is unit-tested in TestCheckPeer")
	}
	const nobody = 65534
	// A folder the other user may enter, with serve's database in it.
	dir, err := os.MkdirTemp("", "roamsettle-admin-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	db := filepath.Join(dir, "serve.duckdb")
	s := startServeBinary(t, bin, db)
	asNobody := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		cmd.Dir = dir
		return cmd
	}

	// The client, as nobody: the admin folder is root's, so it does not
	// even try, says whose it is, and does not open the file.
	cmd := asNobody(exec.Command(bin, "rejects", "--db", db))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "belongs to uid 0, and its serve answers that user only") {
		t.Fatalf("the client as another user: %v\n%s", err, out)
	}

	// Serve, for a process of another user that reaches the socket anyway
	// (here: the modes opened by hand): refused after SO_PEERCRED.
	os.Chmod(db+".admin", 0o755)
	os.Chmod(db+".admin/"+adminSocketName, 0o666)
	probe := filepath.Join(binDir, "roamsettle.test")
	if err := os.Link(os.Args[0], probe); err != nil {
		if err := copyFile(os.Args[0], probe); err != nil {
			t.Fatal(err)
		}
	}
	cmd = asNobody(exec.Command(probe, "-test.run=^TestAdminProbe$"))
	cmd.Env = append(os.Environ(), adminProbeEnv+"="+db+".admin/"+adminSocketName)
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "frame F: refused: this serve (uid 0) answers its own user only; process") ||
		!strings.Contains(string(out), "runs as uid 65534") {
		t.Fatalf("the probe as another user: %v\n%s", err, out)
	}
	if !strings.Contains(s.logs.String(), "admin socket: connection refused") {
		t.Fatalf("serve did not log the refusal:\n%s", s.logs)
	}
	// The same probe as root gets its command run.
	cmd = exec.Command(probe, "-test.run=^TestAdminProbe$")
	cmd.Env = append(os.Environ(), adminProbeEnv+"="+db+".admin/"+adminSocketName, "ROAMSETTLE_TEST_ADMIN_DB="+db)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "frame O: no rejects") {
		t.Fatalf("the probe as serve's user: %v\n%s", err, out)
	}
	s.stop(t)
}

// TestAdminProbe is the other user's process of TestAdminSocketWithTheBinary.
func TestAdminProbe(t *testing.T) {
	sock := os.Getenv(adminProbeEnv)
	if sock == "" {
		t.Skip("run by TestAdminSocketWithTheBinary")
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		return
	}
	defer c.Close()
	db := os.Getenv("ROAMSETTLE_TEST_ADMIN_DB")
	b, _ := encodeRequest(adminRequest{Proto: adminProto, Args: []string{"rejects", "--db", db}, Config: Config{Database: db}})
	writeFrame(c, frameRequest, b)
	typ, p, err := readFrame(c)
	fmt.Printf("frame %c: %s (%v)\n", typ, p, err)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
