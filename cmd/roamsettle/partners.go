package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roamsettle/roamsettle/ingest/receiver"
	"github.com/roamsettle/roamsettle/ocpi"
)

func runPartners(ctx context.Context, env *Env, args []string) error {
	const usage = "Usage: roamsettle partners add|list|remove [flags]\n\n" +
		"Manages the OCPI partners allowed to connect: `add` registers one and prints a fresh registration\n" +
		"token A to hand over out of band, `list` shows them, `remove` unregisters one.\n" +
		"Run `roamsettle partners <add|list|remove> --help` for the flags."
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(env.Stderr, usage)
		return flag.ErrHelp
	case "add":
		return runPartnersAdd(ctx, env, args[1:])
	case "list":
		return runPartnersList(ctx, env, args[1:])
	case "remove":
		return runPartnersRemove(ctx, env, args[1:])
	}
	fmt.Fprintf(env.Stderr, "roamsettle partners: unknown subcommand %q (want add, list or remove)\n", args[0])
	return errUsage
}

func runPartnersAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "partners add", "",
		"Registers a partner and prints a fresh registration token (token A) to hand over with our versions URL.\n"+
			"Only the token's SHA-256 is stored: the printed token cannot be shown again.")
	dbf := addDBFlags(fs)
	country := fs.String("country", "", "the partner's country code, e.g. NL")
	party := fs.String("party", "", "the partner's party id, e.g. ABC")
	role := fs.String("role", "CPO", "the partner's role: CPO, EMSP, HUB, NSP or OTHER")
	name := fs.String("name", "", "the partner's name")
	version := fs.String("version", "", "the OCPI version to use (default: the highest common one)")
	authMode := fs.String("auth-mode", "auto", "Authorization header encoding: raw, base64 or auto")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !countryRe.MatchString(*country) || !partyRe.MatchString(*party) {
		fmt.Fprintln(env.Stderr, "roamsettle partners add: --country (2 letters) and --party (3 characters) are required")
		return errUsage
	}
	r := strings.ToUpper(*role)
	switch r {
	case "CPO", "EMSP", "HUB", "NSP", "OTHER":
	default:
		return fmt.Errorf("--role %q: want CPO, EMSP, HUB, NSP or OTHER", *role)
	}
	switch ocpi.Version(*version) {
	case "", ocpi.V211, ocpi.V221, ocpi.V230:
	default:
		return fmt.Errorf("--version %q: want 2.1.1, 2.2.1 or 2.3.0", *version)
	}
	mode, err := ocpi.ParseAuthMode(*authMode)
	if err != nil {
		return err
	}
	db, _, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	token := receiver.NewToken()
	c, err := db.AddPartner(ctx, ocpi.Connection{CountryCode: *country, PartyID: *party, Role: r, Name: *name,
		Version: ocpi.Version(*version), TokenA: receiver.Hash(token), AuthMode: mode})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "partner %s (%s) added\ntoken A: %s\n", c.Party(), c.Role, token)
	return nil
}

func runPartnersList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "partners list", "", "Lists partners: party, role, version, state and endpoints, and for a hub the parties it\n"+
		"fronts (whose objects it may deliver). Never tokens.")
	dbf := addDBFlags(fs)
	all := fs.Bool("all", false, "include removed and unregistered partners")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, _, err := dbf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ps, err := db.Partners(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTY\tROLE\tNAME\tVERSION\tSTATE\tAUTH\tENDPOINTS\tVERSIONS URL")
	var hubs []string
	for _, p := range ps {
		state := "awaiting registration"
		switch {
		case p.UnregisteredAt != nil:
			if !*all {
				continue
			}
			state = "removed " + p.UnregisteredAt.Format(time.DateOnly)
		case p.Registered():
			state = "registered " + p.RegisteredAt.Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", p.Party(), p.Role, orDash(p.Name), orDash(string(p.Version)),
			state, p.AuthMode, len(p.Endpoints), orDash(p.VersionsURL))
		if p.IsHub() {
			when := "not read yet: `roamsettle pull hubclientinfo --partner " + p.Party() + "`"
			if !p.HubClientsAt.IsZero() {
				when = "hubclientinfo of " + p.HubClientsAt.Format(time.DateTime) + " UTC"
			}
			hubs = append(hubs, fmt.Sprintf("hub %s fronts %s (%s)", p.Party(), fronted(p), when))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, h := range hubs {
		fmt.Fprintln(env.Stdout, h)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runPartnersRemove(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "partners remove", "", "Removes a partner: every token of it stops working. Its data stays.")
	dbf := addDBFlags(fs)
	country := fs.String("country", "", "the partner's country code")
	party := fs.String("party", "", "the partner's party id")
	role := fs.String("role", "", "only this role (default: every role of the party)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !countryRe.MatchString(*country) || !partyRe.MatchString(*party) {
		fmt.Fprintln(env.Stderr, "roamsettle partners remove: --country and --party are required")
		return errUsage
	}
	db, _, err := dbf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RemovePartner(ctx, *country, *party, strings.ToUpper(*role), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "partner %s removed\n", ocpi.PartyKey(*country, *party))
	return nil
}

// secretBox seals the tokens partners give us (we must present them again,
// so they cannot be hashed) with AES-256-GCM under a key kept outside the
// database: ROAMSETTLE_SECRET_KEY (64 hex digits) or the file <db>.key,
// created with mode 0600 on first use.
type secretBox struct{ aead cipher.AEAD }

func openSecretBox(dbPath string) (*secretBox, error) {
	var key []byte
	if hexKey := os.Getenv("ROAMSETTLE_SECRET_KEY"); hexKey != "" {
		k, err := hex.DecodeString(hexKey)
		if err != nil || len(k) != 32 {
			return nil, errors.New("ROAMSETTLE_SECRET_KEY must be 64 hex digits")
		}
		key = k
	} else {
		path := dbPath + ".key"
		if dbPath == ":memory:" || dbPath == "" {
			key = make([]byte, 32)
			rand.Read(key)
		} else if k, err := os.ReadFile(path); err == nil {
			if key, err = hex.DecodeString(strings.TrimSpace(string(k))); err != nil || len(key) != 32 {
				return nil, fmt.Errorf("%s: not a 64-hex-digit key", path)
			}
		} else if errors.Is(err, os.ErrNotExist) {
			key = make([]byte, 32)
			rand.Read(key)
			if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("secret key: %w", err)
			}
		} else {
			return nil, fmt.Errorf("secret key: %w", err)
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &secretBox{aead: aead}, nil
}

func (b *secretBox) Seal(token string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return b.aead.Seal(nonce, nonce, []byte(token), []byte("roamsettle token B")), nil
}

func (b *secretBox) Open(sealed []byte) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed token too short")
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte("roamsettle token B"))
	if err != nil {
		return "", errors.New("cannot open the partner's token: wrong key (ROAMSETTLE_SECRET_KEY or <db>.key)")
	}
	return string(plain), nil
}

// fronted lists the parties a hub fronts with their status, or "-".
func fronted(c ocpi.Connection) string {
	var parts []string
	for _, r := range c.Roles {
		if k := ocpi.PartyKey(r.CountryCode, r.PartyID); k != c.Party() && !slices.Contains(parts, k) {
			parts = append(parts, k)
		}
	}
	for _, ci := range c.HubClients {
		parts = append(parts, ci.Party()+" "+strings.ToLower(ci.Status))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
