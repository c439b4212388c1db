package main

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// The receiver's side of the poisoned byte (issue 12 item 6): one partner
// pushes a CDR and a tariff with an invalid UTF-8 byte while another pushes
// valid CDRs into the same group commits (--batch-wait 300ms used to fail
// 100% of them with 500/3000). Everyone gets 201, and everything is stored:
// the bad text with its byte spelt \xFF and an encoding finding.
func TestE2EPoisonedByteFailsNoOne(t *testing.T) {
	db := filepath.Join(t.TempDir(), "poison.duckdb")
	tokens := loadPartners(t, db, 2)
	good := loadCDRs(t, 0, 20, 0)
	bad := loadCDRs(t, 1, 1, 0)[0]
	bad = bytes.Replace(bad, []byte(`"address":"Damrak 70"`), []byte("\"address\":\"Damrak\xff 70\""), 1)
	var logs syncBuffer
	base, stop := startServe(t, db, &logs, "--batch-wait", "300ms", "--quiet-requests")
	c := client{t, base}

	type post struct {
		token string
		body  []byte
	}
	posts := []post{{tokens[1], bad}}
	for _, b := range good {
		posts = append(posts, post{tokens[0], b})
	}
	statuses := make([]int, len(posts))
	var wg sync.WaitGroup
	for i, p := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", base+"/ocpi/2.2.1/cdrs", bytes.NewReader(p.body))
			req.Header.Set("Authorization", ocpi.AuthorizationHeader(p.token, ocpi.AuthBase64, ocpi.V221))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Errorf("POST %d (partner %d): HTTP %d, want 201", i, min(i, 1), s)
		}
	}
	tariff := strings.Replace(spec(t, "spec/2.2.1/tariff_1_simple_2hour.json"), `"party_id": "ALL"`, `"party_id": "P01"`, 1)
	tariff = strings.Replace(tariff, `"country_code": "DE"`, `"country_code": "NL"`, 1)
	tariff = strings.Replace(tariff, `"currency": "EUR"`, "\"currency\": \"EUR\", \"tariff_alt_url\": \"https://x.example/\xe9\"", 1)
	if r := c.do("PUT", "/ocpi/2.2.1/tariffs/NL/P01/12", ocpi.AuthorizationHeader(tokens[1], ocpi.AuthBase64, ocpi.V221), []byte(tariff)); r.status != 201 {
		t.Errorf("tariff PUT with an invalid byte: %d %s", r.status, r.body)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs.String())
	}
	got := counts(t, db)
	if got.CDRs != 21 || got.TariffVersions != 1 || got.FindingsByRule[ocpi.RuleEncoding] != 2 {
		t.Errorf("stored %d CDRs, %d tariff versions, %d encoding findings; want 21, 1, 2 (%+v)",
			got.CDRs, got.TariffVersions, got.FindingsByRule[ocpi.RuleEncoding], got)
	}
}
