#!/usr/bin/env bash
# The whole job (`roamsettle run`: price, reconcile, invoice, report) on a
# database, as a user runs it: a provisional run of the period, then with
# RUN_BENCH_FINAL=1 the final one (numbered invoices), each as one process
# under /usr/bin/time (wall, CPU, peak RSS), then each step's time and
# counts as the run recorded them (`roamsettle runs show ID --json`).
#
#   RUN_BENCH_DB=FILE RUN_BENCH_PERIOD=P RUN_BENCH_CONFIG=TOML scripts/bench-run.sh
#       an existing database (P: YYYY-MM or YYYY-MM-DD..YYYY-MM-DD); the
#       config's [invoicing] and [partners.invoicing] sections are what make
#       invoices (without them the run writes statements and reports only);
#       without RUN_BENCH_CONFIG, RUN_BENCH_DATA=DIR (the gen folder the
#       database was ingested from) gives the demo's config for its parties;
#   scripts/bench-run.sh
#       without RUN_BENCH_DB: gen of RUN_BENCH_SESSIONS sessions (default
#       1,000,000) of RUN_BENCH_PARTNERS partners (default 8, at most 20)
#       for RUN_BENCH_MONTH (default 2025-01), ingested into a database
#       under a temporary folder (removed at the end unless RUN_BENCH_KEEP=1),
#       with the demo's config for its parties. RUN_BENCH_LAYOUT=daily
#       ingests it night by night instead (TestBuildDailyBenchData splits
#       it by the day each CDR ends): each partner's CDRs then lie in one
#       block per night across the month, as nightly pulls store them,
#       where gen's folder stores one block per partner.
#
# RUN_BENCH_OUT is the output folder (default: a temporary one, removed).
# The database is written (priced rows, reconciliations, run records): use
# a copy when the original must stay as it is. The machine is shared: run
# it under `flock /work/coord/bench.lock`, and read CPU beside wall time.
set -euo pipefail
bin=$(realpath "${BIN:-./bin/roamsettle}")
work=$(mktemp -d "${TMPDIR:-/tmp}/roamsettle-bench-run.XXXXXX")
keep=${RUN_BENCH_KEEP:-0}
cleanup() { if [ "$keep" != 1 ]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

timed() { # label, command...: the process's wall, CPU and peak RSS
	local label=$1
	shift
	/usr/bin/time -o "$work/time" -f "%e %U %S %M" "$@"
	read -r wall user sys rss <"$work/time"
	printf '%s: wall %s s, CPU %.2f s (user %s + sys %s), peak RSS %d MiB\n' \
		"$label" "$wall" "$(echo "$user + $sys" | bc)" "$user" "$sys" "$((rss / 1024))"
}

# The demo's config (cmd/roamsettle/demo_config.go) for the parties of a
# generated folder: database, tokens, and the [invoicing] sections.
config_for() { # data folder, database, config file
	jq -r --arg db "$2" --arg tokens "$1/tokens.ndjson" '
		"database = \($db | @json)\ntokens = \($tokens | @json)\n",
		"[invoicing]\nbilling = \"self_billing\"\npayment_terms_days = 30",
		"payment_note = \"Payment within 30 days of the invoice date.\"\n",
		"[invoicing.self]\nlegal_name = \"Roam Settle Mobility B.V.\"",
		"country_code = \(.emsp | split("-")[0] | @json)\nparty_id = \(.emsp | split("-")[1] | @json)",
		"street = \"Keizersgracht 100\"\npostal_code = \"1015 CJ\"\ncity = \"Amsterdam\"\ncountry = \"NL\"\nvat_id = \"NL000000000B01\"",
		(.parties[] |
			"\n[[partners]]\ncountry_code = \(.country_code | @json)\nparty_id = \(.party_id | @json)",
			"name = \(.name | @json)\nrole = \"CPO\"\nversion = \(.ocpi_version | @json)",
			"[partners.invoicing]\nstreet = \"Stationsplein 1\"\npostal_code = \"1000\"",
			"city = \(.time_zone | split("/") | last | gsub("_"; " ") | @json)\ncountry = \(.country_code | @json)",
			"vat_id = \(.country_code + "000000000" | @json)\niban = \"NL00DEMO0000000000\"")
	' "$1/manifest.json" >"$3"
}

db=${RUN_BENCH_DB:-}
config=${RUN_BENCH_CONFIG:-}
period=${RUN_BENCH_PERIOD:-}
if [ -z "$db" ]; then
	n=${RUN_BENCH_SESSIONS:-1000000}
	parties=${RUN_BENCH_PARTNERS:-8}
	period=${RUN_BENCH_MONTH:-2025-01}
	db=$work/run.duckdb
	data=$work/data
	layout=${RUN_BENCH_LAYOUT:-partners}
	echo "== gen $n sessions of $parties partners for $period, ingest into $db ($layout layout)"
	timed "gen" "$bin" gen --cdrs "$n" --partners "$parties" --month "$period" --seed 7 --out "$data" --quiet
	case $layout in
	partners)
		timed "ingest" "$bin" ingest --db "$db" --quiet "$data"
		;;
	daily)
		RUN_BENCH_DAILY_SRC="$data" RUN_BENCH_DAILY_DST="$work/daily" \
			go test -count=1 -timeout 60m -run '^TestBuildDailyBenchData$' ./cmd/roamsettle
		timed "ingest" "$bin" ingest --db "$db" --quiet "$work"/daily/*
		rm -rf "$work/daily"
		;;
	*)
		echo "RUN_BENCH_LAYOUT=$layout: want partners or daily" >&2
		exit 2
		;;
	esac
	du -sh "$data" "$db" | awk '{print "size: " $2 " " $1}'
	config=$work/roamsettle.toml
	config_for "$data" "$db" "$config"
elif [ -z "$config" ] && [ -n "${RUN_BENCH_DATA:-}" ]; then
	config=$work/roamsettle.toml
	config_for "$RUN_BENCH_DATA" "$db" "$config"
fi
if [ -z "$period" ]; then
	echo "RUN_BENCH_PERIOD is required with RUN_BENCH_DB" >&2
	exit 2
fi
out=${RUN_BENCH_OUT:-$work/out}
cfg=()
if [ -n "$config" ]; then
	cfg=(--config "$config")
else
	echo "(no RUN_BENCH_CONFIG: no [invoicing] details, so no invoices)"
fi

steps() { # the newest run's steps: seconds and counts, and the seconds per kind of step
	local id
	id=$("$bin" runs --db "$db" --json --limit 1 | jq -r '.[0].id')
	"$bin" runs show "$id" --db "$db" --json | jq -r '
		def t: (sub("\\.[0-9]+"; "") | fromdate) + (capture("\\.(?<f>[0-9]+)") // {f: "0"} | "0." + .f | tonumber);
		def secs: (.ended | t) - (.started | t);
		def r3: . * 1000 | round / 1000;
		"run \(.id) \(.period) \(.kind): \(.status), attempts \(.attempts)",
		(.steps[] | "  step \(.name | . + " " * ([0, 24 - length] | max)) \(secs | r3) s  \(.counts | to_entries | map("\(.key) \(.value)") | join(", "))"),
		"  per kind of step: " + ([.steps | group_by(.name | split(" ")[0])[] | "\(.[0].name | split(" ")[0]) \(map(secs) | add | r3) s"] | join(", ")),
		"  files: \(.files | length), \(([.files[].bytes] | add // 0) / 1048576 | . * 10 | round / 10) MiB"'
}

echo "== $(uptime)"
timed "run $period (provisional)" "$bin" run --db "$db" "${cfg[@]}" --period "$period" --out "$out" --no-pull --wait 0
steps
if [ "${RUN_BENCH_FINAL:-0}" = 1 ]; then
	echo "== $(uptime)"
	timed "run $period --final" "$bin" run --db "$db" "${cfg[@]}" --period "$period" --out "$out" --no-pull --wait 0 --final
	steps
fi
echo "== $(uptime)"
