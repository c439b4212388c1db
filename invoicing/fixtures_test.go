package invoicing

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The sample partner: a Polish CPO invoicing a German eMSP for October
// 2026 (the period in Europe/Warsaw), with locations whose names need more
// than Latin-1.

var warsaw = mustZone("Europe/Warsaw")

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

func samplePeriod() Period {
	return Period{Name: "2026-10", From: time.Date(2026, 10, 1, 0, 0, 0, 0, warsaw), To: time.Date(2026, 11, 1, 0, 0, 0, 0, warsaw)}
}

var sampleIssueDate = Date{2026, 11, 6}

func sampleConfig() Config {
	c := DefaultConfig()
	c.Seller = Party{Name: "Ładowarki Łódź Sp. z o.o.", CountryCode: "PL", PartyID: "LLD",
		Address:        Address{Street: "ul. Piotrkowska 104", PostalCode: "90-926", City: "Łódź", Country: "PL"},
		VATID:          "PL7251234567",
		RegistrationID: "KRS 0000123456", Email: "rozliczenia@ladowarki.example"}
	c.Buyer = Party{Name: "Stromfahrt GmbH", CountryCode: "DE", PartyID: "SFA",
		Address: Address{Street: "Müllerstraße 12", PostalCode: "13353", City: "Berlin", Country: "DE"},
		VATID:   "DE298765432", RegistrationID: "HRB 123456 B"}
	c.Payment = Payment{TermsDays: 30, Note: "Payment within 30 days of the invoice date, without deduction.",
		IBAN: "PL61109010140000071219812874", BIC: "WBKPPLPP", AccountName: "Ładowarki Łódź Sp. z o.o."}
	return c
}

var sampleLocations = []Location{
	{ID: "LOC-LDZ-01", Name: "Manufaktura Łódź", Address: "ul. Drewnowska 58", City: "Łódź", PostalCode: "91-002", Country: "POL", EVSEID: "PL*LLD*E0001"},
	{ID: "LOC-BRN-02", Name: "Nabíjecí stanice Černá Pole", Address: "Třída Generála Píky 1", City: "Brno", PostalCode: "613 00", Country: "CZE", EVSEID: "PL*LLD*E0002"},
	{ID: "LOC-ATH-03", Name: "Φόρτιση Σύνταγμα", Address: "Πλατεία Συντάγματος 1", City: "Αθήνα", PostalCode: "105 63", Country: "GRC", EVSEID: "PL*LLD*E0003"},
	{ID: "LOC-IST-04", Name: "Şarj İstasyonu Ümraniye", Address: "Alemdağ Caddesi 15", City: "İstanbul", PostalCode: "34760", Country: "TUR", EVSEID: "PL*LLD*E0004"},
}

var sampleTariffs = []TariffVersion{
	{CountryCode: "PL", PartyID: "LLD", ID: "AC-STD", LastUpdated: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)},
	{CountryCode: "PL", PartyID: "LLD", ID: "AC-STD", LastUpdated: time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)},
	{CountryCode: "PL", PartyID: "LLD", ID: "DC-FAST", LastUpdated: time.Date(2026, 8, 20, 0, 0, 0, 0, time.UTC)},
}

func vat(rate string, amount string) []Tax {
	return []Tax{{Name: "VAT", Rate: MustPercent(rate), HasRate: true, Amount: MustAmount(amount)}}
}

// sampleCDR builds the i-th CDR of the sample month deterministically.
func sampleCDR(i int) CDR {
	loc := sampleLocations[i%len(sampleLocations)]
	tariff := sampleTariffs[(i/3)%len(sampleTariffs)]
	start := time.Date(2026, 10, 1+i%30, 7+i%13, (i*7)%60, 0, 0, warsaw)
	dur := time.Duration(20+(i*13)%100) * time.Minute
	kwh := MustQuantity(fmt.Sprintf("%d.%04d", 3+i%40, (i*389)%10000))
	energy := MustAmount(fmt.Sprintf("%d.%02d", 1+i%15, (i*37)%100))
	timeCost := MustAmount(fmt.Sprintf("0.%02d", (i*11)%100))
	c := CDR{CountryCode: "PL", PartyID: "LLD", ID: fmt.Sprintf("CDR-%05d", i),
		BodySHA256: sha256.Sum256([]byte(fmt.Sprintf("body %d", i))),
		Start:      start, End: start.Add(dur), Location: &loc, Tariff: &tariff,
		PricingPolicy: "half_up/total/2.2.1-d2", Currency: "EUR", Energy: kwh,
		Charges: []Charge{
			{Component: Energy, Excl: energy, Taxes: vat("23", taxOf(energy, 23))},
			{Component: Time, Excl: timeCost, Taxes: vat("23", taxOf(timeCost, 23))},
		},
	}
	if i%5 == 0 {
		c.Charges = append(c.Charges, Charge{Component: Fixed, Excl: MustAmount("0.50"), Taxes: vat("23", "0.115")})
	}
	if i%7 == 3 {
		// Parking priced without VAT (OCPI vat absent).
		c.Charges = append(c.Charges, Charge{Component: Parking, Excl: MustAmount("1.25")})
	}
	return c
}

// taxOf is the exact VAT of an amount (test helper, exact for whole rates).
func taxOf(a Amount, rate int64) string { return (a * Amount(rate) / 100).String() }

func sampleCDRs(n int) []CDR {
	out := make([]CDR, n)
	for i := range out {
		out[i] = sampleCDR(i)
	}
	// Two disputes with their evidence.
	for _, i := range []int{4, 9} {
		if i < n {
			billed := &Price{Excl: MustAmount("12.40"), Incl: MustAmount("15.25")}
			recomputed := &Price{Excl: MustAmount("11.90"), Incl: MustAmount("14.64")}
			out[i].Dispute = &Dispute{Verdict: "MISMATCH", Status: "raised", Reasons: []string{"TARIFF_VERSION"},
				Billed: billed, Recomputed: recomputed, Periods: []int{1},
				Evidence: "Billed with tariff AC-STD of 2026-09-01; the version of 2026-10-15 was in effect (0.39/kWh instead of 0.42/kWh)."}
		}
	}
	return out
}

// memLedger is an in-memory Ledger for the domain tests (the store's
// DuckDB implementation has its own tests against a real file). A failing
// fn leaves it unchanged, as a rolled-back transaction would.
type memLedger struct {
	mu     sync.Mutex
	docs   []Issued
	inputs map[[2]any][]InputRef
}

func (m *memLedger) Transact(ctx context.Context, fn func(LedgerTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{m: m, docs: slices.Clone(m.docs)}
	if err := fn(tx); err != nil {
		return err
	}
	m.docs = tx.docs
	if m.inputs == nil {
		m.inputs = map[[2]any][]InputRef{}
	}
	for k, v := range tx.inputs {
		m.inputs[k] = v
	}
	return nil
}

type memTx struct {
	m      *memLedger
	docs   []Issued
	inputs map[[2]any][]InputRef
}

func (t *memTx) Links(issuer string) ([]Link, error) {
	var out []Link
	for _, d := range t.docs {
		if d.Issuer == issuer {
			out = append(out, Link{Position: d.Position, Series: d.Series, Sequence: d.Sequence, Number: d.Number,
				SHA256: d.SHA256, Previous: d.Previous, Content: sha256.Sum256(d.Document)})
		}
	}
	return out, nil
}

func (t *memTx) Documents(issuer, partner, period string) ([]Issued, error) {
	var out []Issued
	for _, d := range t.docs {
		if d.Issuer == issuer && d.Partner == partner && d.Period == period {
			out = append(out, d)
		}
	}
	return out, nil
}

func (t *memTx) Put(doc Issued, inputs []InputRef) error {
	for _, d := range t.docs {
		if d.Issuer == doc.Issuer && (d.Position == doc.Position || (d.Series == doc.Series && d.Sequence == doc.Sequence)) {
			return fmt.Errorf("position %d or number %s taken", doc.Position, doc.Number)
		}
	}
	t.docs = append(t.docs, doc)
	if t.inputs == nil {
		t.inputs = map[[2]any][]InputRef{}
	}
	t.inputs[[2]any{doc.Issuer, doc.Position}] = slices.Clone(inputs)
	return nil
}
