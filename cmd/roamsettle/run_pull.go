package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/roamsettle/roamsettle/ingest/puller"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/settle"
	"github.com/roamsettle/roamsettle/store"
)

// pullModules are pulled before a run, in this order: the tariffs and
// locations CDRs are priced with before the CDRs themselves.
var pullModules = []string{ocpi.ModuleTariffs, ocpi.ModuleLocations, ocpi.ModuleCDRs}

// pullPartner fetches from a registered partner what it has for us since
// the last pull (each module resumes from its checkpoint), as `roamsettle
// pull` does, before a run. A module the partner publishes no sender for
// is skipped.
func pullPartner(ctx context.Context, env *Env, db *store.Store, dbPath string, p settle.Party) error {
	conn, err := db.Partner(ctx, p.CountryCode, p.PartyID, "")
	if err != nil {
		return err
	}
	if !conn.Registered() || len(conn.TokenBSealed) == 0 {
		return fmt.Errorf("partner %s is not registered: run connect first", conn.Party())
	}
	box, err := openSecretBox(dbPath)
	if err != nil {
		return err
	}
	token, err := box.Open(conn.TokenBSealed)
	if err != nil {
		return err
	}
	pl := &puller.Puller{
		Client:      &puller.Client{Attempts: 5, MaxWait: 2 * time.Minute, HTTP: &http.Client{Timeout: 60 * time.Second}},
		Sink:        db,
		Checkpoints: storeCheckpoints{db},
		Tariffs:     storeTariffs{db},
		Hubs:        db,
		PageLimit:   100,
		Log:         env.Log,
	}
	for _, m := range pullModules {
		if _, ok := (ocpi.VersionDetails{Endpoints: conn.Endpoints}).Find(m, ocpi.InterfaceSender); !ok {
			continue
		}
		st, err := pl.Pull(ctx, conn, token, m, time.Time{})
		env.Log.Info("pulled before the run", "partner", conn.Party(), "module", m, "objects", st.Objects, "refused", st.Refused())
		if err != nil {
			return fmt.Errorf("pull %s: %w", m, err)
		}
	}
	return nil
}
