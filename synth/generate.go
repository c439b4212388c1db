package synth

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
)

// Config says what to generate. Zero fields take the defaults of
// DefaultConfig; a negative share means none.
type Config struct {
	// CDRs is the number of charging sessions; each gives one CDR. Injected
	// duplicates, conflicting copies and credit CDRs come on top.
	CDRs int
	// Seed fixes every random choice: the same Config gives the same bytes.
	Seed uint64
	// Month is "YYYY-MM"; sessions start in this month.
	Month string
	// ErrorPerMille is the share of sessions, in thousandths, that carry an
	// injected error (listed in ground_truth.csv). 0: 50; negative: none.
	ErrorPerMille int
	// CreditPerMille is the share of clean 2.2+ CDRs followed by a credit
	// CDR. 0: 10; negative: none.
	CreditPerMille int
	// Tokens is the size of the eMSP's token list (0: 2000).
	Tokens int
	// LocationsPerParty is the number of locations of each CPO (0: 24).
	LocationsPerParty int
	// Parties is the number of CPOs (0: 8, at most 20): the eight default
	// parties first, then twelve more European ones (parties.go). The
	// default eight give the same bytes whatever the maximum is.
	Parties int
	// InvoicePerMille is the share of partner invoice lines, in thousandths,
	// with an invoicing error of their own (invoice.go). 0: 20; negative:
	// none.
	InvoicePerMille int
}

// DefaultConfig is a month of 10,000 sessions with 5 % injected errors.
func DefaultConfig() Config {
	return Config{CDRs: 10000, Seed: 1, Month: "2026-10", ErrorPerMille: 50, CreditPerMille: 10,
		Tokens: 2000, LocationsPerParty: 24, InvoicePerMille: 20, Parties: len(defaultParties)}
}

// withDefaults fills zero fields from DefaultConfig and turns negative
// shares into zero.
func (cfg Config) withDefaults() Config {
	def := DefaultConfig()
	if cfg.Month == "" {
		cfg.Month = def.Month
	}
	share := func(v, d int) int {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 0
		}
		return v
	}
	cfg.ErrorPerMille = share(cfg.ErrorPerMille, def.ErrorPerMille)
	cfg.CreditPerMille = share(cfg.CreditPerMille, def.CreditPerMille)
	cfg.InvoicePerMille = share(cfg.InvoicePerMille, def.InvoicePerMille)
	if cfg.Tokens == 0 {
		cfg.Tokens = def.Tokens
	}
	if cfg.LocationsPerParty == 0 {
		cfg.LocationsPerParty = def.LocationsPerParty
	}
	if cfg.Parties == 0 {
		cfg.Parties = def.Parties
	}
	return cfg
}

// ErrorKind names an injected billing error. The names are the error_kind
// column of ground_truth.csv.
type ErrorKind string

const (
	ErrWrongTariffVersion ErrorKind = "wrong_tariff_version"
	ErrWrongPrice         ErrorKind = "wrong_price"
	ErrRounding           ErrorKind = "rounding"
	ErrVAT                ErrorKind = "vat"
	ErrTimeZone           ErrorKind = "time_zone"
	ErrMissingFields      ErrorKind = "missing_fields"
	ErrDuplicate          ErrorKind = "duplicate"
	ErrConflict           ErrorKind = "conflict"
	ErrUnknownToken       ErrorKind = "unknown_token"
)

// ErrorKinds lists every kind, in the order the generator tries them.
var ErrorKinds = []ErrorKind{ErrWrongTariffVersion, ErrWrongPrice, ErrRounding, ErrVAT, ErrTimeZone,
	ErrMissingFields, ErrDuplicate, ErrConflict, ErrUnknownToken}

// KindCount is how often one error kind was injected.
type KindCount struct {
	Kind  ErrorKind `json:"kind"`
	Count int       `json:"count"`
}

// PartySummary describes one CPO and what was written for it.
type PartySummary struct {
	CountryCode  string       `json:"country_code"`
	PartyID      string       `json:"party_id"`
	Name         string       `json:"name"`
	OCPIVersion  ocpi.Version `json:"ocpi_version"`
	Currency     string       `json:"currency"`
	TimeZone     string       `json:"time_zone"`
	Sessions     int          `json:"sessions"`
	CDRLines     int          `json:"cdr_lines"`
	CreditCDRs   int          `json:"credit_cdrs"`
	Tariffs      int          `json:"tariff_versions"`
	Locations    int          `json:"locations"`
	TariffsFile  string       `json:"tariffs_file"`
	LocationFile string       `json:"locations_file"`
	CDRFile      string       `json:"cdrs_file"`
}

// Summary is what Generate wrote; it is also the body of manifest.json.
type Summary struct {
	Generator      string         `json:"generator"`
	Month          string         `json:"month"`
	Seed           uint64         `json:"seed"`
	Sessions       int            `json:"sessions"`
	CDRLines       int            `json:"cdr_lines"`
	CreditCDRs     int            `json:"credit_cdrs"`
	ErrorPerMille  int            `json:"error_per_mille"`
	InjectedErrors int            `json:"injected_errors"`
	ErrorsByKind   []KindCount    `json:"errors_by_kind"`
	EMSP           string         `json:"emsp"`
	Parties        []PartySummary `json:"parties"`
	Files          []string       `json:"files"`
}

const (
	emspCountry = "NL"
	emspParty   = "RSM"
	generatorID = "roamsettle synth 1"
)

type token struct {
	uid, typ, contractID string
	lastUpdated          int64
}

// pending is a line to write a few CDRs later (a duplicate or a conflicting
// copy), so that the copies are not always adjacent.
type pending struct {
	due  int
	line []byte
}

type partyOut struct {
	*party
	file    io.WriteCloser
	w       *bufio.Writer
	sum     *PartySummary
	pending []pending
	idPref  []byte
}

type generator struct {
	cfg        Config
	rng        *rand.Rand
	monthStart int64
	parties    []*partyOut
	cumWeight  []int
	tokens     []token
	pricer     pricer
	sess       session
	cuts       []int64
	buf        []byte
	idBuf      []byte
	gt         *csv.Writer
	gtFile     io.WriteCloser
	inv        *invoices
	create     fileSink
	sum        Summary
	kindCount  [9]int
}

// Generate writes a month of synthetic OCPI data for several CPOs into
// outDir (created if needed) and returns what it wrote. The same cfg gives
// byte-identical files on any machine.
func Generate(ctx context.Context, cfg Config, outDir string) (Summary, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	return generate(ctx, cfg, dirSink(outDir))
}

// fileSink opens one output file by its slash-separated path under the
// output folder.
type fileSink func(rel string) (io.WriteCloser, error)

func dirSink(outDir string) fileSink {
	return func(rel string) (io.WriteCloser, error) {
		path := filepath.Join(outDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		return os.Create(path)
	}
}

func generate(ctx context.Context, cfg Config, create fileSink) (Summary, error) {
	g, err := newGenerator(cfg, create)
	if err != nil {
		return Summary{}, err
	}
	runErr := g.run(ctx)
	closeErr := g.close()
	if err := errors.Join(runErr, closeErr); err != nil {
		return Summary{}, err
	}
	return g.sum, nil
}

func (cfg *Config) validate() (time.Time, error) {
	if cfg.CDRs < 0 {
		return time.Time{}, fmt.Errorf("synth: CDRs must not be negative, got %d", cfg.CDRs)
	}
	if cfg.ErrorPerMille > 1000 || cfg.CreditPerMille > 1000 {
		return time.Time{}, fmt.Errorf("synth: shares are per mille, at most 1000 (errors %d, credits %d)", cfg.ErrorPerMille, cfg.CreditPerMille)
	}
	if cfg.Tokens < 1 || cfg.LocationsPerParty < 1 {
		return time.Time{}, fmt.Errorf("synth: need at least one token and one location per party (tokens %d, locations %d)", cfg.Tokens, cfg.LocationsPerParty)
	}
	m, err := time.Parse("2006-01", cfg.Month)
	if err != nil {
		return time.Time{}, fmt.Errorf("synth: month %q is not YYYY-MM: %w", cfg.Month, err)
	}
	return m, nil
}

// writeFile writes a whole small file through the sink.
func (g *generator) writeFile(rel string, data []byte) error {
	f, err := g.create(rel)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("synth: %s: %w", rel, err)
	}
	return nil
}

func newGenerator(cfg Config, create fileSink) (*generator, error) {
	cfg = cfg.withDefaults()
	month, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	g := &generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x726f616d736574)), monthStart: month.Unix(), create: create}
	monthEnd := month.AddDate(0, 1, 0).Unix()
	if g.inv, err = newInvoices(cfg, create); err != nil {
		return nil, err
	}
	g.sum = Summary{Generator: generatorID, Month: cfg.Month, Seed: cfg.Seed, ErrorPerMille: cfg.ErrorPerMille,
		EMSP: ocpi.PartyKey(emspCountry, emspParty)}
	// Range covered by zone tables and clock boundaries: the month, a day
	// before (local midnights west of UTC) and three after (the longest
	// sessions end after the month).
	rangeStart, rangeEnd := g.monthStart-2*86400, monthEnd+3*86400
	specs, err := partySpecs(cfg.Parties)
	if err != nil {
		return nil, err
	}
	for _, spec := range specs {
		loc, err := loadZone(spec.timeZone)
		if err != nil {
			return nil, err
		}
		cur, err := currencyOf(spec.currency)
		if err != nil {
			return nil, err
		}
		p := &party{partySpec: spec, cur: cur, loc: loc, rangeEnd: rangeEnd}
		p.zone = newZoneTable(loc, rangeStart, rangeEnd)
		y, mo, _ := month.Date()
		for d := 0; ; d++ {
			u := time.Date(y, mo, 1+d, 0, 0, 0, 0, loc).Unix()
			p.dayStart = append(p.dayStart, u)
			if time.Unix(u, 0).In(loc).Month() != mo {
				break // dayStart ends with local midnight after the month
			}
		}
		p.tariffs = buildTariffs(p, g.rng, g.monthStart)
		var conns []*connector
		p.locations, conns = buildLocations(p, g.rng, cfg.LocationsPerParty, g.monthStart)
		p.conns = conns
		po := &partyOut{party: p, sum: &PartySummary{CountryCode: spec.countryCode, PartyID: spec.partyID,
			Name: spec.name, OCPIVersion: spec.version, Currency: spec.currency, TimeZone: spec.timeZone,
			Locations: len(p.locations)}}
		po.idPref = fmt.Appendf(nil, "%s%s%s", spec.countryCode, spec.partyID, month.Format("0601"))
		if err := g.writeStatic(po); err != nil {
			return nil, err
		}
		g.parties = append(g.parties, po)
		total := spec.weight
		if n := len(g.cumWeight); n > 0 {
			total += g.cumWeight[n-1]
		}
		g.cumWeight = append(g.cumWeight, total)
	}
	if err := g.writeTokens(); err != nil {
		return nil, err
	}
	f, err := create("ground_truth.csv")
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	g.gtFile, g.gt = f, csv.NewWriter(bufio.NewWriterSize(f, 64<<10))
	g.gt.Write([]string{"country_code", "party_id", "cdr_id", "error_kind", "field", "billed_value", "correct_value", "note"})
	g.sum.Files = append(g.sum.Files, "tokens.ndjson", "ground_truth.csv")
	return g, nil
}

// writeStatic writes a party's tariffs and locations and opens its CDR file.
func (g *generator) writeStatic(po *partyOut) error {
	var b []byte
	for _, t := range po.tariffs {
		for i := range t.versions {
			b = appendTariff(b, po.party, t, &t.versions[i])
			b = append(b, '\n')
			po.sum.Tariffs++
		}
	}
	po.sum.TariffsFile = po.dir() + "/tariffs.ndjson"
	if err := g.writeFile(po.sum.TariffsFile, b); err != nil {
		return err
	}
	b = b[:0]
	for _, l := range po.locations {
		b = appendLocation(b, po.party, l)
		b = append(b, '\n')
	}
	po.sum.LocationFile = po.dir() + "/locations.ndjson"
	if err := g.writeFile(po.sum.LocationFile, b); err != nil {
		return err
	}
	po.sum.CDRFile = po.dir() + "/cdrs.ndjson"
	f, err := g.create(po.sum.CDRFile)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	po.file, po.w = f, bufio.NewWriterSize(f, 256<<10)
	if err := g.inv.open(g.create, po.dir()+"/invoice.csv"); err != nil {
		return err
	}
	g.sum.Files = append(g.sum.Files, po.sum.TariffsFile, po.sum.LocationFile, po.sum.CDRFile)
	return nil
}

func (g *generator) writeTokens() error {
	var b []byte
	issued := g.monthStart - 200*86400
	for i := range g.cfg.Tokens {
		var raw [7]byte
		for j := range raw {
			raw[j] = byte(g.rng.IntN(256))
		}
		raw[0] %= 0xF0 // uids starting with F are never issued: unknown_token uses them
		t := token{uid: fmt.Sprintf("%X", raw[:]), typ: "RFID",
			contractID:  fmt.Sprintf("%s-%s-C%08d", emspCountry, emspParty, i+1),
			lastUpdated: issued + g.rng.Int64N(150*86400)}
		if g.rng.IntN(100) < 15 {
			t.typ = "APP_USER"
		}
		g.tokens = append(g.tokens, t)
		b = append(b, '{')
		b = appendStrField(b, "country_code", emspCountry)
		b = appendStrField(b, "party_id", emspParty)
		b = appendStrField(b, "uid", t.uid)
		b = appendStrField(b, "type", t.typ)
		b = appendStrField(b, "contract_id", t.contractID)
		b = appendStrField(b, "issuer", "roamsettle Mobility")
		b = append(appendKey(b, "valid"), "true"...)
		b = appendStrField(b, "whitelist", "ALLOWED")
		b = appendDateTime(appendKey(b, "last_updated"), t.lastUpdated)
		b = append(b, '}', '\n')
	}
	return g.writeFile("tokens.ndjson", b)
}

func (g *generator) run(ctx context.Context) error {
	total := g.cumWeight[len(g.cumWeight)-1]
	for i := range g.cfg.CDRs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := g.rng.IntN(total)
		pi := 0
		for r >= g.cumWeight[pi] {
			pi++
		}
		if err := g.session(g.parties[pi]); err != nil {
			return err
		}
	}
	for _, po := range g.parties {
		for _, pd := range po.pending {
			if _, err := po.w.Write(pd.line); err != nil {
				return fmt.Errorf("synth: %s: %w", po.sum.CDRFile, err)
			}
			po.sum.CDRLines++
		}
		po.pending = nil
	}
	return nil
}

func (g *generator) close() error {
	var errs []error
	for _, po := range g.parties {
		if po.w != nil {
			errs = append(errs, po.w.Flush())
		}
		if po.file != nil {
			errs = append(errs, po.file.Close())
		}
		g.sum.Parties = append(g.sum.Parties, *po.sum)
		g.sum.Sessions += po.sum.Sessions
		g.sum.CDRLines += po.sum.CDRLines
		g.sum.CreditCDRs += po.sum.CreditCDRs
	}
	if g.gt != nil {
		g.gt.Flush()
		errs = append(errs, g.gt.Error(), g.gtFile.Close())
	}
	if g.inv != nil {
		errs = append(errs, g.inv.close()...)
		g.sum.Files = append(g.sum.Files, "invoice_truth.csv")
		g.sum.Files = append(g.sum.Files, g.inv.order...)
	}
	for i, k := range ErrorKinds {
		g.sum.ErrorsByKind = append(g.sum.ErrorsByKind, KindCount{Kind: k, Count: g.kindCount[i]})
		g.sum.InjectedErrors += g.kindCount[i]
	}
	g.sum.Files = append(g.sum.Files, "manifest.json")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	m, err := json.MarshalIndent(g.sum, "", "  ")
	if err != nil {
		return fmt.Errorf("synth: manifest: %w", err)
	}
	return g.writeFile("manifest.json", append(m, '\n'))
}
