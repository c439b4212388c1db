package store

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

var t0 = time.Date(2025, 10, 3, 17, 39, 9, 0, time.UTC)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func nd(s string) decimal.NullDecimal { return decimal.NewNullDecimal(d(s)) }

func ptr[T any](v T) *T { return &v }

// sampleCDR is a 2.2.1 CDR with every field set, 3 periods of 3 dimensions.
func sampleCDR(id string) *ocpi.CDR {
	return &ocpi.CDR{
		Version: ocpi.V221, CountryCode: "nl", PartyID: "Abc", ID: id,
		StartDateTime: t0, EndDateTime: t0.Add(2 * time.Hour),
		SessionID:  "S-" + id,
		Token:      ocpi.CDRToken{CountryCode: "DE", PartyID: "EMS", UID: "012345678", Type: "RFID", ContractID: "DE8ACC12E46L89"},
		AuthMethod: "WHITELIST", AuthorizationReference: "AR1",
		Location: ocpi.CDRLocation{ID: "LOC1", Name: "Gent Zuid", Address: "F.Rooseveltlaan 3A", City: "Gent",
			PostalCode: "9000", State: "VL", Country: "BEL",
			Coordinates: ocpi.GeoLocation{Latitude: "51.047599", Longitude: "3.729944"},
			EVSEUID:     "3256", EVSEID: "BE*BEC*E041503003", ConnectorID: "1", ConnectorStandard: "IEC_62196_T2",
			ConnectorFormat: "SOCKET", ConnectorPowerType: "AC_3_PHASE"},
		MeterID:  "M1",
		Currency: "EUR",
		Tariffs:  []ocpi.Tariff{*sampleTariff("12", t0.Add(-24*time.Hour))},
		ChargingPeriods: []ocpi.ChargingPeriod{
			{StartDateTime: t0, TariffID: "12", Dimensions: []ocpi.CDRDimension{
				{Type: ocpi.DimEnergy, Volume: d("5.4321")}, {Type: ocpi.DimTime, Volume: d("0.5")}, {Type: ocpi.DimMaxCurrent, Volume: d("32")}}},
			{StartDateTime: t0.Add(30 * time.Minute), TariffID: "12", Dimensions: []ocpi.CDRDimension{
				{Type: ocpi.DimEnergy, Volume: d("10.0012")}, {Type: ocpi.DimTime, Volume: d("1")}, {Type: ocpi.DimMaxPower, Volume: d("22.08")}}},
			{StartDateTime: t0.Add(90 * time.Minute), Dimensions: []ocpi.CDRDimension{
				{Type: ocpi.DimParkingTime, Volume: d("0.5")}, {Type: ocpi.DimEnergy, Volume: d("0")}, {Type: ocpi.DimMinCurrent, Volume: d("-1.5")}}},
		},
		SignedData:               json.RawMessage(`{"encoding_method":"OCMF","signed_values":[]}`),
		TotalCost:                &ocpi.Price{ExclVAT: d("12.28"), InclVAT: nd("14.86")},
		TotalFixedCost:           &ocpi.Price{ExclVAT: d("1"), InclVAT: nd("1.21")},
		TotalEnergy:              d("15.4333"),
		TotalEnergyCost:          &ocpi.Price{ExclVAT: d("7.72"), InclVAT: nd("9.34")},
		TotalTime:                d("2"),
		TotalTimeCost:            &ocpi.Price{ExclVAT: d("3.06"), InclVAT: nd("3.70")},
		TotalParkingTime:         nd("0.5"),
		TotalParkingCost:         &ocpi.Price{ExclVAT: d("0.5")},
		Remark:                   "stopped by driver",
		InvoiceReferenceID:       "INV-1",
		HomeChargingCompensation: false,
		LastUpdated:              t0.Add(3 * time.Hour),
	}
}

func sampleTariff(id string, lastUpdated time.Time) *ocpi.Tariff {
	start := t0.Add(-30 * 24 * time.Hour)
	return &ocpi.Tariff{
		Version: ocpi.V221, CountryCode: "NL", PartyID: "ABC", ID: id, Currency: "EUR", Type: ocpi.TariffRegular,
		AltText:  []ocpi.DisplayText{{Language: "en", Text: "0.25/kWh, 2.00/h after 1h"}},
		AltURL:   "https://example.com/tariff",
		MinPrice: &ocpi.PriceLimit{ExclVAT: d("0.5"), InclVAT: nd("0.605")},
		Elements: []ocpi.TariffElement{
			{PriceComponents: []ocpi.PriceComponent{
				{Type: ocpi.TariffDimFlat, Price: d("1.00"), VAT: nd("21"), StepSize: 1},
				{Type: ocpi.TariffDimEnergy, Price: d("0.25"), VAT: nd("21"), StepSize: 1}}},
			{PriceComponents: []ocpi.PriceComponent{{Type: ocpi.TariffDimTime, Price: d("2.00"), StepSize: 300}},
				Restrictions: &ocpi.TariffRestrictions{StartTime: "08:00", EndTime: "18:00", MinKWh: nd("0.0012"),
					MaxPower: nd("22"), MinDuration: ptr(int64(3600)), DayOfWeek: []string{"MONDAY", "FRIDAY"},
					Reservation: ocpi.ReservationReservation}},
		},
		StartDateTime: &start,
		EnergyMix:     json.RawMessage(`{"is_green_energy":true}`),
		LastUpdated:   lastUpdated,
	}
}

func sampleLocation(id string, tz string, lastUpdated time.Time, tariffIDs ...string) *ocpi.Location {
	return &ocpi.Location{
		Version: ocpi.V221, CountryCode: "NL", PartyID: "ABC", ID: id, Publish: ptr(true),
		Name: "Gent Zuid", Address: "F.Rooseveltlaan 3A", City: "Gent", PostalCode: "9000", Country: "BEL",
		Coordinates: ocpi.GeoLocation{Latitude: "51.047599", Longitude: "3.729944"}, TimeZone: tz,
		EVSEs: []ocpi.EVSE{{UID: "3256", EVSEID: "BE*BEC*E041503003", Status: "AVAILABLE", LastUpdated: lastUpdated,
			Connectors: []ocpi.Connector{
				{ID: "1", Standard: "IEC_62196_T2", Format: "SOCKET", PowerType: "AC_3_PHASE", MaxVoltage: 220,
					MaxAmperage: 16, MaxElectricPower: ptr(int64(11000)), TariffIDs: tariffIDs, LastUpdated: lastUpdated},
				{ID: "2", Standard: "IEC_62196_T2", Format: "CABLE", PowerType: "AC_3_PHASE", MaxVoltage: 220,
					MaxAmperage: 32, LastUpdated: lastUpdated}}}},
		LastUpdated: lastUpdated,
	}
}

// rawFor is a stand-in for the bytes an object arrived as: unique per
// object and tag, so tests can make "same object, other bytes".
func rawFor(obj any, tag string) []byte {
	return []byte(fmt.Sprintf(`{"tag":%q,"obj":%q}`, tag, fmt.Sprintf("%+v", obj)))
}

func newReceived(raw []byte, pos int64) ocpi.Received {
	return ocpi.Received{
		Source:     ocpi.Source{Channel: ocpi.ChannelFile, Name: "cdrs.ndjson", Partner: "NL*ABC", Position: pos},
		ReceivedAt: t0.Add(4 * time.Hour),
		Raw:        raw,
		SHA256:     sha256.Sum256(raw),
		Version:    ocpi.V221,
	}
}

func recvCDR(c *ocpi.CDR, tag string, pos int64) ocpi.Received {
	r := newReceived(rawFor(c, tag), pos)
	r.Kind, r.CDR = ocpi.KindCDR, c
	return r
}

func recvTariff(t *ocpi.Tariff, tag string, pos int64) ocpi.Received {
	r := newReceived(rawFor(t, tag), pos)
	r.Kind, r.Tariff = ocpi.KindTariff, t
	return r
}

func recvLocation(l *ocpi.Location, tag string, pos int64) ocpi.Received {
	r := newReceived(rawFor(l, tag), pos)
	r.Kind, r.Location = ocpi.KindLocation, l
	return r
}

func recvRejected(raw string, pos int64, problems ...ocpi.Problem) ocpi.Received {
	r := newReceived([]byte(raw), pos)
	r.Kind, r.Rejected, r.Problems = ocpi.KindCDR, true, problems
	return r
}
