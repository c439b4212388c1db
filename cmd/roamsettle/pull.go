package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

func runPull(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "pull", "cdrs|tariffs|locations|hubclientinfo",
		"Fetches CDRs, tariffs or locations from a registered partner's Sender interface, page by page following\n"+
			"the Link header, with retries on 5xx, timeouts and 429 (honouring Retry-After). Resumes an interrupted\n"+
			"pull where it stopped; --full starts over. A complete tariff pull (the first one, or --full) replaces the\n"+
			"stored list: tariffs the partner no longer returns are marked withdrawn (their versions stay), unless\n"+
			"objects were refused. From a hub, each pull first rereads the parties it fronts (hubclientinfo) and\n"+
			"accepts their objects; `pull hubclientinfo` only rereads that list.\n"+
			"Exits 3 when objects were refused (owned by a party the partner does not serve, rejected, conflicts).")
	dbf := addDBFlags(fs)
	partner := fs.String("partner", "", "the partner as CC-PID, e.g. NL-ABC (required)")
	since := fs.String("since", "", "date_from as an OCPI DateTime (default: where the last pull ended)")
	limit := fs.Int("limit", 100, "page size asked for (the partner may cap it)")
	attempts := fs.Int("attempts", 5, "tries per page on 5xx, 429 and timeouts")
	maxWait := fs.Duration("max-wait", 2*time.Minute, "longest total wait between the tries of one page (Retry-After included)")
	full := fs.Bool("full", false, "start over: drop an unfinished pull and fetch everything (tariffs: withdraw what is no longer returned)")
	// The module may come before the flags (pull cdrs --partner NL-ABC) or after.
	module := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		module, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if module == "" && fs.NArg() == 1 {
		module = fs.Arg(0)
	} else if fs.NArg() != 0 {
		return usageError(fs, env, "one module, then flags: pull cdrs|tariffs|locations|hubclientinfo --partner CC-PID")
	}
	if module == "" {
		return usageError(fs, env, "which module? pull cdrs|tariffs|locations|hubclientinfo --partner CC-PID")
	}
	if _, ok := puller.ModuleKind(module); !ok && module != ocpi.ModuleHubClientInfo {
		return fmt.Errorf("module %q: want cdrs, tariffs, locations or hubclientinfo", module)
	}
	if *partner == "" {
		return usageError(fs, env, "--partner is required: the partner as CC-PID, e.g. NL-ABC (see `roamsettle partners list`)")
	}
	var from time.Time
	if *since != "" {
		t, err := ocpi.ParseDateTime(*since)
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		from = t
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
	if err != nil {
		return err
	}
	if !conn.Registered() || len(conn.TokenBSealed) == 0 {
		return fmt.Errorf("partner %s is not registered: run connect first", conn.Party())
	}
	token, err := box.Open(conn.TokenBSealed)
	if err != nil {
		return err
	}
	client := &puller.Client{Attempts: *attempts, MaxWait: *maxWait, HTTP: &http.Client{Timeout: 60 * time.Second}}
	if module == ocpi.ModuleHubClientInfo {
		return pullHubClients(ctx, env, db, client, conn, token)
	}
	p := &puller.Puller{
		Client:      client,
		Sink:        db,
		Checkpoints: storeCheckpoints{db},
		Tariffs:     storeTariffs{db},
		Hubs:        db,
		PageLimit:   *limit,
		Full:        *full,
		Log:         env.Log,
	}
	st, err := p.Pull(ctx, conn, token, module, from)
	printPullStats(env, module, conn, st, err == nil)
	if err != nil {
		return err
	}
	if n := st.Refused(); n > 0 {
		return &exitError{code: 3, err: fmt.Errorf("%d of %d objects from %s were not stored: %s", n, st.Objects, conn.Party(), refusedWhy(conn, st))}
	}
	return nil
}

// usageError prints the flags and one line saying what is missing.
func usageError(fs *flag.FlagSet, env *Env, why string) error {
	fs.Usage()
	fmt.Fprintf(env.Stderr, "\nroamsettle %s: %s\n", fs.Name(), why)
	return errUsage
}

func printPullStats(env *Env, module string, conn ocpi.Connection, st puller.Stats, ok bool) {
	if st.HubClients >= 0 {
		fmt.Fprintf(env.Stdout, "%s is a hub fronting %d parties%s\n", conn.Party(), st.HubClients, hubListNote(st))
	}
	resumed := ""
	if st.Resumed {
		resumed = " (resumed)"
	}
	fmt.Fprintf(env.Stdout, "pulled %s from %s%s: %d pages, %d objects: accepted %d, duplicates %d, conflicts %d, rejected %d (of which not ours %d)\n",
		module, conn.Party(), resumed, st.Pages, st.Objects, st.Outcomes[ocpi.OutcomeAccepted], st.Outcomes[ocpi.OutcomeDuplicate],
		st.Outcomes[ocpi.OutcomeConflict], st.Outcomes[ocpi.OutcomeRejected], st.Ignored)
	switch {
	case st.Complete && ok:
		fmt.Fprintf(env.Stdout, "complete tariff list: %d stored tariffs no longer returned, marked withdrawn\n", st.Withdrawn)
	case st.Incomplete != "":
		fmt.Fprintf(env.Stdout, "tariff list not taken as complete, nothing withdrawn: %s\n", st.Incomplete)
	}
}

func hubListNote(st puller.Stats) string {
	note := ""
	if st.HubRefresh != nil {
		note = " (stored list: could not reread it: " + st.HubRefresh.Error() + ")"
	}
	if len(st.HubSkipped) > 0 {
		note += fmt.Sprintf(" (%d invalid entries left out, first: %s)", len(st.HubSkipped), st.HubSkipped[0])
	}
	return note
}

// refusedWhy says what was refused and where to look.
func refusedWhy(conn ocpi.Connection, st puller.Stats) string {
	var parts []string
	if st.Ignored > 0 {
		owners := make([]string, 0, len(st.Foreign))
		for k, n := range st.Foreign {
			owners = append(owners, fmt.Sprintf("%s %d", k, n))
		}
		slices.Sort(owners)
		what := "a party this connection does not serve"
		if conn.IsHub() {
			what = "a party the hub does not front (`roamsettle partners list` shows those it does)"
		}
		parts = append(parts, fmt.Sprintf("%d owned by %s: %s", st.Ignored, what, strings.Join(owners, ", ")))
	}
	if n := st.Outcomes[ocpi.OutcomeRejected] - st.Ignored; n > 0 {
		parts = append(parts, fmt.Sprintf("%d rejected (see `roamsettle rejects`)", n))
	}
	if n := st.Outcomes[ocpi.OutcomeConflict]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d in conflict with a stored CDR of the same id", n))
	}
	return strings.Join(parts, "; ")
}

// pullHubClients rereads the parties a hub fronts and prints them.
func pullHubClients(ctx context.Context, env *Env, db *store.Store, client *puller.Client, conn ocpi.Connection, token string) error {
	if !conn.IsHub() {
		return fmt.Errorf("%s is registered as %s, not as a hub: it has no hubclientinfo", conn.Party(), conn.Role)
	}
	if _, ok := (ocpi.VersionDetails{Endpoints: conn.Endpoints}).Find(ocpi.ModuleHubClientInfo, ocpi.InterfaceSender); !ok {
		return fmt.Errorf("hub %s publishes no hubclientinfo sender endpoint; it fronts the parties of its credentials: %s",
			conn.Party(), fronted(conn))
	}
	conn, skipped, err := puller.RefreshHub(ctx, client, db, conn, token, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "hub %s fronts %d parties: %s\n", conn.Party(), len(conn.HubClients), fronted(conn))
	for _, s := range skipped {
		fmt.Fprintf(env.Stderr, "roamsettle pull: hubclientinfo entry left out: %s\n", s)
	}
	return nil
}

// storeCheckpoints adapts the store's checkpoints to the puller's.
type storeCheckpoints struct{ db *store.Store }

func (c storeCheckpoints) Checkpoint(ctx context.Context, id int64, module string) (puller.Checkpoint, error) {
	cp, err := c.db.Checkpoint(ctx, id, module)
	return puller.Checkpoint(cp), err
}

func (c storeCheckpoints) SaveCheckpoint(ctx context.Context, id int64, module string, cp puller.Checkpoint) error {
	return c.db.SaveCheckpoint(ctx, id, module, store.Checkpoint(cp))
}

// storeTariffs adapts the store's tariffs to what a complete tariff pull
// replaces.
type storeTariffs struct{ db *store.Store }

// StoredTariffs lists a party's tariffs with the last_updated of their
// newest version and their latest withdrawal.
func (t storeTariffs) StoredTariffs(ctx context.Context, cc, pid string) ([]puller.StoredTariff, error) {
	versions, err := t.db.PublishedTariffs(ctx, cc, pid)
	if err != nil {
		return nil, err
	}
	var out []puller.StoredTariff
	for _, v := range versions { // ordered by owner, id, last_updated
		if n := len(out); n > 0 && out[n-1].CountryCode == v.CountryCode && out[n-1].PartyID == v.PartyID && out[n-1].ID == v.ID {
			out[n-1].LastUpdated = v.LastUpdated
			continue
		}
		out = append(out, puller.StoredTariff{CountryCode: v.CountryCode, PartyID: v.PartyID, ID: v.ID, LastUpdated: v.LastUpdated})
	}
	for i := range out {
		at, ok, err := t.db.TariffWithdrawnAt(ctx, out[i].CountryCode, out[i].PartyID, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].WithdrawnAt, out[i].Withdrawn = at, ok
	}
	return out, nil
}

func (t storeTariffs) WithdrawTariff(ctx context.Context, cc, pid, id string, at time.Time) error {
	return t.db.WithdrawTariff(ctx, cc, pid, id, at)
}
