package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
	"github.com/roamsettle/roamsettle/schedule"
	"github.com/roamsettle/roamsettle/store"
)

// Config is roamsettle.toml. Decoding is strict: an unknown key is a start-up
// error, so a typo never silently falls back to a default.
type Config struct {
	// Database is the DuckDB file (":memory:" for a throw-away run).
	Database string `toml:"database"`
	// Output is the folder for documents, reports and exports.
	Output string `toml:"output"`
	// Partners are the parties roamsettle settles with.
	Partners []PartnerConfig `toml:"partners"`
	// Tokens is the eMSP's token list (OCPI Token NDJSON) reconcile checks
	// CDR tokens against; empty: tokens are not checked.
	Tokens string `toml:"tokens"`
	// Schedule is the [schedule] section (schedule.Config): when it is
	// present, serve runs the nightly settlement; its pull list is also who
	// `roamsettle run` pulls from first.
	Schedule *schedule.Config `toml:"schedule"`
	// Invoicing is the [invoicing] section: our party on documents and the
	// document policy (run_invoicing.go).
	Invoicing *InvoicingConfig `toml:"invoicing"`
}

// PartnerConfig is one party.
type PartnerConfig struct {
	CountryCode string `toml:"country_code"`
	PartyID     string `toml:"party_id"`
	Role        string `toml:"role"`
	Name        string `toml:"name"`
	// Version is the OCPI version the partner speaks ("2.1.1", "2.2.1", "2.3.0").
	Version string `toml:"version"`
	// Pricing policy overrides for re-pricing this partner's CDRs (empty:
	// the digest's default): rounding_mode half_up|half_even,
	// rounding_level total|line, step_reading 2.2.1-d2|2.2.1-tag.
	RoundingMode  string `toml:"rounding_mode"`
	RoundingLevel string `toml:"rounding_level"`
	StepReading   string `toml:"step_reading"`
	// PeriodTimeZone is the IANA zone the partner's settlement periods are
	// read in (a CDR belongs to the period its end_date_time falls in
	// there); empty: UTC.
	PeriodTimeZone string `toml:"period_time_zone"`
	// Reconciliation (reconcile_config.go): the tolerance for billed amounts,
	// the longest plausible session and the layout of the partner's invoices.
	ToleranceMinor  int64              `toml:"tolerance_minor"`
	TolerancePPM    int64              `toml:"tolerance_ppm"`
	MaxSessionHours int                `toml:"max_session_hours"`
	InvoiceColumns  *reconcile.Columns `toml:"invoice_columns"`
	// InvoiceTotals are the partner's invoice totals before VAT by period
	// ("2026-10" = "48210.77"), for invoices that state no amount per line
	// (2.3.0 invoice reconciliation records); --invoice-total wins.
	InvoiceTotals map[string]string `toml:"invoice_totals"`
	// Invoicing is the partner's legal details for statements and invoices
	// ([partners.invoicing], run_invoicing.go).
	Invoicing *PartyDetails `toml:"invoicing"`
}

const defaultConfigFile = "roamsettle.toml"

func defaultConfig() Config {
	return Config{Database: "roamsettle.duckdb", Output: "out"}
}

var (
	countryRe = regexp.MustCompile(`^[A-Za-z]{2}$`)
	partyRe   = regexp.MustCompile(`^[A-Za-z0-9]{3}$`)
)

// loadConfig reads path, or ./roamsettle.toml when path is empty and that
// file exists, over the defaults.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	explicit := path != ""
	if !explicit {
		path = defaultConfigFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return cfg, nil
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return cfg, fmt.Errorf("config %s: unknown key:\n%s", path, sm.String())
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return cfg, fmt.Errorf("config %s:%d:%d: %v", path, row, col, de)
		}
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if !filepath.IsAbs(cfg.Database) && cfg.Database != ":memory:" && explicit {
		cfg.Database = filepath.Join(filepath.Dir(path), cfg.Database)
	}
	return cfg, nil
}

func (c *Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range c.Partners {
		at := fmt.Sprintf("partners[%d]", i)
		if !countryRe.MatchString(p.CountryCode) {
			errs = append(errs, fmt.Errorf("%s.country_code: %q is not a two-letter country code", at, p.CountryCode))
		}
		if !partyRe.MatchString(p.PartyID) {
			errs = append(errs, fmt.Errorf("%s.party_id: %q is not a three-character party id", at, p.PartyID))
		}
		switch strings.ToUpper(p.Role) {
		case "", "CPO", "EMSP", "HUB", "NSP", "OTHER":
		default:
			errs = append(errs, fmt.Errorf("%s.role: %q is not CPO, EMSP, HUB, NSP or OTHER", at, p.Role))
		}
		switch ocpi.Version(p.Version) {
		case "", ocpi.V211, ocpi.V221, ocpi.V230:
		default:
			errs = append(errs, fmt.Errorf("%s.version: %q is not 2.1.1, 2.2.1 or 2.3.0", at, p.Version))
		}
		if _, err := p.pricingPolicy(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		}
		k := ocpi.PartyKey(p.CountryCode, p.PartyID)
		if seen[k] {
			errs = append(errs, fmt.Errorf("%s: party %s listed twice", at, k))
		}
		seen[k] = true
	}
	if c.Schedule != nil {
		if err := c.Schedule.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.validateInvoicing(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseParty reads "NL-ABC", "NL*ABC" or "NLABC" into its country code and
// party id.
func parseParty(s string) (countryCode, partyID string, err error) {
	t := strings.NewReplacer("-", "", "*", "", "/", "").Replace(strings.TrimSpace(s))
	if len(t) != 5 || !countryRe.MatchString(t[:2]) || !partyRe.MatchString(t[2:]) {
		return "", "", fmt.Errorf("party %q: want COUNTRY-PARTY, e.g. NL-ABC", s)
	}
	return strings.ToUpper(t[:2]), strings.ToUpper(t[2:]), nil
}

// dbFlags are the --config and --db flags of every command that opens the
// database.
type dbFlags struct {
	fs         *flag.FlagSet
	config, db *string
}

func addDBFlags(fs *flag.FlagSet) dbFlags {
	return dbFlags{
		fs:     fs,
		config: fs.String("config", "", "TOML config file (default ./roamsettle.toml if present)"),
		db:     fs.String("db", "", "DuckDB database file (default from the config: roamsettle.duckdb)"),
	}
}

// load reads the config with --db applied over it. A command that serve runs
// for a client (admin.go) gets the client's.
func (f dbFlags) load(ctx context.Context) (Config, error) {
	if call := servedCall(ctx); call != nil {
		return call.req.Config, nil
	}
	cfg, err := loadConfig(*f.config)
	if err != nil {
		return cfg, err
	}
	if *f.db != "" {
		cfg.Database = *f.db
	}
	return cfg, nil
}

// open opens the database named by --db or the config, or hands the
// command to the serve that owns it (admin.go).
func (f dbFlags) open(ctx context.Context) (*store.Store, Config, error) {
	cfg, err := f.load(ctx)
	if err != nil {
		return nil, cfg, err
	}
	return openDatabase(ctx, f.fs, cfg, false)
}

// openExisting opens the database for a command that only reads or acts on
// what is stored: a path with no database is an error, never a new empty
// database (DESIGN invariant 8).
func (f dbFlags) openExisting(ctx context.Context) (*store.Store, Config, error) {
	cfg, err := f.load(ctx)
	if err != nil {
		return nil, cfg, err
	}
	return openDatabase(ctx, f.fs, cfg, true)
}
