package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ingest/receiver"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

func runConnect(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "connect", "",
		"Starts the OCPI credentials handshake with a partner: with the partner's token A, reads its versions,\n"+
			"picks the highest common version, sends our credentials with a fresh token, and stores the partner's\n"+
			"token (sealed) and endpoints. The partner calls our versions endpoint back during the handshake, so\n"+
			"connect serves it on --listen for the duration (stop `serve` first: the database has one writer).")
	dbf := addDBFlags(fs)
	partner := fs.String("partner", "", "the partner as CC-PID, e.g. NL-ABC")
	role := fs.String("role", "CPO", "the partner's role, when it is not registered yet")
	versionsURL := fs.String("url", "", "the partner's versions URL")
	tokenA := fs.String("token", "", "the token A the partner gave us")
	version := fs.String("version", "", "OCPI version to use (default: the highest common one)")
	var f serveFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *partner == "" || *versionsURL == "" || *tokenA == "" {
		fmt.Fprintln(env.Stderr, "roamsettle connect: --partner, --url and --token are required")
		return errUsage
	}
	cc, pid, err := parseParty(*partner)
	if err != nil {
		return err
	}
	db, cfg, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	box, err := openSecretBox(cfg.Database)
	if err != nil {
		return err
	}
	conn, err := db.Partner(ctx, cc, pid, "")
	if errors.Is(err, store.ErrNotFound) {
		conn, err = db.AddPartner(ctx, ocpi.Connection{CountryCode: cc, PartyID: pid, Role: strings.ToUpper(*role), AuthMode: ocpi.AuthAuto})
	}
	if err != nil {
		return err
	}
	if *version != "" {
		conn.Version = ocpi.Version(*version)
	}
	e, err := startReceiver(env, db, box, f)
	if err != nil {
		return err
	}
	defer e.stop(5 * time.Second)
	selfCC, selfPID, _ := parseParty(f.self)
	h := &puller.Handshake{
		Client:   &puller.Client{Attempts: 3, HTTP: &http.Client{Timeout: 30 * time.Second}},
		Partners: db,
		Sealer:   box,
		Ours: ocpi.Credentials{URL: e.versions, Roles: []ocpi.CredentialsRole{{Role: "EMSP", CountryCode: selfCC,
			PartyID: selfPID, BusinessDetails: ocpi.BusinessDetails{Name: f.selfName}}}},
		Ready: e.srv.ReloadPartners,
	}
	conn, err = h.Connect(ctx, conn, *versionsURL, *tokenA, receiver.NewToken())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "connected to %s with OCPI %s: %d endpoints\n", conn.Party(), conn.Version, len(conn.Endpoints))
	for _, ep := range conn.Endpoints {
		fmt.Fprintf(env.Stdout, "  %-22s %-8s %s\n", ep.Identifier, orDash(ep.Role), ep.URL)
	}
	return nil
}
