package main

import (
	"context"
	"os"
	"path/filepath"
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
	spec, err := filepath.Abs("../../testdata/ocpi/spec")
	if err != nil {
		t.Fatal(err)
	}
	data, err := filepath.Abs("testdata/ingest")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("SPEC", spec) // the OCPI spec's example files
			env.Setenv("DATA", data) // hand-made inputs, bad ones included
			return nil
		},
	})
}
