#!/usr/bin/env bash
# make check-docs: renders the sample documents (invoicing's TestSampleDocuments) and checks them with the tools
# a reader would use:
#   PDF   pdftoppm renders every page to PNG and no page may be blank (scripts/inkcheck.go); pdftotext must show
#         the number, both parties' names as written (Polish, Greek, Turkish, Japanese), "page N of M" and the total;
#   XLSX  LibreOffice headless converts every sheet to CSV: the totals must be the document's and the lines must add
#         up to the net total;
#   UBL   ../shared/tools/check-ubl applies the EN 16931 business rules to every invoice and credit note.
# Needs poppler-utils, libreoffice-calc-nogui, default-jre-headless, libsaxonhe-java and fonts-droid-fallback
# (.ci/run installs them); `make test` needs none of them. CHECK_DOCS_OUT keeps the files (default: a temporary
# directory, removed).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-tags=duckdb_arrow
for tool in pdftoppm pdftotext pdfinfo soffice python3; do
  command -v "$tool" >/dev/null || { echo "check-docs needs $tool: apt-get install -y poppler-utils libreoffice-calc-nogui default-jre-headless libsaxonhe-java fonts-droid-fallback"; exit 2; }
done
out=${CHECK_DOCS_OUT:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/docs "$out"/png "$out"/csv "$out"/lo-profile
mkdir -p "$out"/docs "$out"/png "$out"/csv

echo "== rendering the sample documents into $out/docs"
go test -count=1 -run '^TestSampleDocuments$' ./invoicing -args -sample-docs="$out/docs" >/dev/null

echo "== PDF: every page rendered to PNG by pdftoppm, none blank"
for pdf in "$out"/docs/*.pdf; do
  pdftoppm -r 40 -png "$pdf" "$out/png/$(basename "$pdf" .pdf)"
done
go run scripts/inkcheck.go "$out"/png/*.png | awk '{n++} /blank/ {print} END {print n " pages checked"}'
go run scripts/inkcheck.go "$out"/png/*.png >/dev/null

echo "== XLSX: every sheet converted to CSV by LibreOffice headless"
# A private profile: LibreOffice refuses to start twice on one profile.
soffice -env:UserInstallation="file://$out/lo-profile" --headless --norestore \
  --convert-to 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1' \
  --outdir "$out/csv" "$out"/docs/*.xlsx >/dev/null 2>&1
python3 scripts/check-docs.py "$out/docs" "$out/csv"

echo "== UBL: EN 16931 business rules"
../shared/tools/check-ubl "$out"/docs/*.ubl.xml
echo "check-docs: all documents pass"
