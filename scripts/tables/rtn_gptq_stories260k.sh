#!/usr/bin/env bash
# fp vs RTN vs GPTQ on stories260K (TinyStories stories 0..499, seq_len 256), at w2g32, w3g32, w4g32 and w8a8, GPTQ
# with three calibration seeds (128 x 256 tokens from stories 500..999, txt_general_preproc, actorder on).
# Writes results/stories260K_rtn_gptq.jsonl (one `ptq run --json` object per run) and the Markdown table
# results/stories260K_rtn_gptq.md.
# Run from the repository root after scripts/setup.sh. Until experiment matrices land, this script is the recipe.
set -euo pipefail
cd "$(dirname "$0")/../.."
PTQ=${PTQ:-build/ptq}
OUT=results/stories260K_rtn_gptq.jsonl
: > "$OUT"
declare -A SCHEME=(
  [w2g32]="--set quant.weight.bit=2"
  [w3g32]="--set quant.weight.bit=3"
  [w4g32]="--set quant.weight.bit=4"
  [w8a8]="--set quant.weight.bit=8 --set quant.weight.granularity=per_channel --set quant.weight.symmetric=true --set quant.act.bit=8 --set quant.act.symmetric=true --set quant.act.granularity=per_token"
)
for s in w2g32 w3g32 w4g32 w8a8; do
  $PTQ run --config configs/quantization/methods/RTN/rtn_w_only.yml ${SCHEME[$s]} --threads 1 --json | tail -n 1 >> "$OUT"
  for seed in 0 1 2; do
    $PTQ run --config configs/quantization/methods/GPTQ/gptq_w_only.yml ${SCHEME[$s]} --set calib.seed=$seed \
      --threads 1 --json | tail -n 1 >> "$OUT"
  done
done
python3 - "$OUT" > results/stories260K_rtn_gptq.md <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fp = rows[0]["evals"][0]["ppl"]
print(f"stories260K, TinyStories stories 0..499, seq_len 256 ({rows[0]['evals'][0]['tokens']} scored tokens); fp ppl {fp:.4f}\n")
print("| scheme | RTN ppl | GPTQ ppl (seed 0 / 1 / 2) | GPTQ mean ± sd |")
print("|---|---|---|---|")
by = {}
for r in rows:
    by.setdefault((r["quant"]["scheme"], r["method"]), []).append(r["evals"][1]["ppl"])
for s in ["w2g32", "w3g32", "w4g32", "w8a8"]:
    g = by[(s, "gptq")]
    print(f"| {s} | {by[(s, 'rtn')][0]:.4f} | {' / '.join(f'{x:.4f}' for x in g)} | {statistics.mean(g):.4f} ± {statistics.stdev(g):.4f} |")
PY
cat results/stories260K_rtn_gptq.md
