# Every go command runs with the same tag set, so the DuckDB driver is never
# recompiled between build, vet and test (stack.md).
export GOFLAGS := -tags=duckdb_arrow
GO ?= go
BIN := bin/roamsettle

.PHONY: build test demo readme-pictures bench bench-ingest bench-invoicing fuzz vet fmt check-imports check-docs clean load

build:
	$(GO) build -o $(BIN) ./cmd/roamsettle

# The README's test command: vet, formatting, the import rules and every test.
# The end-to-end tests of cmd/roamsettle run the real binary (crash and load
# tests among them): about 3 minutes on a quiet machine, well over go test's
# default 10-minute limit when the machine is shared, hence -timeout.
test: vet check-imports
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) test -count=1 -timeout 45m ./...

vet:
	$(GO) vet ./...

# The whole job on the embedded default: a generated month for 8 CPOs ingested into a fresh DuckDB file,
# then a provisional and a final run (statements, numbered invoices, dispute workbooks, KPI reports,
# Parquet exports) into out/demo/2026-10/<partner>/ and out/demo/parquet/, and a summary.
demo: build
	./$(BIN) demo --out out/demo

# The README's pictures (docs/invoice.png, docs/kpi.png) from the demo's own output; needs pdftoppm.
readme-pictures: demo
	./scripts/readme-pictures.sh out/demo

# Throughput benchmarks; each prints its own rates.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./ocpi ./ingest ./synth ./pricing
	$(MAKE) bench-ingest
	$(MAKE) bench-invoicing

# gen + ingest of 1 M CDRs into a file database, printing CDRs/s and peak memory.
BENCH_CDRS ?= 1000000
bench-ingest: build
	./scripts/bench-ingest.sh $(BENCH_CDRS)

# Invoicing for one partner's month (BENCH_PARTNER_CDRS, default 500,000: a twentieth of 10 M CDRs): the
# statement assembled (CDRs/s, grouped by location and tariff, and per CDR), and each document rendered as
# JSON, PDF, XLSX and UBL (rows/s, time per document, bytes).
bench-invoicing:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./invoicing

# Each fuzz target for a fixed time (go test -fuzz runs one target per call).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

check-imports:
	../shared/tools/check-imports

# Renders sample invoices, credit notes and statements and checks them as a reader would: every PDF page
# rendered to PNG (pdftoppm) and not blank, the PDF text and the XLSX read by LibreOffice headless agreeing
# with the document's totals, the UBL documents passing the EN 16931 rules (../shared/tools/check-ubl).
# Needs Debian's poppler-utils, libreoffice-calc-nogui, default-jre-headless, libsaxonhe-java and
# fonts-droid-fallback (.ci/run installs them); `make test` needs none. CHECK_DOCS_OUT=DIR keeps the files.
check-docs:
	./scripts/check-docs.sh

clean:
	rm -rf bin out

# The OCPI push load test: 50 partners push LOAD_CDRS CDRs (5 % duplicates) to
# `roamsettle serve` on loopback with a DuckDB file; prints CDR POSTs/s, p50/p99
# latency, and the group commit's batch size and duration; fails unless the
# stored count is exact. LOAD_CONC: concurrent POSTs per partner.
LOAD_CDRS ?= 100000
LOAD_CONC ?= 4
load:
	LOAD_CDRS=$(LOAD_CDRS) LOAD_CONC=$(LOAD_CONC) $(GO) test -run '^$$' -bench '^BenchmarkLoadPush$$' -benchtime 1x -timeout 30m ./cmd/roamsettle

# Re-price 10 M CDRs end to end from a file database and write them back,
# without and with priced lines, printing CDRs/s, each phase's wall and CPU
# time, peak memory and the tables' row-group layout. The database is built
# once the way users build one (gen, then ingest: ~10 GB of raw archive,
# minutes on a quiet machine) and kept at REPRICE_BENCH_DB;
# REPRICE_BENCH_LAYOUT=replicated builds the other layout (a month ingested,
# then replicated in SQL). Run it under flock /work/coord/bench.lock.
REPRICE_BENCH_CDRS ?= 10000000
REPRICE_BENCH_LAYOUT ?= ingest
REPRICE_BENCH_DB ?= /tmp/roamsettle-bench/reprice-$(REPRICE_BENCH_LAYOUT)-$(REPRICE_BENCH_CDRS)-v3.duckdb
.PHONY: bench-reprice
bench-reprice: build
	REPRICE_BENCH_CDRS=$(REPRICE_BENCH_CDRS) REPRICE_BENCH_LAYOUT=$(REPRICE_BENCH_LAYOUT) REPRICE_BENCH_DB=$(REPRICE_BENCH_DB) ./scripts/bench-reprice.sh

# Reconcile throughput (CDRs/s, and how many CDRs the screen accepted from
# columns and evaluated whole) over every partner of a generated month of
# RECONCILE_BENCH_CDRS sessions (default 20 000), or of an existing database:
# RECONCILE_BENCH_DB (a copy: it is written to), RECONCILE_BENCH_PERIOD,
# RECONCILE_BENCH_CONFIG, RECONCILE_BENCH_TOKENS. See
# cmd/roamsettle/reconcile_bench_test.go. Large ones under the bench lock.
.PHONY: bench-reconcile
bench-reconcile:
	$(GO) test -run '^$$' -bench '^BenchmarkReconcile$$' -benchtime 3x -timeout 60m ./cmd/roamsettle

# What DuckDB alone spends on the reads and writes each step must do, on a
# database after a run of its period with priced lines (FLOOR_BENCH_DB,
# attached read-only): each step's own read queries, consumed inside
# DuckDB, copies of the tables it writes, checkpointed, and the Parquet
# exports. CPU seconds per operation: their sum over the cores bounds a
# step's time from below. See store/floor_bench_test.go.
.PHONY: bench-floor
bench-floor:
	@test -n "$(FLOOR_BENCH_DB)" || { echo "set FLOOR_BENCH_DB to a database after a run with priced lines" >&2; exit 2; }
	FLOOR_BENCH_DB=$(FLOOR_BENCH_DB) $(GO) test -run '^$$' -bench '^BenchmarkFloor$$' -benchtime 1x -timeout 30m ./store

# What a small import, serve's first CDR and a small reprice cost, as whole
# processes, in an empty database and in databases of 1 and 10 generated
# months (~1 M CDRs a month, built once through `ingest`, raw archive
# included, and kept in HISTORY_BENCH_DIR; ~10 GB of raw archive at 10 M).
# Heavy: run it under the bench lock. HISTORY_BENCH_MONTHS, _RUNS, _TAG:
# see cmd/roamsettle/bench_history_test.go.
HISTORY_BENCH_DIR ?= /tmp/roamsettle-bench
.PHONY: bench-history
bench-history: build
	HISTORY_BENCH_DIR=$(HISTORY_BENCH_DIR) HISTORY_BENCH_BIN=$(abspath $(BIN)) \
		$(GO) test -count=1 -timeout 600m -run '^TestBenchHistory$$' -v ./cmd/roamsettle

# The whole job (`roamsettle run`: price, reconcile, invoice, report) with each
# step's time and counts and the process's wall, CPU and peak RSS: on a
# generated month of RUN_BENCH_SESSIONS (default 1 M), or on an existing
# database with RUN_BENCH_DB, RUN_BENCH_PERIOD and RUN_BENCH_CONFIG (its
# [invoicing] sections make the invoices); RUN_BENCH_FINAL=1 adds the final
# run. See scripts/bench-run.sh. Heavy: run it under the bench lock.
.PHONY: bench-run
bench-run: build
	./scripts/bench-run.sh
