package main

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/roamsettle/roamsettle/store"
)

func runRejects(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "rejects", "",
		"Lists the payloads that could not be stored as objects, most recent first: one line per problem\n"+
			"naming the source, the record, the field path and the rule. --raw also prints the payload as received.")
	configPath := fs.String("config", "", "TOML config file (default ./roamsettle.toml if present)")
	dbPath := fs.String("db", "", "DuckDB database file (default from config: roamsettle.duckdb)")
	limit := fs.Int("limit", 50, "at most this many lines")
	raw := fs.Bool("raw", false, "print each payload's raw bytes (the first 2 KiB) under its line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if *dbPath != "" {
		cfg.Database = *dbPath
	}
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := db.Rejects(ctx, *limit)
	if err != nil {
		return err
	}
	for _, r := range rs {
		fmt.Fprintf(env.Stdout, "%s: record %d: %s (sha256 %s)\n", r.Source.Name, r.Source.Position+1, r.Problem,
			hex.EncodeToString(r.RawSHA256[:6]))
		if *raw {
			b := r.Raw
			if len(b) > 2048 {
				b = b[:2048]
			}
			fmt.Fprintf(env.Stdout, "    %s\n", b)
		}
	}
	if len(rs) == 0 {
		fmt.Fprintln(env.Stdout, "no rejects")
	}
	return nil
}
