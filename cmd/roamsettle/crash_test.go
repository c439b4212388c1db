package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

// serveProcess starts the built binary's `serve` and returns its base URL.
func serveProcess(t *testing.T, bin, db string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--db", db, "--listen", "127.0.0.1:0", "--quiet-requests")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("serve did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	url := strings.TrimSpace(line[strings.Index(line, "http"):])
	return cmd, strings.TrimSuffix(url, "/ocpi/versions")
}

// TestCrashMidLoad kills `roamsettle serve` with SIGKILL in the middle of a
// push load, restarts it, and lets the partners retry what was not
// acknowledged: every acknowledged CDR must be stored, exactly once, and
// every CDR is stored in the end. Meanwhile one more partner keeps pushing
// a poisoned CDR (bytes that are not UTF-8 in a text field): whatever
// becomes of it, it must never make a valid CDR of the same group commit
// fail (issue 12 item 6).
func TestCrashMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it: skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "roamsettle")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-tags=duckdb_arrow")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "crash.duckdb")
	const partners, perPartner = 10, 100
	tokens := loadPartners(t, db, partners+1)
	bodies := make([][][]byte, partners)
	for i := range bodies {
		bodies[i] = loadCDRs(t, i, perPartner, 0)
	}
	poison := bytes.Replace(loadCDRs(t, partners, 1, 0)[0], []byte(`"meter_id":"`), []byte("\"meter_id\":\"\xff\xfe"), 1)
	if bytes.Equal(poison, loadCDRs(t, partners, 1, 0)[0]) {
		t.Fatal("the poisoned CDR was not poisoned")
	}

	cmd, base := serveProcess(t, bin, db)
	var url atomic.Pointer[string]
	url.Store(&base)
	var acked, attempts, failedValid atomic.Int64
	ackedIDs := make([][]string, partners)
	killAt := int64(partners * perPartner / 3)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < partners; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			auth := ocpi.AuthorizationHeader(tokens[i], ocpi.AuthBase64, ocpi.V221)
			for j, body := range bodies[i] {
				for try := 0; ; try++ {
					if try > 200 || ctx.Err() != nil {
						t.Errorf("partner %d gave up on CDR %d", i, j)
						return
					}
					attempts.Add(1)
					req, _ := http.NewRequest("POST", *url.Load()+"/ocpi/2.2.1/cdrs", bytes.NewReader(body))
					req.Header.Set("Authorization", auth)
					res, err := client.Do(req)
					if err != nil {
						time.Sleep(50 * time.Millisecond) // the server is down: retry what was not acknowledged
						continue
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode == 201 || res.StatusCode == 200 {
						ackedIDs[i] = append(ackedIDs[i], "L"+loadParty(i)+"-"+itoa(j))
						acked.Add(1)
						break
					}
					failedValid.Add(1) // an answer, but not a success: the poisoned batch member's fault
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	// The poisoned partner pushes alongside until the valid load is done.
	loadDone := make(chan struct{})
	poisonAnswers := map[int]int{}
	var poisonWG sync.WaitGroup
	poisonWG.Add(1)
	go func() {
		defer poisonWG.Done()
		client := &http.Client{Timeout: 10 * time.Second}
		auth := ocpi.AuthorizationHeader(tokens[partners], ocpi.AuthBase64, ocpi.V221)
		for n := 0; n < 2000; n++ {
			select {
			case <-loadDone:
				return
			case <-time.After(10 * time.Millisecond):
			}
			req, _ := http.NewRequest("POST", *url.Load()+"/ocpi/2.2.1/cdrs", bytes.NewReader(poison))
			req.Header.Set("Authorization", auth)
			if res, err := client.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				poisonAnswers[res.StatusCode]++
			}
		}
	}()
	// SIGKILL mid-load, then restart on a new port.
	for acked.Load() < killAt && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	ackedBeforeKill := acked.Load()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	cmd2, base2 := serveProcess(t, bin, db)
	url.Store(&base2)
	wg.Wait()
	close(loadDone)
	poisonWG.Wait()
	cmd2.Process.Signal(syscall.SIGTERM)
	if err := cmd2.Wait(); err != nil {
		t.Errorf("graceful stop after the load: %v", err)
	}
	t.Logf("killed after %d acknowledgements; %d acknowledged in all after %d attempts; the poisoned CDR was answered %v",
		ackedBeforeKill, acked.Load(), attempts.Load(), poisonAnswers)
	if n := failedValid.Load(); n > 0 {
		t.Errorf("%d answers to valid CDRs were failures: a poisoned member took its group commit down", n)
	}
	if len(poisonAnswers) == 0 {
		t.Errorf("the poisoned CDR was never answered")
	}

	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows, distinct int64
	if err := s.DB().QueryRow(`SELECT count(*), count(DISTINCT (country_code, party_id, id)) FROM cdrs WHERE party_id <> ?`,
		loadParty(partners)).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != partners*perPartner || distinct != rows {
		t.Fatalf("%d CDR rows, %d distinct; want exactly %d once each", rows, distinct, partners*perPartner)
	}
	for i, ids := range ackedIDs {
		for _, id := range ids {
			if _, _, err := s.CDR(context.Background(), "NL", loadParty(i), id); err != nil {
				t.Fatalf("acknowledged CDR %s of %s lost: %v", id, loadParty(i), err)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
