package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/store"
)

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "status", "",
		"Reports what the database holds, per partner: CDRs (and how many a finding blocks), tariff, location\n"+
			"and invoice reconciliation versions, the last receipts and pulls, rejects, conflicts and findings by\n"+
			"rule. --json prints one JSON object that other tools read (fields are only ever added).")
	dbf := addDBFlags(fs)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, _, err := dbf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(env.Stdout, st)
	return nil
}

func printStatus(w io.Writer, st *store.Status) {
	t := st.Totals
	fmt.Fprintf(w, "database %s (schema %d)\n", st.Database, st.SchemaVersion)
	fmt.Fprintf(w, "stored: %d CDRs (%d blocked by a finding), %d tariff versions, %d location versions, %d invoice reconciliation versions\n",
		t.CDRs, t.BlockedCDRs, t.TariffVersions, t.LocationVersions, t.InvoiceReconciliations)
	fmt.Fprintf(w, "received: %d payloads (%d distinct), last %s; rejected %d, conflicts %d, findings %d\n",
		t.Receipts, t.RawPayloads, when(t.LastReceivedAt), t.Rejected, t.Conflicts, t.Findings)
	if len(st.Partners) > 0 {
		fmt.Fprintf(w, "\n%-8s %-14s %-12s %-12s %-6s %-8s %-9s %-26s %s\n", "partner", "CDRs (blocked)", "tariffs/ver",
			"locations/ver", "IRRs", "rejected", "conflicts", "last received", "connection, pulls")
	}
	for _, p := range st.Partners {
		conn := "-"
		if c := p.Connection; c != nil {
			conn = strings.ToLower(c.Role) + " " + c.State
		}
		for _, pl := range p.Pulls {
			state := "done"
			if pl.Pending {
				state = "resumes"
			}
			conn += fmt.Sprintf("; %s pulled %s (%s)", pl.Module, pl.LastAt.Format(time.RFC3339), state)
		}
		last := when(p.LastReceivedAt)
		fmt.Fprintf(w, "%-8s %-14s %-12s %-12s %-6d %-8d %-9d %-26s %s\n", p.Party,
			fmt.Sprintf("%d (%d)", p.CDRs.Count, p.CDRs.Blocked),
			fmt.Sprintf("%d/%d", p.Tariffs.Objects, p.Tariffs.Versions),
			fmt.Sprintf("%d/%d", p.Locations.Objects, p.Locations.Versions),
			p.InvoiceReconciliations.Versions, p.Rejected, p.Conflicts, last, conn)
	}
	if len(st.FindingsByRule) > 0 {
		fmt.Fprintln(w, "\nfindings on stored objects, by rule (blocking pricing):")
		for _, r := range statusKeys(st.FindingsByRule) {
			fmt.Fprintf(w, "  %-18s %d (%d)\n", r, st.FindingsByRule[r].Count, st.FindingsByRule[r].Blocking)
		}
	}
	if len(st.RejectsByRule) > 0 {
		fmt.Fprintln(w, "\nproblems of rejected payloads, by rule (roamsettle rejects lists them):")
		for _, r := range statusKeys(st.RejectsByRule) {
			fmt.Fprintf(w, "  %-18s %d\n", r, st.RejectsByRule[r])
		}
	}
	if len(st.ConflictsByKind) > 0 {
		fmt.Fprintln(w, "\nconflicts (a different body under a stored identity), by kind:")
		for _, k := range statusKeys(st.ConflictsByKind) {
			fmt.Fprintf(w, "  %-18s %d\n", k, st.ConflictsByKind[k])
		}
	}
}

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func statusKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
