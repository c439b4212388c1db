package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/roamsettle/roamsettle/ingest"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/pricing"
	"github.com/roamsettle/roamsettle/reconcile"
)

func runPrice(ctx context.Context, env *Env, args []string) error {
	if hasFlag(args, "db") {
		return runPriceStored(ctx, env, args) // a stored CDR: price_db.go
	}
	fs := newFlagSet(env, "price", "--cdr C.json [--tariff T.json]",
		"Prices one CDR (OCPI 2.1.1, 2.2.1 or 2.3.0) against a tariff and explains the amount. Files hold a JSON\n"+
			"object, a JSON list, NDJSON or OCPI response pages (read as `ingest` reads them); without --tariff the\n"+
			"tariffs embedded in the CDR are used. When --tariff holds several versions of one tariff, the version in\n"+
			"effect at the session start prices (as in reprice). Missing fields that pricing does not need (an id,\n"+
			"token, address) are warnings on stderr; a problem that blocks pricing, or a tariff in another currency\n"+
			"than the CDR, is an error. Restrictions are evaluated in the location's local time: --tz, else the\n"+
			"2.1.1 location's time_zone, else a single-zone country, else the coordinates, else UTC (flagged).")
	cdrPath := fs.String("cdr", "", "the CDR: a CDR object, a one-element list, one NDJSON line or an OCPI response page (required)")
	tariffPath := fs.String("tariff", "", "tariff file: tariff objects as a JSON object or list, NDJSON or OCPI response pages\n(default: the tariffs embedded in the CDR)")
	tzName := fs.String("tz", "", "IANA time zone of the location, e.g. Europe/Berlin (default: from the country or the coordinates)")
	asJSON := fs.Bool("json", false, "print one JSON object: totals under OCPI 2.2.1 CDR names, periods, warnings, billed vs computed")
	explain := fs.Bool("explain", false, "print the full account: per period the local time, the element of each dimension and why\nearlier ones did not apply, step size, taxes, rounding, clamps, and the readings of open points")
	policySpec := fs.String("policy", "default", "pricing policy: default, exact, or key=value pairs separated by commas:\n"+
		"rounding=half_up|half_even, level=total|line|none, step=2.2.1-d2|2.2.1-tag, minor=0..4")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cdrPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	pol, err := parsePolicy(*policySpec)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	// A single-zone country answers exactly and for free; the coordinates
	// (a polygon lookup whose finder takes a second to build) only decide
	// for countries with several zones or none known.
	opts := pricing.Options{Policy: pol, Zones: pricing.ZoneChain{pricing.EmbeddedZone{}, pricing.CountryZones{}, pricing.DefaultCoordinateZones()}}
	if *tzName != "" {
		loc, err := time.LoadLocation(*tzName)
		if err != nil {
			return fmt.Errorf("--tz %q: %w", *tzName, err)
		}
		opts.TimeZone = loc
	}

	cdr, warnings, err := readPriceCDR(*cdrPath, *tariffPath != "")
	if err != nil {
		return err
	}
	tariffs := cdr.Tariffs
	if *tariffPath != "" {
		var tw []string
		var chose bool
		if tariffs, tw, chose, err = readPriceTariffs(*tariffPath, cdr); err != nil {
			return err
		}
		warnings = append(warnings, tw...)
		if chose {
			opts.Readings = []pricing.ReadingCode{pricing.ReadVersionInEffect}
		}
	} else if len(tariffs) == 0 {
		return fmt.Errorf("%s: CDR %s embeds no tariff: give one with --tariff", *cdrPath, orNone(cdr.ID))
	}
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "roamsettle price: warning: %s\n", w)
	}
	res, err := pricing.Price(cdr, tariffs, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", *cdrPath, err)
	}
	cmp := compareBilled(cdr, res)
	switch {
	case *asJSON:
		return writePriceJSON(env.Stdout, res, cmp, *explain)
	case *explain:
		if err := res.Explain(env.Stdout); err != nil {
			return err
		}
		if len(cmp) > 0 {
			fmt.Fprintln(env.Stdout, "billed by the CPO:")
		}
		writeBilled(env.Stdout, res, cmp)
		return nil
	}
	writePriceSummary(env.Stdout, res, cmp)
	return nil
}

func orNone(id string) string {
	if id == "" {
		return "(without id)"
	}
	return id
}

// parsePolicy reads --policy: "default", "exact" or key=value pairs on top
// of the default policy.
func parsePolicy(spec string) (pricing.Policy, error) {
	pol := pricing.DefaultPolicy()
	spec = strings.TrimSpace(spec)
	switch spec {
	case "", "default":
		return pol, nil
	case "exact":
		return pricing.ExactPolicy(), nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return pol, fmt.Errorf("%q is not key=value", kv)
		}
		switch strings.TrimSpace(k) {
		case "rounding", "mode":
			pol.Mode = pricing.RoundingMode(v)
		case "level":
			pol.Level = pricing.RoundingLevel(v)
		case "step":
			pol.Step = pricing.StepReading(v)
		case "minor":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return pol, fmt.Errorf("minor=%q is not a number of decimals", v)
			}
			pol.MinorUnits = n
		default:
			return pol, fmt.Errorf("unknown key %q (want rounding, level, step or minor)", k)
		}
	}
	return pol, pol.Validate()
}

// readObjects returns the objects of a file, cut by ingest's one rule
// (ingest.Split). A record the splitter found broken, or an OCPI error
// page, is an error: a single CDR or tariff file has nothing else to go on.
func readObjects(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs [][]byte
	pages, err := ingest.Split(bytes.NewReader(data), func(r ingest.Record) error {
		if r.Problem != "" {
			return fmt.Errorf("%s: record at byte %d: %s", path, r.Offset, r.Problem)
		}
		objs = append(objs, r.Raw)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pages.ErrorPages > 0 {
		return nil, fmt.Errorf("%s: an OCPI response page with status_code %s, not 1000: not data to price", path, pages.ErrorCode)
	}
	return objs, nil
}

// decodeOwned decodes one object to price (ocpi.Hint.PriceOnly: an id is
// not needed); an object without owner fields (2.1.1) is decoded again under
// the fallback owner.
func decodeOwned(raw []byte, kind ocpi.Kind, fallbackCC, fallbackPID string) ocpi.Decoded {
	out := ocpi.Decode(raw, ocpi.Hint{Kind: kind, PriceOnly: true})
	if !out.Rejected || !out.Problems.Has(ocpi.RuleOwner) || out.Problems.Has(ocpi.RuleKind) {
		return out
	}
	return ocpi.Decode(raw, ocpi.Hint{Kind: kind, CountryCode: fallbackCC, PartyID: fallbackPID, PriceOnly: true})
}

// readPriceCDR reads the one CDR of a file. Problems that block pricing are
// an error naming the file and the field paths; the others are returned as
// warnings. With an explicit tariff, problems of the embedded tariffs do not
// block (they are not used).
func readPriceCDR(path string, tariffGiven bool) (*ocpi.CDR, []string, error) {
	objs, err := readObjects(path)
	if err != nil {
		return nil, nil, err
	}
	if len(objs) != 1 {
		return nil, nil, fmt.Errorf("%s: holds %d objects; price takes one CDR", path, len(objs))
	}
	// 2.1.1 CDRs carry no owner: the owner does not matter for pricing.
	d := decodeOwned(objs[0], ocpi.KindCDR, "ZZ", "ZZZ")
	if d.Rejected {
		return nil, nil, fmt.Errorf("%s: not a CDR that can be priced: %s", path, joinProblems(d.Problems))
	}
	var blocking ocpi.Problems
	var warnings []string
	for _, p := range d.Problems {
		if p.Blocking && !(tariffGiven && strings.HasPrefix(p.Path, "tariffs[")) {
			blocking = append(blocking, p)
			continue
		}
		warnings = append(warnings, path+": "+p.String())
	}
	if len(blocking) > 0 {
		return nil, nil, fmt.Errorf("%s: CDR %s cannot be priced: %s", path, orNone(d.CDR.ID), joinProblems(blocking))
	}
	return d.CDR, warnings, nil
}

// readPriceTariffs reads the tariffs of a file and takes, of each, the
// version in effect at the session start (pricing.SelectVersions, the rule
// reprice applies); it says which version it took when there was a choice
// (chose).
func readPriceTariffs(path string, cdr *ocpi.CDR) (tariffs []ocpi.Tariff, warnings []string, chose bool, err error) {
	objs, err := readObjects(path)
	if err != nil {
		return nil, nil, false, err
	}
	if len(objs) == 0 {
		return nil, nil, false, fmt.Errorf("%s: no tariff in the file", path)
	}
	var all []ocpi.Tariff
	for i, raw := range objs {
		where := path
		if len(objs) > 1 {
			where = fmt.Sprintf("%s[%d]", path, i)
		}
		d := decodeOwned(raw, ocpi.KindTariff, cdr.CountryCode, cdr.PartyID)
		if d.Rejected {
			return nil, nil, false, fmt.Errorf("%s: not a tariff that can be used: %s", where, joinProblems(d.Problems))
		}
		if d.Problems.Blocking() {
			var blocking ocpi.Problems
			for _, p := range d.Problems {
				if p.Blocking {
					blocking = append(blocking, p)
				}
			}
			return nil, nil, false, fmt.Errorf("%s: tariff %s cannot price: %s", where, d.Tariff.ID, joinProblems(blocking))
		}
		for _, p := range d.Problems {
			warnings = append(warnings, where+": "+p.String())
		}
		all = append(all, *d.Tariff)
	}
	tariffs, choices, err := pricing.SelectVersions(cdr.ID, all, cdr.StartDateTime)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range choices {
		switch {
		case c.Versions > 1:
			chose = true
			warnings = append(warnings, fmt.Sprintf("%s: tariff %s: the version of last_updated %s, of %d given, was in effect at the session start %s",
				path, c.ID, ocpi.FormatDateTime(c.LastUpdated), c.Versions, ocpi.FormatDateTime(cdr.StartDateTime)))
		case !c.InEffect:
			warnings = append(warnings, fmt.Sprintf("%s: tariff %s (last_updated %s) was not in effect at the session start %s: used as given",
				path, c.ID, ocpi.FormatDateTime(c.LastUpdated), ocpi.FormatDateTime(cdr.StartDateTime)))
		}
	}
	return tariffs, warnings, chose, nil
}

func joinProblems(ps ocpi.Problems) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// billedRow compares one total the CDR states with the recomputed one.
type billedRow struct {
	Field      string
	Billed     pricing.Amount // as stated
	HasIncl    bool           // the CDR states the amount incl. VAT
	Computed   pricing.Amount
	Difference pricing.Amount // computed - billed at the currency's minor units
	Outcome    reconcile.Outcome
	// TaxesNotVerifiable: the CDR states taxes the tariff does not let
	// pricing compute (it states no tax rate): neither a match nor a
	// difference (reconcile.Difference.TaxesNotVerifiable).
	TaxesNotVerifiable bool
}

func (r billedRow) matches() bool { return r.Outcome != reconcile.Different }

// compareBilled lists the cost totals the CDR states next to the computed
// ones (reconcile's one comparison); a total the CDR does not state is no
// billed amount and has no row.
func compareBilled(cdr *ocpi.CDR, res *pricing.Result) []billedRow {
	cmp := reconcile.CompareCDR(cdr, res)
	t := &res.Totals
	stated := [reconcile.NumFields]*ocpi.Price{cdr.TotalCost, cdr.TotalFixedCost, cdr.TotalEnergyCost, cdr.TotalTimeCost,
		cdr.TotalParkingCost, cdr.TotalReservationCost}
	computed := [reconcile.NumFields]pricing.Amount{t.TotalCost, t.TotalFixedCost, t.TotalEnergyCost, t.TotalTimeCost,
		t.TotalParkingCost, t.TotalReservationCost}
	var rows []billedRow
	for f, d := range cmp {
		p := stated[f]
		if p == nil || d.Outcome == reconcile.NoBilled || d.Outcome == reconcile.NotPriced {
			continue
		}
		rows = append(rows, billedRow{Field: reconcile.Field(f).String(), Billed: pricing.Amount{Excl: p.ExclVAT, Incl: p.InclVAT.Decimal},
			HasIncl: p.InclVAT.Valid, Computed: computed[f], Outcome: d.Outcome, TaxesNotVerifiable: d.TaxesNotVerifiable,
			Difference: pricing.Amount{Excl: reconcile.FromMicro(d.Excl), Incl: reconcile.FromMicro(d.Incl)}})
	}
	return rows
}
