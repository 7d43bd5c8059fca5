#!/usr/bin/env bash
# The one-command demo: what ptq is for, end to end, offline.
#   1. set up and build if needed (scripts/setup.sh: Debian packages incl. the training corpus, the torch wheel)
#   2. train ptq's default model, or reuse it (ptq train --preset default -> results/models/default)
#   3. run experiments/demo.yaml: fp, RTN, GPTQ, AWQ-academic, AWQ-LLMC, OmniQuant, AWQ->OmniQuant at w2/w3/w4
#      (groups of 64) and w8a8, 2 calibration seeds, held-out perplexity (store: results/demo/demo.db, resumable)
#   4. export the best w4 cell in AutoAWQ GEMM format, verified bit for bit against the fake-quant model
#   5. write results/demo/: table.md/.csv/.tex, ppl_vs_bits.svg, report.html, export/ ; print the Markdown table
# Everything is cached: a second run only re-reads the store (under 2 minutes). Environment: PTQ_THREADS (default 0 =
# all cores), PTQ_BUILD_DIR (build), PTQ_DEMO_DIR (results/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
BUILD=${PTQ_BUILD_DIR:-build}
OUT=${PTQ_DEMO_DIR:-results/demo}
THREADS=${PTQ_THREADS:-0}
PTQ="$BUILD/ptq"
say() { echo "== demo: $1 ($(( $(date +%s) - t0 )) s)"; }

say "set-up and build (scripts/setup.sh)"
scripts/setup.sh > "${TMPDIR:-/tmp}/ptq_demo_setup.log" 2>&1 || { tail -30 "${TMPDIR:-/tmp}/ptq_demo_setup.log"; exit 1; }

say "default model (ptq train --preset default)"
"$PTQ" train --preset default --threads "$THREADS"

mkdir -p "$OUT"
say "experiment matrix experiments/demo.yaml -> $OUT/demo.db"
"$PTQ" run experiments/demo.yaml --db "$OUT/demo.db" --threads "$THREADS"

# The best w4 method: lowest mean held-out ppl in the w4g64 column (the CSV table: method,bits,dataset,n,mean,std).
best=$("$PTQ" table --db "$OUT/demo.db" --matrix demo --format csv |
       awk -F, 'NR > 1 && $1 != "fp" && $2 == "w4g64" { if (min == "" || $5 < min) { min = $5; m = $1 } } END { print m }')
[ -n "$best" ] || { echo "demo: no finished w4g64 cell in $OUT/demo.db" >&2; exit 1; }
say "export: $best w4g64 seed s0 in AutoAWQ GEMM format -> $OUT/export"
if [ ! -f "$OUT/export/autoawq_quant_model/config.json" ]; then
  rm -f "$OUT/export.db"  # the export's own store: an export folder that is gone means the cell must run again
  "$PTQ" run experiments/demo.yaml --only "method=$best,bits=w4g64,seed=s0" --db "$OUT/export.db" \
    --set save.save_autoawq=True --set save.save_fake=True --set save.save_path="$OUT/export" --threads "$THREADS"
fi
# Verified once inside the run (save.verify_export); checked again here against fake_quant_model/ beside it.
"$PTQ" verify-export "$OUT/export/autoawq_quant_model" --seq-len 256 --max-windows 20 --threads "$THREADS"

say "tables, figure and report -> $OUT"
for f in md csv latex; do
  ext=$f; [ $f = latex ] && ext=tex
  "$PTQ" table --db "$OUT/demo.db" --matrix demo --format $f > "$OUT/table.$ext"
done
"$PTQ" plot --db "$OUT/demo.db" --matrix demo --out "$OUT/ppl_vs_bits.svg" > /dev/null
"$PTQ" report --db "$OUT/demo.db" --matrix demo --html --out "$OUT/report.html" > /dev/null

echo
cat "$OUT/table.md"
echo
say "done: $OUT/{table.md,table.csv,table.tex,ppl_vs_bits.svg,report.html,export/}"
