package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts run the real roamsettle command: testscript
// re-executes this test binary as `roamsettle`, so each script drives the
// same code path as a user's shell, against real DuckDB files in its work
// directory.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"roamsettle": func() { os.Exit(Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
