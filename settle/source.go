package settle

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/roamsettle/roamsettle/reconcile"
)

// Source is what a run reads: the scope's CDRs (as Arrow batches of
// per-CDR headers and of charging periods, in cdr_key ranges), the tariff
// versions and stored locations they are priced with, and, for the few
// CDRs priced one by one, the CDRs themselves. The store implements it.
//
// Batches handed to fn are released when fn returns; strings read from
// them alias their memory and must be copied to be kept.
type Source interface {
	// ScopeKeys returns the smallest and greatest cdr_key of the CDRs the
	// selection holds and how many there are (0, 0, 0 when none).
	ScopeKeys(ctx context.Context, sel *Selection) (minKey, maxKey, n int64, err error)
	// ScopeTariffs returns every published version of the owner's tariffs
	// (every owner's when owner is zero), ordered by owner, id and
	// last_updated, each with its content key and contents.
	ScopeTariffs(ctx context.Context, owner Party) ([]StoredTariff, error)
	// TariffBodies loads tariff contents by content key.
	TariffBodies(ctx context.Context, keys []int64) (map[int64]ocpi.Tariff, error)
	// LocationVersions returns every stored location version of the owner
	// (every owner's when zero), ordered by owner, id, last_updated and key.
	LocationVersions(ctx context.Context, owner Party) ([]LocationVersion, error)
	// ScanEmbedded calls fn for each CDR of the selection that embeds
	// tariffs, with how many and the content key of the first, in any order.
	ScanEmbedded(ctx context.Context, sel *Selection, fn func(cdrKey, n, firstTariff int64)) error
	// ScanContexts streams each distinct context of the selection's CDRs
	// once (ContextColumns), in any order.
	ScanContexts(ctx context.Context, sel *Selection, fn func(arrow.RecordBatch) error) error
	// ScanContextsOf streams cdr_key followed by ContextColumns for the
	// selection's CDRs whose context hash is one of hashes.
	ScanContextsOf(ctx context.Context, sel *Selection, hashes []uint64, fn func(arrow.RecordBatch) error) error
	// ScanHeaders streams HeaderColumns for the selection's CDRs with
	// cdr_key in [minKey, maxKey], in cdr_key order. sparse says that they
	// are few of the range's CDRs (reading only theirs and sorting them
	// then costs less than filtering the range).
	ScanHeaders(ctx context.Context, sel *Selection, minKey, maxKey int64, sparse bool, fn func(arrow.RecordBatch) error) error
	// ScanPeriodRange streams the charging periods (pricing.PeriodColumns)
	// of every CDR with cdr_key in [minKey, maxKey], or only of the
	// selection's CDRs in it when sel is not nil, in (cdr_key,
	// period_index) order; keys outside the selection are skipped by the
	// run (so a source may send them even when asked for sel's).
	ScanPeriodRange(ctx context.Context, sel *Selection, minKey, maxKey int64, fn func(arrow.RecordBatch) error) error
	// CDRs loads what pricing reads of the given CDRs (identity, times,
	// currency, credit, location, totals, periods with their dimensions
	// unless withPeriods is false) and the content keys of their embedded
	// tariffs, in position order. The run asks without periods for the
	// CDRs its period scan found none of: looking for them again probes
	// every stored period (0.8 s for 28 k CDRs of the 10 M month).
	CDRs(ctx context.Context, keys []int64, withPeriods bool) (map[int64]*ocpi.CDR, map[int64][]int64, error)
}

// HeaderColumns are the columns of ScanHeaders' batches, one row per CDR:
//
//	cdr_key              int64
//	start_date_time      timestamp µs UTC, nullable
//	credit, blocking     bool     blocking: a finding blocks pricing
//	billed_excl, billed_incl int64 total_cost in millionths; null when not stated
//	location_tariff_ids  list<utf8> the CDR's own (2.1.1), nullable
//	context              uint64   hash of the CDR's ContextColumns
//
// The strings a CDR is priced by (owner, location, connector, zone hints,
// currency) repeat across CDRs: they come once per distinct value from
// ScanContexts, named by the hash, instead of once per CDR.
var HeaderColumns = []string{"cdr_key", "start_date_time", "credit", "blocking", "billed_excl", "billed_incl",
	"location_tariff_ids", "context"}

// ContextColumns are the columns of ScanContexts' batches: the context
// hash, then the CDR's strings as stored (nullable); two contexts that
// differ only by a null and an empty string have different hashes.
//
//	context              uint64
//	country_code, party_id utf8   the owner, upper-cased
//	location_id, evse_uid, connector_id utf8 as sent
//	embedded_time_zone   utf8     the CDR's location time_zone (2.1.1)
//	country, latitude, longitude utf8 from the CDR's location
//	currency             utf8
var ContextColumns = []string{"context", "country_code", "party_id", "location_id", "evse_uid", "connector_id",
	"embedded_time_zone", "country", "latitude", "longitude", "currency"}

// StoredTariff is one published tariff version with its identity as
// stored (upper-cased) and its content key.
type StoredTariff struct {
	Key                      int64 // content key (tariff_bodies.tariff_key)
	CountryCode, PartyID, ID string
	LastUpdated              time.Time
	Tariff                   ocpi.Tariff
	// Blocking lists the version's findings that block pricing ("path:
	// message", as stored): a value pricing reads was missing, unreadable or
	// invalid, so the Tariff above holds a stand-in for it. "" when none.
	// Such a version prices nothing: the CDRs it would price are not
	// priceable (string(WhyTariffBlocking)), never priced with what is left.
	Blocking string
}

// LocationVersion is one stored location version with what pricing reads
// of it: its time zone and its connectors' tariff ids.
type LocationVersion struct {
	Key                      int64
	CountryCode, PartyID, ID string // upper-cased, as stored
	LastUpdated              time.Time
	TimeZone                 string // "" when the version has none
	// Connectors by upper-cased EVSE uid and connector id: the connector's
	// tariff_ids (nil when it has none; the first connector of a pair wins).
	Connectors map[[2]string][]string
}

// Sink is where a run's results go. The store implements it.
type Sink interface {
	// BeginRun starts the run's transaction. Nothing is visible until
	// Commit, which replaces what the previous run of the same identity
	// wrote.
	BeginRun(ctx context.Context, run Run) (RunWriter, error)
}

// RunWriter writes one run. It is used from one goroutine at a time.
// Steps after pricing assert the further interfaces they need on it (their
// own tables, in the same transaction).
type RunWriter interface {
	WriteCDRs(ctx context.Context, rows *PricedCDRs) error
	WriteLines(ctx context.Context, lines *PricedLines) error
	// WriteTariffs, WriteZones, WriteReasons and WriteMessages record what
	// the rows' codes name (their refs are positions).
	WriteTariffs(ctx context.Context, ts []PricedTariff) error
	WriteZones(ctx context.Context, zs []PricedZone) error
	WriteReasons(ctx context.Context, reasons []string) error
	WriteMessages(ctx context.Context, messages []string) error
	// Commit records the run and makes everything it wrote visible.
	Commit(ctx context.Context, rec RunRecord) error
	// Rollback abandons the run; the previous run's rows stay.
	Rollback() error
}

// RunRecord is what Commit records of a run.
type RunRecord struct {
	Run               Run
	Started, Finished time.Time
	CDRs              int64
	// Inputs is the whole job's inputs digest the rows were priced from
	// (Options.Inputs); "" for a run outside the job (reprice, price).
	Inputs string
}

// Status values of PricedCDRs.Status.
const (
	PricedOK           uint8 = iota // priced; totals valid
	PricedNotPriceable              // Reason (and Message) say why; totals null
)

// PricedBy values of PricedCDRs.PricedBy.
const (
	ByNone      uint8 = iota
	ByKernel          // the compiled int64 kernel over Arrow batches
	ByReference       // the decimal reference, one CDR at a time
)

// NumTotals is the number of totals of a priced row, in reconcile's Field
// order: total_cost, total_fixed_cost, total_energy_cost, total_time_cost,
// total_parking_cost, total_reservation_cost, each excl then incl VAT.
const NumTotals = 2 * int(reconcile.NumFields)

// AmountScale is the number of decimals of the totals and of the
// quantities and prices of lines (millionths).
const AmountScale = reconcile.Scale

// LineScale is the number of decimals of a line's amounts: the kernel's
// exact scale (the default policy rounds totals, not lines).
const LineScale = 10

// PricedCDRs is a batch of priced rows, one per CDR, as plain columns;
// amounts are in millionths, already rounded by the owner's policy. The
// billed totals and the currency are not copied: the store's views read
// them from the CDR.
type PricedCDRs struct {
	CDRKey    []int64
	Status    []uint8
	Reason    []uint8 // reason code, 1-based position in WriteReasons; 0: none
	Message   []int32 // 0-based position in WriteMessages; -1: none
	PricedBy  []uint8
	TariffRef []int32            // position in WriteTariffs; -1: none
	Zone      []int16            // position in WriteZones
	Flags     []int32            // pricing.Flag bits
	Totals    [NumTotals][]int64 // valid when Status is PricedOK
	// Outcome is the billed-versus-computed outcome of total_cost.
	Outcome []reconcile.Outcome
	// The price with the CDR's embedded tariff (EmbeddedRef -1: none).
	EmbeddedRef  []int32
	EmbeddedExcl []int64
	EmbeddedIncl []int64
}

// Len is the number of rows.
func (p *PricedCDRs) Len() int { return len(p.CDRKey) }

// Reset empties the batch, keeping its capacity.
func (p *PricedCDRs) Reset() {
	p.CDRKey, p.Status, p.Reason, p.Message, p.PricedBy = p.CDRKey[:0], p.Status[:0], p.Reason[:0], p.Message[:0], p.PricedBy[:0]
	p.TariffRef, p.Zone, p.Flags, p.Outcome = p.TariffRef[:0], p.Zone[:0], p.Flags[:0], p.Outcome[:0]
	for i := range p.Totals {
		p.Totals[i] = p.Totals[i][:0]
	}
	p.EmbeddedRef, p.EmbeddedExcl, p.EmbeddedIncl = p.EmbeddedRef[:0], p.EmbeddedExcl[:0], p.EmbeddedIncl[:0]
}

// Dimension codes of priced lines: the store's dimension_types codes (a
// store test ties them).
const (
	DimEnergy          uint8 = 1
	DimTime            uint8 = 2
	DimParkingTime     uint8 = 3
	DimReservationTime uint8 = 4
	DimFlat            uint8 = 9
)

// DimensionCodes names each code by its OCPI dimension type.
var DimensionCodes = map[string]uint8{ocpi.TariffDimFlat: DimFlat, ocpi.TariffDimEnergy: DimEnergy,
	ocpi.TariffDimTime: DimTime, ocpi.TariffDimParkingTime: DimParkingTime, "RESERVATION_TIME": DimReservationTime}

// PricedLines is a batch of priced lines: one per priced dimension of a
// period. Quantities and prices are in millionths, amounts in 1e-10
// (LineScale).
type PricedLines struct {
	CDRKey    []int64
	Period    []uint16
	Dimension []uint8 // Dim* codes
	Element   []uint16
	Quantity  []int64
	Billed    []int64
	UnitPrice []int64
	VAT       []int64
	VATValid  []bool
	Excl      []int64
	Incl      []int64
}

// Len is the number of rows.
func (l *PricedLines) Len() int { return len(l.CDRKey) }

// Reset empties the batch, keeping its capacity.
func (l *PricedLines) Reset() {
	l.CDRKey, l.Period, l.Dimension, l.Element = l.CDRKey[:0], l.Period[:0], l.Dimension[:0], l.Element[:0]
	l.Quantity, l.Billed, l.UnitPrice, l.VAT, l.VATValid = l.Quantity[:0], l.Billed[:0], l.UnitPrice[:0], l.VAT[:0], l.VATValid[:0]
	l.Excl, l.Incl = l.Excl[:0], l.Incl[:0]
}

// PricedTariff is a tariff version a run priced with.
type PricedTariff struct {
	Ref                      int32
	Source                   string // "published" or "embedded"
	Key                      int64
	CountryCode, PartyID, ID string
	LastUpdated              time.Time
	Currency                 string
	Policy                   string
}

// PricedZone is a time zone a run evaluated restrictions in; its ref is its
// position.
type PricedZone struct {
	TimeZone string
	Source   string // a pricing.ZoneSource
	Note     string // what resolving it had to assume or why it failed
}
