#!/usr/bin/env bash
# AWQ-academic (clip_sym: True, as llm-awq) vs AWQ-LLMC (clipping follows the asymmetric quantizer), trans_version v1
# and v2, against fp and RTN on stories260K (TinyStories stories 0..499, seq_len 256), at w2g32, w3g32, w4g32 and w8a8,
# SmoothQuant at w8a8, three calibration seeds (128 x 256 tokens of stories 500..999, one batch). Writes results/stories260K_awq.jsonl and
# the Markdown table results/stories260K_awq.md. Run from the repository root after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
PTQ=${PTQ:-build/ptq}
OUT=results/stories260K_awq.jsonl
: > "$OUT"
W8A8="--set quant.weight.bit=8 --set quant.weight.granularity=per_channel --set quant.weight.symmetric=true"
W8A8="$W8A8 --set quant.act.bit=8 --set quant.act.symmetric=true --set quant.act.granularity=per_token"
for s in w2g32 w3g32 w4g32 w8a8; do
  if [ "$s" = w8a8 ]; then SET="$W8A8"; else SET="--set quant.weight.bit=${s:1:1}"; fi
  $PTQ run --config configs/quantization/methods/RTN/rtn_w_only.yml $SET --threads 1 --json | tail -n 1 >> "$OUT"
  for variant in academic llmc; do
    for version in v1 v2; do
      for seed in 0 1 2; do
        $PTQ run --config configs/quantization/methods/Awq/awq_w_only_$variant.yml $SET \
          --set quant.special.trans_version=$version --set calib.seed=$seed --threads 1 --json | tail -n 1 >> "$OUT"
      done
    done
  done
done
for seed in 0 1 2; do
  $PTQ run --config configs/quantization/methods/SmoothQuant/smoothquant_w_a.yml --set calib.seed=$seed --threads 1 \
    --json | tail -n 1 >> "$OUT"
done
python3 scripts/tables/format_awq_table.py "$OUT" > results/stories260K_awq.md
cat results/stories260K_awq.md
