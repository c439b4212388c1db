package main

import (
	"context"
	"errors"
	"fmt"
	"net"
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
			"token (sealed), endpoints, party and role as its credentials state them (a hub is registered as HUB, and\n"+
			"the parties it fronts are read from its hubclientinfo). The partner may call our versions endpoint back\n"+
			"during the handshake, so connect listens on --listen until it ends; if that address is busy it says so\n"+
			"and goes on (a partner that calls back then fails the handshake). Stop `serve` first: the database has\n"+
			"one writer.")
	dbf := addDBFlags(fs)
	partner := fs.String("partner", "", "the partner as CC-PID (optional: taken from its credentials; when given, they must list it)")
	role := fs.String("role", "CPO", "the partner's role for OCPI 2.1.1, whose credentials carry none")
	versionsURL := fs.String("url", "", "the partner's versions URL")
	tokenA := fs.String("token", "", "the token A the partner gave us")
	version := fs.String("version", "", "OCPI version to use (default: the highest common one)")
	var f serveFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *versionsURL == "" || *tokenA == "" {
		return usageError(fs, env, "--url (the partner's versions URL) and --token (the token A it gave us) are required")
	}
	self, err := f.selfRoles()
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
	conn := ocpi.Connection{Role: strings.ToUpper(*role), AuthMode: ocpi.AuthAuto, Version: ocpi.Version(*version)}
	if *partner != "" {
		cc, pid, err := parseParty(*partner)
		if err != nil {
			return err
		}
		conn.CountryCode, conn.PartyID = cc, pid
		if stored, err := db.Partner(ctx, cc, pid, ""); err == nil {
			conn = stored
			if *version != "" {
				conn.Version = ocpi.Version(*version)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	h := &puller.Handshake{
		Client: &puller.Client{Attempts: 3, HTTP: &http.Client{Timeout: 30 * time.Second}},
		Sealer: box,
	}
	if ln, err := net.Listen("tcp", f.listen); err != nil {
		h.Ours = ocpi.Credentials{URL: f.baseURL(f.listen) + "/ocpi/versions", Roles: self}
		fmt.Fprintf(env.Stderr, "roamsettle connect: cannot listen on %s (%v): going on without; a partner that calls our versions "+
			"endpoint back during the handshake will fail it (free the port or pass --listen)\n", f.listen, err)
	} else {
		e, err := serveOn(env, db, box, f, ln)
		if err != nil {
			return err
		}
		defer e.stop(5 * time.Second)
		h.Ours = ocpi.Credentials{URL: e.versions, Roles: self}
		h.Ready = e.srv.Expect
		fmt.Fprintf(env.Stdout, "listening on %s until the handshake ends: the partner may read our versions endpoint %s with the "+
			"token we send it; it is also where the partner will push to `serve` (--public-url sets it)\n", ln.Addr(), e.versions)
	}
	conn, note, err := h.Connect(ctx, conn, *versionsURL, *tokenA, receiver.NewToken())
	if err != nil {
		return err
	}
	if conn, err = savePartner(ctx, db, conn); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "connected to %s with OCPI %s: %d endpoints\n", note, conn.Version, len(conn.Endpoints))
	for _, ep := range conn.Endpoints {
		fmt.Fprintf(env.Stdout, "  %-22s %-8s %s\n", ep.Identifier, orDash(ep.Role), ep.URL)
	}
	if conn.IsHub() {
		return connectHub(ctx, env, db, box, h.Client, conn)
	}
	return nil
}

// savePartner stores a connection made by connect: over the active row of
// the same party when there is one (its pull checkpoints stay), else as a
// new partner.
func savePartner(ctx context.Context, db *store.Store, conn ocpi.Connection) (ocpi.Connection, error) {
	if conn.ID == 0 {
		stored, err := db.Partner(ctx, conn.CountryCode, conn.PartyID, "")
		switch {
		case err == nil:
			conn.ID, conn.CreatedAt = stored.ID, stored.CreatedAt
		case errors.Is(err, store.ErrNotFound):
			return db.AddPartner(ctx, conn)
		default:
			return conn, err
		}
	}
	return conn, db.UpdatePartner(ctx, conn)
}

// connectHub reads the parties a freshly connected hub fronts.
func connectHub(ctx context.Context, env *Env, db *store.Store, box *secretBox, client *puller.Client, conn ocpi.Connection) error {
	if _, ok := (ocpi.VersionDetails{Endpoints: conn.Endpoints}).Find(ocpi.ModuleHubClientInfo, ocpi.InterfaceSender); !ok {
		fmt.Fprintf(env.Stdout, "hub %s publishes no hubclientinfo: it fronts the parties of its credentials: %s\n", conn.Party(), fronted(conn))
		return nil
	}
	token, err := box.Open(conn.TokenBSealed)
	if err != nil {
		return err
	}
	conn, skipped, err := puller.RefreshHub(ctx, client, db, conn, token, time.Now())
	if err != nil {
		return fmt.Errorf("connected, but the hub's client list could not be read (retry with `roamsettle pull hubclientinfo --partner %s`): %w", conn.Party(), err)
	}
	fmt.Fprintf(env.Stdout, "hub %s fronts %d parties: %s\n", conn.Party(), len(conn.HubClients), fronted(conn))
	for _, s := range skipped {
		fmt.Fprintf(env.Stderr, "roamsettle connect: hubclientinfo entry left out: %s\n", s)
	}
	return nil
}
