#!/usr/bin/env bash
# Nightly regression run: experiments/nightly.yaml into a fresh store, its tables into results/nightly/ (Markdown,
# LaTeX, CSV), its figure (nightly.svg) and HTML report (nightly.html), and `ptq regress` against the baseline store
# (PTQ_NIGHTLY_BASELINE, default results/nightly/baseline.db; the first run becomes the baseline). Exit 3 when a cell
# regressed beyond PTQ_NIGHTLY_TOLERANCE (default 0.01 relative). Run from anywhere after scripts/setup.sh; ~10 s on
# 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PTQ=${PTQ:-build/ptq}
OUT=results/nightly
mkdir -p "$OUT"
DB="$OUT/nightly-$(date -u +%Y%m%dT%H%M%S).db"
BASE=${PTQ_NIGHTLY_BASELINE:-$OUT/baseline.db}
"$PTQ" run experiments/nightly.yaml --db "$DB"
for fmt in md latex csv; do
  ext=$fmt; [ "$fmt" = latex ] && ext=tex
  "$PTQ" table --db "$DB" --matrix nightly --format "$fmt" > "$OUT/nightly.$ext"
done
"$PTQ" plot --db "$DB" --matrix nightly --out "$OUT/nightly.svg"
"$PTQ" report --html --db "$DB" --matrix nightly --out "$OUT/nightly.html"
if [ ! -f "$BASE" ]; then
  cp "$DB" "$BASE"
  echo "no baseline yet: $DB becomes $BASE"
  exit 0
fi
"$PTQ" regress --db "$DB" --baseline "$BASE" --matrix nightly --tolerance "${PTQ_NIGHTLY_TOLERANCE:-0.01}" \
  | tee "$OUT/regress.md"
