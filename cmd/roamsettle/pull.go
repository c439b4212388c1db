package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/store"
)

func runPull(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "pull", "cdrs|tariffs|locations",
		"Fetches CDRs, tariffs or locations from a registered partner's Sender interface, page by page following\n"+
			"the Link header, with retries on 5xx and timeouts. Resumes an interrupted pull where it stopped.\n"+
			"A complete tariff pull (the first one, or --full) replaces the stored list: tariffs the partner no\n"+
			"longer returns are marked withdrawn (their versions stay).")
	dbf := addDBFlags(fs)
	partner := fs.String("partner", "", "the partner as CC-PID, e.g. NL-ABC")
	since := fs.String("since", "", "date_from as an OCPI DateTime (default: where the last pull ended)")
	limit := fs.Int("limit", 100, "page size asked for (the partner may cap it)")
	attempts := fs.Int("attempts", 5, "tries per page on 5xx and timeouts")
	full := fs.Bool("full", false, "ignore where the last pull ended and fetch everything (tariffs: withdraw what is no longer returned)")
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
		module = ""
	}
	if module == "" || *partner == "" {
		fs.Usage()
		return errUsage
	}
	if _, ok := puller.ModuleKind(module); !ok {
		return fmt.Errorf("module %q: want cdrs, tariffs or locations", module)
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
	p := &puller.Puller{
		Client:      &puller.Client{Attempts: *attempts, HTTP: &http.Client{Timeout: 60 * time.Second}},
		Sink:        db,
		Checkpoints: storeCheckpoints{db},
		Tariffs:     storeTariffs{db},
		PageLimit:   *limit,
		Full:        *full,
		Log:         env.Log,
	}
	st, err := p.Pull(ctx, conn, token, module, from)
	resumed := ""
	if st.Resumed {
		resumed = " (resumed)"
	}
	fmt.Fprintf(env.Stdout, "pulled %s from %s%s: %d pages, %d objects: accepted %d, duplicates %d, conflicts %d, rejected %d, not ours %d\n",
		module, conn.Party(), resumed, st.Pages, st.Objects, st.Outcomes[ocpi.OutcomeAccepted], st.Outcomes[ocpi.OutcomeDuplicate],
		st.Outcomes[ocpi.OutcomeConflict], st.Outcomes[ocpi.OutcomeRejected], st.Ignored)
	if st.Complete && err == nil {
		fmt.Fprintf(env.Stdout, "complete tariff list: %d stored tariffs no longer returned, marked withdrawn\n", st.Withdrawn)
	}
	return err
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
