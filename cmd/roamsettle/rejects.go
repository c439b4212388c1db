package main

import (
	"context"
	"encoding/hex"
	"fmt"
)

func runRejects(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "rejects", "",
		"Lists the payloads that could not be stored as objects, most recent first: one line per problem\n"+
			"naming the source, the record, the field path and the rule. --raw also prints the payload as received.")
	dbf := addDBFlags(fs)
	limit := fs.Int("limit", 50, "at most this many lines")
	raw := fs.Bool("raw", false, "print each payload's raw bytes (the first 2 KiB) under its line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, _, err := dbf.openExisting(ctx)
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
