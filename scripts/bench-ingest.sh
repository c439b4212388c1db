#!/usr/bin/env bash
# gen + ingest benchmark: generates N CDRs, then ingests them into a fresh
# DuckDB file and prints the rates and peak memory that each step reports.
set -euo pipefail
n=${1:-1000000}
bin=${BIN:-./bin/roamsettle}
work=$(mktemp -d "${TMPDIR:-/tmp}/roamsettle-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== gen $n CDRs"
"$bin" gen --cdrs "$n" --seed 7 --out "$work/data" --quiet
echo "== ingest into a file database"
"$bin" ingest --db "$work/bench.duckdb" --quiet "$work/data"
du -sh "$work/bench.duckdb" | awk '{print "database file: " $1}'
