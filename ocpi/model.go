package ocpi

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// Version is an OCPI protocol version.
type Version string

const (
	V211 Version = "2.1.1"
	V221 Version = "2.2.1"
	V230 Version = "2.3.0"
)

// Versions lists the versions roamsettle speaks, oldest first.
var Versions = []Version{V211, V221, V230}

// Kind names the kind of OCPI object a payload carries.
type Kind string

const (
	KindCDR      Kind = "cdr"
	KindTariff   Kind = "tariff"
	KindLocation Kind = "location"
	KindInvoice  Kind = "invoice_reconciliation"
)

// Price is an amount with its taxes, normalised over the three versions:
//
//   - 2.1.1 costs are bare numbers excluding VAT: ExclVAT set, InclVAT null.
//   - 2.2.1 Price{excl_vat, incl_vat?}: ExclVAT and InclVAT as given.
//   - 2.3.0 Price{before_taxes, taxes[]}: ExclVAT = before_taxes, Taxes as
//     given and InclVAT = before_taxes + Σ taxes[].amount (our reading, the
//     spec has no after-tax field) when at least one tax is listed.
type Price struct {
	ExclVAT decimal.Decimal
	InclVAT decimal.NullDecimal
	Taxes   []TaxAmount
}

// TaxAmount is one tax line of a 2.3.0 Price.
type TaxAmount struct {
	Name          string
	AccountNumber string
	Percentage    decimal.NullDecimal
	Amount        decimal.Decimal
}

// PriceLimit is a tariff's min_price or max_price: 2.2.1 Price{excl_vat,
// incl_vat?} or 2.3.0 PriceLimit{before_taxes, after_taxes?}.
type PriceLimit struct {
	ExclVAT decimal.Decimal
	InclVAT decimal.NullDecimal
}

// DisplayText is a text in one language.
type DisplayText struct {
	Language string
	Text     string
}

// GeoLocation keeps the coordinates as the strings OCPI defines them to be.
type GeoLocation struct {
	Latitude  string
	Longitude string
}

// CDR is a Charge Detail Record in any version.
//
// 2.1.1 CDRs have no owner fields: CountryCode and PartyID are filled from the
// connection or the importing partner. 2.1.1 stop_date_time is EndDateTime,
// auth_id is Token.ContractID, and the embedded full Location is reduced to
// Location plus its time_zone and the connector's tariff id.
type CDR struct {
	Version                  Version
	CountryCode              string
	PartyID                  string
	ID                       string
	StartDateTime            time.Time
	EndDateTime              time.Time
	SessionID                string
	Token                    CDRToken
	AuthMethod               string
	AuthorizationReference   string
	Location                 CDRLocation
	MeterID                  string
	Currency                 string
	Tariffs                  []Tariff
	ChargingPeriods          []ChargingPeriod
	SignedData               json.RawMessage
	TotalCost                *Price // nil: the CDR states none (missing is not zero)
	TotalFixedCost           *Price
	TotalEnergy              decimal.Decimal
	TotalEnergyCost          *Price
	TotalTime                decimal.Decimal
	TotalTimeCost            *Price
	TotalParkingTime         decimal.NullDecimal
	TotalParkingCost         *Price
	TotalReservationCost     *Price
	Remark                   string
	InvoiceReferenceID       string
	Credit                   bool
	CreditReferenceID        string
	HomeChargingCompensation bool
	LastUpdated              time.Time
}

// CDRToken identifies the driver's token. In 2.1.1 only ContractID (auth_id)
// is known.
type CDRToken struct {
	CountryCode string
	PartyID     string
	UID         string
	Type        string
	ContractID  string
}

// CDRLocation is the snapshot of where the session took place.
//
// TimeZone and TariffIDs are only known for 2.1.1 CDRs, which embed the full
// Location (with an optional time_zone and the connector's tariff_id); 2.2+
// CdrLocation has neither and the pricing engine looks them up in the stored
// Location.
type CDRLocation struct {
	ID                 string
	Name               string
	Address            string
	City               string
	PostalCode         string
	State              string
	Country            string
	Coordinates        GeoLocation
	EVSEUID            string
	EVSEID             string
	ConnectorID        string
	ConnectorStandard  string
	ConnectorFormat    string
	ConnectorPowerType string
	TimeZone           string
	TariffIDs          []string
}

// ChargingPeriod is one period of a session: it starts at StartDateTime and
// ends where the next one starts (the last at the CDR's end).
type ChargingPeriod struct {
	StartDateTime time.Time
	Dimensions    []CDRDimension
	TariffID      string
}

// CDRDimension is one measured volume of a period. Units: ENERGY kWh, TIME,
// PARKING_TIME and RESERVATION_TIME hours, currents A, powers kW.
type CDRDimension struct {
	Type   string
	Volume decimal.Decimal
}

// CDR dimension types (CdrDimensionType). FLAT exists only in 2.1.1.
const (
	DimEnergy          = "ENERGY"
	DimFlat            = "FLAT"
	DimMaxCurrent      = "MAX_CURRENT"
	DimMinCurrent      = "MIN_CURRENT"
	DimMaxPower        = "MAX_POWER"
	DimMinPower        = "MIN_POWER"
	DimParkingTime     = "PARKING_TIME"
	DimReservationTime = "RESERVATION_TIME"
	DimTime            = "TIME"
	// Session-only types: valid in a Session, not in a CDR.
	DimCurrent       = "CURRENT"
	DimEnergyExport  = "ENERGY_EXPORT"
	DimEnergyImport  = "ENERGY_IMPORT"
	DimPower         = "POWER"
	DimStateOfCharge = "STATE_OF_CHARGE"
)

// Tariff is a tariff in any version. 2.1.1 tariffs have no owner fields
// (filled from the connection or importing partner), no validity window, no
// type and no min/max price.
type Tariff struct {
	Version       Version
	CountryCode   string
	PartyID       string
	ID            string
	Currency      string
	Type          string
	AltText       []DisplayText
	AltURL        string
	MinPrice      *PriceLimit
	MaxPrice      *PriceLimit
	Elements      []TariffElement
	TaxIncluded   string
	StartDateTime *time.Time
	EndDateTime   *time.Time
	EnergyMix     json.RawMessage
	LastUpdated   time.Time
}

// Tariff types (TariffType, 2.2+).
const (
	TariffAdHocPayment = "AD_HOC_PAYMENT"
	TariffProfileCheap = "PROFILE_CHEAP"
	TariffProfileFast  = "PROFILE_FAST"
	TariffProfileGreen = "PROFILE_GREEN"
	TariffRegular      = "REGULAR"
)

// TaxIncluded values (2.3.0).
const (
	TaxIncludedYes = "YES"
	TaxIncludedNo  = "NO"
	TaxIncludedNA  = "N/A"
)

// TariffElement is one ordered element of a tariff.
type TariffElement struct {
	PriceComponents []PriceComponent
	Restrictions    *TariffRestrictions
}

// PriceComponent prices one dimension. Price is per kWh (ENERGY), per hour
// (TIME, PARKING_TIME) or per session (FLAT). VAT is a percentage; null means
// no VAT applies, which is not the same as 0 %.
type PriceComponent struct {
	Type     string
	Price    decimal.Decimal
	VAT      decimal.NullDecimal
	StepSize int64
}

// Tariff dimension types (TariffDimensionType).
const (
	TariffDimEnergy      = "ENERGY"
	TariffDimFlat        = "FLAT"
	TariffDimParkingTime = "PARKING_TIME"
	TariffDimTime        = "TIME"
)

// TariffRestrictions are the conditions under which an element applies, all
// combined with AND. Times are "HH:MM" and dates "YYYY-MM-DD", both local to
// the Location's time zone; an empty string means the bound is absent.
type TariffRestrictions struct {
	StartTime   string
	EndTime     string
	StartDate   string
	EndDate     string
	MinKWh      decimal.NullDecimal
	MaxKWh      decimal.NullDecimal
	MinCurrent  decimal.NullDecimal
	MaxCurrent  decimal.NullDecimal
	MinPower    decimal.NullDecimal
	MaxPower    decimal.NullDecimal
	MinDuration *int64
	MaxDuration *int64
	DayOfWeek   []string
	Reservation string
}

// Days of the week (DayOfWeek).
var DaysOfWeek = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}

// Reservation restriction values (ReservationRestrictionType, 2.2+).
const (
	ReservationReservation = "RESERVATION"
	ReservationExpires     = "RESERVATION_EXPIRES"
)

// Location is a charging location with the parts settlement needs: the time
// zone for tariff restrictions and, per connector, the tariffs on offer.
// 2.1.1 locations have no owner fields and an optional time zone.
type Location struct {
	Version     Version
	CountryCode string
	PartyID     string
	ID          string
	Publish     *bool
	Name        string
	Address     string
	City        string
	PostalCode  string
	State       string
	Country     string
	Coordinates GeoLocation
	TimeZone    string
	EVSEs       []EVSE
	LastUpdated time.Time
}

// EVSE is one charging station of a location.
type EVSE struct {
	UID         string
	EVSEID      string
	Status      string
	Connectors  []Connector
	LastUpdated time.Time
}

// Connector is one plug of an EVSE. TariffIDs holds 2.2+ tariff_ids or the
// single 2.1.1 tariff_id.
type Connector struct {
	ID               string
	Standard         string
	Format           string
	PowerType        string
	MaxVoltage       int64
	MaxAmperage      int64
	MaxElectricPower *int64
	TariffIDs        []string
	LastUpdated      time.Time
}

// InvoiceReconciliationRecord (2.3.0) binds an invoice to the CDR ids it
// covers. It carries no amounts. CDRs accepts both shapes seen in the spec:
// a list of ids and a list of {"id": ...} objects.
type InvoiceReconciliationRecord struct {
	Version     Version
	CountryCode string
	PartyID     string
	ID          string
	InvoiceID   string
	CDRs        []string
	LastUpdated time.Time
}
