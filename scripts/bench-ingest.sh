#!/usr/bin/env bash
# gen + ingest benchmark: generates N CDRs, then ingests them into a fresh
# DuckDB file and prints the rates and peak memory that each step reports.
# The machine is shared: compare builds back to back, several runs each, and
# look at the CPU seconds as well as the wall time.
set -euo pipefail
n=${1:-1000000}
bin=${BIN:-./bin/roamsettle}
work=$(mktemp -d "${TMPDIR:-/tmp}/roamsettle-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

timed=()
if [ -x /usr/bin/time ]; then
	timed=(/usr/bin/time -o "$work/time" -f "process: wall %e s, user %U s, system %S s, max RSS %M KiB")
fi

echo "== gen $n CDRs"
"$bin" gen --cdrs "$n" --seed 7 --out "$work/data" --quiet
echo "== ingest into a file database"
"${timed[@]}" "$bin" ingest --db "$work/bench.duckdb" --quiet "$work/data"
[ -f "$work/time" ] && cat "$work/time"
du -sh "$work/bench.duckdb" | awk '{print "database file: " $1}'
