package synth

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the generator")

// A tiny month pinned byte for byte: any change to the output format or to
// the sequence of random choices shows up here (run with -update to accept
// it, and say why in the commit).
func TestGolden(t *testing.T) {
	cfg := Config{CDRs: 40, Seed: 3, Month: "2026-10", ErrorPerMille: 200, CreditPerMille: 100, Tokens: 5, LocationsPerParty: 2}
	dir := t.TempDir()
	s, err := Generate(context.Background(), cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden")
	for _, f := range s.Files {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(golden, filepath.FromSlash(f))
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", f, path)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bad month", func(c *Config) { c.Month = "2026-13" }, "month"},
		{"month without day", func(c *Config) { c.Month = "2026" }, "month"},
		{"negative CDRs", func(c *Config) { c.CDRs = -1 }, "negative"},
		{"share above 1000", func(c *Config) { c.ErrorPerMille = 1001 }, "per mille"},
		{"negative tokens", func(c *Config) { c.Tokens = -1 }, "token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.edit(&cfg)
			_, err := Generate(context.Background(), cfg, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestZeroConfigTakesDefaults(t *testing.T) {
	s, err := Generate(context.Background(), Config{CDRs: 200, Seed: 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Month != "2026-10" || s.ErrorPerMille != 50 || s.Sessions != 200 {
		t.Fatalf("month %q, errors per mille %d, sessions %d", s.Month, s.ErrorPerMille, s.Sessions)
	}
}

func TestCancelledContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := DefaultConfig()
	if _, err := Generate(ctx, cfg, t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
