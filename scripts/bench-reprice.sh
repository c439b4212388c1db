#!/usr/bin/env bash
# reprice benchmark on a database built the way users build one: `gen` of N
# sessions, then `ingest` (its many small commits give the row-group layout
# users get). The database is built once and kept at $REPRICE_BENCH_DB;
# then `reprice` runs without and with priced lines, each under
# /usr/bin/time (wall, CPU, peak RSS). The machine is shared: run it under
# `flock /work/coord/bench.lock`, compare builds back to back, and look at
# the CPU seconds as well as the wall time.
#
# REPRICE_BENCH_LAYOUT=replicated builds the other layout instead: a base
# month of REPRICE_BENCH_BASE sessions ingested, then its CDRs and periods
# replicated in SQL with new keys up to N (large, ordered row groups).
set -euo pipefail
n=${REPRICE_BENCH_CDRS:-10000000}
layout=${REPRICE_BENCH_LAYOUT:-ingest}
db=${REPRICE_BENCH_DB:-/tmp/roamsettle-bench/reprice-$layout-$n.duckdb}
bin=${BIN:-./bin/roamsettle}
mkdir -p "$(dirname "$db")"
timed=()
if [ -x /usr/bin/time ]; then
	timed=(/usr/bin/time -f "  process: wall %e s, user %U s, system %S s, max RSS %M KiB")
fi
if [ ! -f "$db" ]; then
	case $layout in
	ingest)
		data="$db.data"
		echo "== gen $n sessions"
		"${timed[@]}" "$bin" gen --cdrs "$n" --seed 7 --out "$data" --quiet
		echo "== ingest into $db.building"
		"${timed[@]}" "$bin" ingest --db "$db.building" --quiet "$data"
		rm -rf "$data"
		mv "$db.building" "$db"
		mv "$db.building.raw" "$db.raw"
		;;
	replicated)
		REPRICE_BENCH_DB="$db" REPRICE_BENCH_CDRS="$n" go test -count=1 -timeout 60m -run '^TestBuildRepriceBenchDB$' -v ./cmd/roamsettle
		;;
	*)
		echo "REPRICE_BENCH_LAYOUT=$layout: want ingest or replicated" >&2
		exit 2
		;;
	esac
fi
uptime
for lines in false true; do
	echo "== reprice --lines=$lines ($layout layout)"
	"${timed[@]}" "$bin" reprice --db "$db" --period 2026-10 --lines=$lines --verbose --layout
done
