package synth_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/roamsettle/roamsettle/synth"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "synth-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := synth.Generate(context.Background(), synth.Config{CDRs: 1000, Seed: 7, Month: "2026-10"}, dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Sessions, "sessions,", s.CDRLines, "CDR lines,", s.InjectedErrors, "injected errors")
	for _, p := range s.Parties[:3] {
		fmt.Println(p.CountryCode, p.PartyID, p.OCPIVersion, p.Currency, p.TimeZone, p.CDRFile)
	}
	// Output:
	// 1000 sessions, 1017 CDR lines, 42 injected errors
	// NL EVB 2.2.1 EUR Europe/Amsterdam NL-EVB/cdrs.ndjson
	// DE LDS 2.3.0 EUR Europe/Berlin DE-LDS/cdrs.ndjson
	// IE ECH 2.2.1 EUR Europe/Dublin IE-ECH/cdrs.ndjson
}
