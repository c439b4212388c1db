package ocpi

import (
	"strings"
	"testing"
	"time"
)

func TestDecodeClientInfo(t *testing.T) {
	ci, probs := DecodeClientInfo([]byte(`{"country_code":"de","party_id":"aaa","role":"CPO","status":"CONNECTED","last_updated":"2024-01-02T03:04:05Z"}`), nil)
	if len(probs) != 0 || ci.Party() != "DE-AAA" || ci.Status != ClientConnected || !ci.LastUpdated.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("%+v %v", ci, probs)
	}
	// A PATCH changes only what it names.
	patched, probs := DecodeClientInfo([]byte(`{"status":"SUSPENDED","last_updated":"2024-02-01T00:00:00Z"}`), &ci)
	if len(probs) != 0 || patched.Party() != "DE-AAA" || patched.Status != ClientSuspended || patched.Role != "CPO" {
		t.Fatalf("patched %+v %v", patched, probs)
	}
	for body, want := range map[string]string{
		`{"country_code":"DE","party_id":"AAA","role":"CPO","status":"ONLINE","last_updated":"2024-01-02T03:04:05Z"}`:   "status",
		`{"country_code":"DEU","party_id":"AAA","role":"CPO","status":"PLANNED","last_updated":"2024-01-02T03:04:05Z"}`: "country_code",
		`{"country_code":"DE","party_id":"AAA","role":"CPO","status":"PLANNED"}`:                                        "last_updated",
		`{"country_code":"DE",`: "",
	} {
		if _, probs := DecodeClientInfo([]byte(body), nil); len(probs) == 0 || probs[0].Path != want {
			t.Errorf("%s: %v, want a problem at %q", body, probs, want)
		}
	}
	list := MergeClient(nil, ci)
	list = MergeClient(list, ClientInfo{CountryCode: "AT", PartyID: "BBB"})
	list = MergeClient(list, patched)
	if len(list) != 2 || list[0].Party() != "AT-BBB" || list[1].Status != ClientSuspended {
		t.Errorf("merged %+v", list)
	}
}

// TestDateTimeOutOfRangeSaysWhy: the year-9999 "open end" some platforms
// send is refused with a message naming the year, not "not a valid date".
func TestDateTimeOutOfRangeSaysWhy(t *testing.T) {
	for s, want := range map[string]string{
		"9999-12-31T23:59:59Z": "year 9999 is outside 1900-9000",
		"2024-02-30T00:00:00Z": "2024-02-30T00:00:00 is not a date and time of the calendar",
	} {
		if _, err := ParseDateTime(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", s, err, want)
		}
	}
}
