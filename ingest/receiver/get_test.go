package receiver

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/roamsettle/roamsettle/ocpi"
)

// TestGetAndDeleteVersionedObjects: the owner GETs its tariff or invoice
// reconciliation record back as it was received; an unknown or withdrawn
// object is 404/2003, another party's URL is refused, and a version newer
// than the withdrawal brings the object back.
func TestGetAndDeleteVersionedObjects(t *testing.T) {
	h := newHarness(t)
	xyz, hub := b64(tokenCOfXYZ), b64("hub-token")
	tariff := bytes.Replace(fixture(t, "tariff_221.json"), []byte(`"party_id": "ALL"`), []byte(`"party_id": "XYZ"`), 1)
	republished := bytes.Replace(tariff, []byte(`"2015-06-29T20:39:09Z"`), []byte(`"2099-01-01T00:00:00Z"`), 1)
	irr := []byte(`{"country_code":"DE","party_id":"XYZ","id":"IRR1","invoice_id":"INV-7","cdrs":["CDR1",{"id":"CDR2"}],"last_updated":"2024-03-01T00:00:00Z"}`)

	type step struct {
		name, method, path, auth string
		body                     []byte
		status                   int
		code                     ocpi.StatusCode
		data                     []byte // the answer's data, when not nil
	}
	steps := []step{
		{"tariff unknown", "GET", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, nil, 404, ocpi.StatusUnknownLocation, nil},
		{"tariff PUT", "PUT", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, tariff, 201, ocpi.StatusSuccess, nil},
		{"tariff GET as received", "GET", "/ocpi/2.2.1/tariffs/de/xyz/12", xyz, nil, 200, ocpi.StatusSuccess, tariff},
		{"tariff of another party", "GET", "/ocpi/2.2.1/tariffs/DE/XYZ/12", hub, nil, 404, ocpi.StatusInvalidParameters, nil},
		{"tariff DELETE", "DELETE", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, nil, 200, ocpi.StatusSuccess, nil},
		{"tariff withdrawn", "GET", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, nil, 404, ocpi.StatusUnknownLocation, nil},
		{"tariff republished", "PUT", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, republished, 201, ocpi.StatusSuccess, nil},
		{"tariff back", "GET", "/ocpi/2.2.1/tariffs/DE/XYZ/12", xyz, nil, 200, ocpi.StatusSuccess, republished},

		{"irr unknown", "GET", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/IRR1", xyz, nil, 404, ocpi.StatusUnknownLocation, nil},
		{"irr POST", "POST", "/ocpi/2.3.0/invoicereconciliation", xyz, irr, 201, ocpi.StatusSuccess, nil},
		{"irr GET as received", "GET", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/IRR1", xyz, nil, 200, ocpi.StatusSuccess, irr},
		{"irr GET before 2.3.0", "GET", "/ocpi/2.2.1/invoicereconciliation/DE/XYZ/IRR1", xyz, nil, 404, ocpi.StatusUnsupportedVersion, nil},
		{"irr of another party", "DELETE", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/IRR1", hub, nil, 404, ocpi.StatusInvalidParameters, nil},
		{"irr still there", "GET", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/IRR1", xyz, nil, 200, ocpi.StatusSuccess, irr},
		{"irr DELETE", "DELETE", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/IRR1", xyz, nil, 200, ocpi.StatusSuccess, nil},
		{"irr withdrawn", "GET", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/IRR1", xyz, nil, 404, ocpi.StatusUnknownLocation, nil},
		{"irr bad id", "DELETE", "/ocpi/2.3.0/invoicereconciliation/DE/XYZ/" + string(bytes.Repeat([]byte("x"), 40)), xyz, nil, 400, ocpi.StatusInvalidParameters, nil},
	}
	for _, s := range steps {
		a := h.do(s.method, s.path, s.auth, s.body)
		if a.status != s.status || a.env.StatusCode != s.code {
			t.Fatalf("%s: %d %d, want %d %d: %s", s.name, a.status, a.env.StatusCode, s.status, s.code, a.body)
		}
		if s.data != nil && !bytes.Equal(compact(t, a.env.Data), compact(t, s.data)) {
			t.Errorf("%s: data\n%s\nwant the body as received\n%s", s.name, a.env.Data, s.data)
		}
	}
	if at, ok, _ := h.store.InvoiceWithdrawnAt(nil, "DE", "XYZ", "IRR1"); !ok || at.IsZero() {
		t.Errorf("irr withdrawal not recorded")
	}
}

// compact drops insignificant whitespace: the envelope compacts the raw
// body it carries, and nothing else may differ.
func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
