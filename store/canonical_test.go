package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

var (
	decimalType     = reflect.TypeFor[decimal.Decimal]()
	nullDecimalType = reflect.TypeFor[decimal.NullDecimal]()
	timeType        = reflect.TypeFor[time.Time]()
	rawJSONType     = reflect.TypeFor[json.RawMessage]()
)

var receivedType = reflect.TypeFor[ocpi.Received]()

// receivedEnvelope are the fields of ocpi.Received around the object: not
// part of the body.
var receivedEnvelope = map[string]bool{"Source": true, "ReceivedAt": true, "Raw": true, "SHA256": true,
	"Kind": true, "Problems": true, "Rejected": true}

// leaves calls visit for every leaf value of v (skipping Version fields, which
// the canonical form leaves out on purpose) with its path; visit returns
// true to stop.
func leaves(v reflect.Value, path string, visit func(reflect.Value, string) bool) bool {
	switch {
	case v.Type() == decimalType, v.Type() == nullDecimalType, v.Type() == timeType, v.Type() == rawJSONType:
		return visit(v, path)
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "Version" {
				continue
			}
			if v.Type() == receivedType && (receivedEnvelope[f.Name] || v.Field(i).IsNil()) {
				continue // only the object itself is the body
			}
			if leaves(v.Field(i), path+"."+f.Name, visit) {
				return true
			}
		}
		return false
	case reflect.Pointer:
		if v.IsNil() {
			return visit(v, path)
		}
		return leaves(v.Elem(), path, visit)
	case reflect.Slice:
		if v.Len() == 0 {
			return visit(v, path)
		}
		for i := range v.Len() {
			if leaves(v.Index(i), path+"[]", visit) {
				return true
			}
		}
		return false
	default:
		return visit(v, path)
	}
}

func mutate(t *testing.T, v reflect.Value, path string) {
	switch {
	case v.Type() == decimalType:
		v.Set(reflect.ValueOf(v.Interface().(decimal.Decimal).Add(decimal.NewFromInt(1))))
	case v.Type() == nullDecimalType:
		n := v.Interface().(decimal.NullDecimal)
		if n.Valid {
			n.Decimal = n.Decimal.Add(decimal.NewFromInt(1))
		} else {
			n.Valid = true
		}
		v.Set(reflect.ValueOf(n))
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Second)))
	case v.Type() == rawJSONType:
		v.Set(reflect.ValueOf(json.RawMessage(`{"changed":true}`)))
	case v.Kind() == reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case v.Kind() == reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case v.Kind() == reflect.String:
		v.SetString(v.String() + "x")
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.Kind() == reflect.Int64:
		v.SetInt(v.Int() + 1)
	default:
		t.Fatalf("%s: no mutation for %s", path, v.Type())
	}
}

// Every field of every model must change the body hash, or a changed CDR
// would be taken for a duplicate and silently dropped.
func TestCanonicalCoversEveryField(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func() *ocpi.Received
	}{
		{"cdr", func() *ocpi.Received { return &ocpi.Received{CDR: sampleCDR("C1")} }},
		{"tariff", func() *ocpi.Received { return &ocpi.Received{Tariff: sampleTariff("T1", t0)} }},
		{"location", func() *ocpi.Received {
			return &ocpi.Received{Location: sampleLocation("L1", "Europe/Brussels", t0, "12")}
		}},
		{"invoice", func() *ocpi.Received {
			return &ocpi.Received{Invoice: &ocpi.InvoiceReconciliationRecord{CountryCode: "NL", PartyID: "ABC",
				ID: "I1", InvoiceID: "INV", CDRs: []string{"A", "B"}, LastUpdated: t0}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c canon
			base := canonicalHash(&c, tc.make())
			var paths []string
			leaves(reflect.ValueOf(tc.make()).Elem(), "", func(_ reflect.Value, p string) bool {
				paths = append(paths, p)
				return false
			})
			if len(paths) < 5 {
				t.Fatalf("only %d leaves", len(paths))
			}
			for i, p := range paths {
				r := tc.make()
				n := 0
				leaves(reflect.ValueOf(r).Elem(), "", func(v reflect.Value, path string) bool {
					if n == i {
						mutate(t, v, path)
						return true
					}
					n++
					return false
				})
				if canonicalHash(&c, r) == base {
					t.Errorf("changing %s does not change the body hash", p)
				}
			}
		})
	}
}

// What must not matter: formatting of numbers and the version label.
func TestCanonicalIgnoresSpellingOfValues(t *testing.T) {
	var c canon
	a, b := sampleCDR("C1"), sampleCDR("C1")
	b.TotalCost.ExclVAT = d("12.280000")
	b.ChargingPeriods[0].Dimensions[0].Volume = d("5.43210")
	b.Version = ocpi.V230
	b.SignedData = json.RawMessage("{ \"encoding_method\" : \"OCMF\",\n \"signed_values\": [] }")
	if canonicalHash(&c, &ocpi.Received{CDR: a}) != canonicalHash(&c, &ocpi.Received{CDR: b}) {
		t.Error("equal values spelled differently hash differently")
	}
}
