// Command roamsettle settles EV-charging roaming under OCPI: it receives
// CDRs, tariffs and locations, stores them in DuckDB, re-prices, reconciles,
// invoices and reports. Run `roamsettle help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	_ "time/tzdata" // tariff restrictions need IANA zones on machines without zoneinfo
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: one file each, wired by hand here.
type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]command{
	"demo":      {"run the whole job on generated data into an output folder", runDemo},
	"gen":       {"generate deterministic synthetic OCPI data with injected billing errors", runGen},
	"ingest":    {"import OCPI CDRs, tariffs and locations from files into the database", runIngest},
	"rejects":   {"list what could not be stored, with the field path and rule", runRejects},
	"status":    {"what the database holds per partner: objects, receipts, pulls, rejects, findings", runStatus},
	"price":     {"price one CDR against a tariff and explain the amount", runPrice},
	"reprice":   {"re-price every CDR stored for a month (kernel over Arrow batches) and write the results back", runReprice},
	"serve":     {"serve the OCPI receiver (versions, credentials, CDRs, tariffs, locations) over HTTP(S)", runServe},
	"partners":  {"add, list or remove OCPI partners (add prints a registration token A)", runPartners},
	"connect":   {"start the OCPI credentials handshake with a partner", runConnect},
	"pull":      {"pull CDRs, tariffs or locations from a partner, resuming from a checkpoint", runPull},
	"reconcile": {"validate a partner's period, compare billed with recomputed, explain, match invoices, raise disputes", runReconcile},
	"run":       {"the whole job for a period: pull, price, reconcile, invoice, report, recorded and resumable", runRun},
	"runs":      {"list the settlement runs with their status and figures; runs show ID for one run's details and files", runRuns},
	"schedule":  {"run the [schedule] section's nightly settlement on its own (without serve's receiver)", runSchedule},
	"disputes":  {"list disputes and move one along its lifecycle (sent, accepted, declined, revised, written off)", runDisputes},
	"report":    {"write each partner's dispute workbook, KPI report and Parquet exports for a period", runReport},
	"invoice":   {"write each partner's settlement statements, or with --final its numbered invoices, for a period", runInvoice},
}

// Env is what every subcommand gets: where to write and how to log.
type Env struct {
	Stdout, Stderr io.Writer
	Log            *slog.Logger
}

// errUsage marks an error whose message is already a usage text.
var errUsage = errors.New("usage")

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run is the whole program behind main, testable in process.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr, Log: newLogger(stderr, os.Getenv("ROAMSETTLE_LOG"))}
	// A command that opens a database serve owns hands itself to serve
	// (admin.go): it needs the command line as typed.
	return runCommand(withInvocation(ctx, &invocation{args: args, env: env}), env, args)
}

// runCommand runs one command line and maps its error to the exit code,
// here or, for a command handed to it, inside serve.
func runCommand(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "roamsettle: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return 2
	}
	err := cmd.run(ctx, env, args[1:])
	var fe *forwardedExit
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &fe):
		return fe.code // serve printed what there was to say
	}
	fmt.Fprintf(env.Stderr, "roamsettle %s: %v\n", args[0], err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "roamsettle settles EV-charging roaming under OCPI (2.1.1, 2.2.1, 2.3.0).")
	fmt.Fprintln(w, "\nUsage: roamsettle <command> [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `roamsettle <command> --help` for a command's flags.")
	fmt.Fprintln(w, "Configuration: --config FILE (TOML) or ./roamsettle.toml; logging level: ROAMSETTLE_LOG=debug|info|warn|error.")
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil || level == "" {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// newFlagSet makes a subcommand's flag set whose --help prints the usage
// line, the description and the flags.
func newFlagSet(env *Env, name, args, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: roamsettle %s [flags] %s\n\n%s\n\nFlags:\n", name, args, description)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and maps a bad flag to errUsage (the flag package has
// already printed why).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
