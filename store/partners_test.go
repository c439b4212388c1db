package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/roamsettle/roamsettle/ocpi"
)

func TestPartnersRoundTrip(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	tokenA := sha256.Sum256([]byte("token-a"))
	added, err := s.AddPartner(ctx, ocpi.Connection{CountryCode: "nl", PartyID: "abc", Role: "CPO", Name: "ABC Charging",
		Version: ocpi.V221, TokenA: tokenA, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID == 0 || added.CountryCode != "NL" || added.PartyID != "ABC" {
		t.Fatalf("added %+v", added)
	}
	if _, err := s.AddPartner(ctx, ocpi.Connection{CountryCode: "NL", PartyID: "ABC", Role: "CPO", CreatedAt: t0}); !errors.Is(err, ErrPartnerExists) {
		t.Fatalf("second add: %v, want ErrPartnerExists", err)
	}

	reg := t0.Add(time.Hour)
	added.TokenA = [32]byte{}
	added.TokenC = sha256.Sum256([]byte("token-c"))
	added.TokenB = sha256.Sum256([]byte("token-b"))
	added.TokenBSealed = []byte{1, 2, 3}
	added.AuthMode = ocpi.AuthBase64
	added.VersionsURL = "https://cpo.example/ocpi/versions"
	added.Endpoints = []ocpi.Endpoint{{Identifier: "cdrs", Role: "SENDER", URL: "https://cpo.example/cdrs"}}
	added.Roles = []ocpi.CredentialsRole{{Role: "CPO", PartyID: "ABC", CountryCode: "NL", BusinessDetails: ocpi.BusinessDetails{Name: "ABC"}}}
	added.RegisteredAt = &reg
	if err := s.UpdatePartner(ctx, added); err != nil {
		t.Fatal(err)
	}
	got, err := s.Partner(ctx, "nl", "ABC", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(added, got); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
	// The digest is stored, never the token.
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM partners WHERE
		contains(CAST(token_c_sha256 AS VARCHAR), 'token-c') OR contains(coalesce(endpoints, ''), 'token')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token text found in partners (%d, %v)", n, err)
	}

	if err := s.RemovePartner(ctx, "NL", "ABC", "", reg.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Partner(ctx, "NL", "ABC", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed partner still found: %v", err)
	}
	if err := s.RemovePartner(ctx, "NL", "ABC", "", reg); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	all, err := s.Partners(ctx)
	if err != nil || len(all) != 1 || all[0].UnregisteredAt == nil || all[0].TokenC != ([32]byte{}) || all[0].TokenBSealed != nil {
		t.Fatalf("after remove: %+v %v", all, err)
	}
	// The party can be added again once removed.
	if _, err := s.AddPartner(ctx, ocpi.Connection{CountryCode: "NL", PartyID: "ABC", Role: "CPO"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdatePartner(ctx, ocpi.Connection{ID: 999, CountryCode: "NL", PartyID: "ZZZ"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of unknown partner: %v", err)
	}
}

func TestCheckpoints(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	cp, err := s.Checkpoint(ctx, 1, "cdrs")
	if err != nil || cp != (Checkpoint{}) {
		t.Fatalf("fresh checkpoint %+v %v", cp, err)
	}
	want := Checkpoint{WindowTo: t0, NextURL: "https://cpo.example/cdrs?offset=100&limit=50", Pages: 2}
	if err := s.SaveCheckpoint(ctx, 1, "cdrs", want); err != nil {
		t.Fatal(err)
	}
	want2 := Checkpoint{Watermark: t0, Pages: 3}
	if err := s.SaveCheckpoint(ctx, 1, "tariffs", want2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Checkpoint(ctx, 1, "cdrs"); got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
	want.NextURL, want.Watermark = "", t0
	if err := s.SaveCheckpoint(ctx, 1, "cdrs", want); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Checkpoint(ctx, 1, "cdrs"); got != want {
		t.Fatalf("replaced: got %+v want %+v", got, want)
	}
	if got, _ := s.Checkpoint(ctx, 1, "tariffs"); got != want2 {
		t.Fatalf("other module: got %+v", got)
	}
}

func TestLatestTariffRaw(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	if _, err := s.LatestTariffRaw(ctx, "NL", "ABC", "T1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tariff: %v", err)
	}
	for _, lu := range []string{"2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z"} {
		raw := []byte(`{"country_code":"NL","party_id":"ABC","id":"T1","currency":"EUR","elements":[{"price_components":[{"type":"ENERGY","price":0.3,"step_size":1}]}],"last_updated":"` + lu + `"}`)
		r := ocpi.Received{Source: ocpi.Source{Channel: ocpi.ChannelPush}, Raw: raw}
		ocpi.DecodeReceived(&r, ocpi.Hint{})
		if out, err := s.Save(ctx, []ocpi.Received{r}); err != nil || out[0] != ocpi.OutcomeAccepted {
			t.Fatalf("save: %v %v %v", out, err, r.Problems)
		}
	}
	raw, err := s.LatestTariffRaw(ctx, "nl", "abc", "t1")
	if err != nil || !strings.Contains(string(raw), "2024-03-01") {
		t.Fatalf("latest: %s %v", raw, err)
	}
}

// TestHubClientsRoundTrip: the parties a hub fronts survive a reopen of the
// partner row, through SaveHubClients and through UpdatePartner alike.
func TestHubClientsRoundTrip(t *testing.T) {
	s := openMem(t)
	ctx := context.Background()
	hub, err := s.AddPartner(ctx, ocpi.Connection{CountryCode: "DE", PartyID: "HUB", Role: "HUB", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Partner(ctx, "DE", "HUB", ""); got.HubClients != nil || !got.HubClientsAt.IsZero() {
		t.Fatalf("a new hub fronts %v", got.HubClients)
	}
	clients := []ocpi.ClientInfo{
		{CountryCode: "DE", PartyID: "AAA", Role: "CPO", Status: ocpi.ClientConnected, LastUpdated: t0},
		{CountryCode: "NL", PartyID: "BBB", Role: "CPO", Status: ocpi.ClientOffline, LastUpdated: t0.Add(time.Minute)},
	}
	at := t0.Add(time.Hour)
	if err := s.SaveHubClients(ctx, hub.ID, clients, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.Partner(ctx, "DE", "HUB", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(clients, got.HubClients); diff != "" || !got.HubClientsAt.Equal(at) {
		t.Fatalf("hub clients at %v (-want +got):\n%s", got.HubClientsAt, diff)
	}
	if !got.MayWriteFor("nl", "bbb") || got.MayWriteFor("FR", "CCC") {
		t.Errorf("MayWriteFor does not follow the hub's clients")
	}
	got.HubClients = got.HubClients[:1]
	if err := s.UpdatePartner(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Partner(ctx, "DE", "HUB", ""); len(again.HubClients) != 1 {
		t.Errorf("after UpdatePartner: %v", again.HubClients)
	}
	if err := s.SaveHubClients(ctx, 999, clients, at); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown partner: %v", err)
	}
}
