#!/usr/bin/env bash
# make readme-pictures: the README's pictures, made from the demo's own output (`make demo`, out/demo): the
# first page of a partner's numbered invoice (docs/invoice.png) and of its KPI report with the charts
# (docs/kpi.png), rendered by pdftoppm (Debian's poppler-utils) at 60 dpi so that each PNG stays small (it
# fails over 150 KB). Each PNG is rendered beside its final name and renamed over it. Usage:
#   scripts/readme-pictures.sh [DEMO_DIR [PERIOD [CC-PID]]]   (default: out/demo 2026-10 NL-EVB)
set -euo pipefail
cd "$(dirname "$0")/.."
demo=${1:-out/demo}
period=${2:-2026-10}
party=${3:-NL-EVB}
command -v pdftoppm >/dev/null || { echo "readme-pictures needs pdftoppm: apt-get install -y poppler-utils" >&2; exit 2; }
dir="$demo/$period/$party"
invoice=$(ls "$dir"/INV-*.pdf 2>/dev/null | head -n 1 || true)
kpi="$dir/kpi-$party-$period.pdf"
if [ -z "$invoice" ] || [ ! -f "$kpi" ]; then
  echo "no invoice or KPI report under $dir: run make demo first" >&2
  exit 1
fi
mkdir -p docs
tmp=$(mktemp -d docs/.tmp-pictures-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
render() { # PDF NAME: the PDF's first page as docs/NAME.png
  pdftoppm -png -r 60 -f 1 -l 1 -singlefile "$1" "$tmp/$2"
  size=$(wc -c < "$tmp/$2.png")
  if [ "$size" -gt 153600 ]; then
    echo "docs/$2.png would be $size bytes (over 150 KB)" >&2
    exit 1
  fi
  mv -f "$tmp/$2.png" "docs/$2.png"
  echo "docs/$2.png  $size bytes  first page of $1"
}
render "$invoice" invoice
render "$kpi" kpi
