#!/usr/bin/env bash
# ptq's performance, measured against the hardware and against itself, as ratios in one run (results/perf/):
#   1. the machine: `ptq version --json` (LibTorch, BLAS, fp32 GEMM rate), CPU model, cores, memory, load
#   2. the Google Benchmark programs in tests/bench, JSON output imported into the store (ptq bench-import):
#      forward throughput vs the GEMM rate (hidden 512/1024/2048), AWQ block search batched vs one ratio at a time,
#      GPTQ per 4096² layer, fake quantizer and packers vs a tensor copy
#   3. whole-matrix cost: experiments/methods_overview.yaml (6 methods x 3 bit settings) on the default model in one
#      process (shared calibration capture, fp baseline and step-1 cache) vs the same cells as separate processes,
#      each with its own store and cache; the perplexities must agree
#   4. peak host memory of quantizing (GPTQ w4g128) random Llama models of 4 and 32 layers of equal width
#   5. results/perf/report.md (scripts/reports/format_perf_report.py): every figure, target and ratio
# Usage: scripts/perf_report.sh [OUT_DIR (default results/perf)]
# Environment: PTQ_BUILD_DIR (build), PTQ_DATA_DIR (../shared/data), PTQ_PERF_THREADS (LibTorch threads of the
#   benchmarks, a list: default "1 2"), PTQ_PERF_MODEL (the matrix's model; default results/models/default, trained
#   with `ptq train --preset default` when missing), PTQ_PERF_SKIP (sections to skip: bench,matrix,memory, or single
#   benchmark programs such as bench_awq; the report takes each program's newest run from the store),
#   PTQ_PERF_MEM_HIDDEN (1024), PTQ_PERF_MEM_INTER (2816).
# Run it on an otherwise idle machine: every number is a wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${PTQ_BUILD_DIR:-build}
BIN=$ROOT/$BUILD/ptq
DATA=${PTQ_DATA_DIR:-$ROOT/../shared/data}
OUT=${1:-results/perf}
THREADS_LIST=${PTQ_PERF_THREADS:-1 2}
MODEL=${PTQ_PERF_MODEL:-results/models/default}
SKIP=",${PTQ_PERF_SKIP:-},"
[ -x "$BIN" ] || { echo "perf_report.sh: no ptq binary at $BIN (run scripts/setup.sh)"; exit 2; }
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)
DB=$OUT/perf.db
WORK=$(mktemp -d /tmp/ptq_perf_XXXXXX)
[ -n "${PTQ_KEEP_TMP:-}" ] || trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
say() { echo "== perf: $1 ($(( $(date +%s) - t0 )) s)"; }
now() { date +%s.%N; }

say "machine"
"$BIN" version --json | tail -1 >"$WORK/version.json"
python3 - "$WORK/version.json" "$OUT/raw/machine.json" <<'PY'
import json, os, platform, sys
v = json.load(open(sys.argv[1]))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem = next((int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
json.dump({"ptq": v, "cpu_model": cpu, "cpus": os.cpu_count(), "mem_bytes": mem, "kernel": platform.release(),
           "loadavg_start": open("/proc/loadavg").read().split()[:3]}, open(sys.argv[2], "w"), indent=1)
PY

if [[ $SKIP != *,bench,* ]]; then
  # name | extra Google Benchmark flags (filters keep the report within minutes)
  benches=("bench_fake_quant|--benchmark_filter=BM_TensorCopy|BM_FakeQuant(InPlace)?/gran:2/bits:4/sym:0"
           "bench_pack|"
           "bench_forward|--benchmark_filter=BM_Forward/hidden:[0-9]+/seq:512"
           "bench_gptq|--benchmark_filter=BM_GptqLayer/act_order:0"
           "bench_awq|")
  for threads in $THREADS_LIST; do
    for entry in "${benches[@]}"; do
      prog=${entry%%|*}
      flags=${entry#*|}
      exe=$BUILD/tests/bench/$prog
      [ -x "$exe" ] || { echo "perf_report.sh: $exe missing (PTQ_BUILD_BENCH=ON scripts/setup.sh)"; exit 2; }
      [[ $SKIP != *,$prog,* ]] || continue  # PTQ_PERF_SKIP may name single programs too
      # bench_awq and bench_gptq take minutes per benchmark at one thread: run them once, at the first thread count.
      if [[ $prog == bench_awq || $prog == bench_gptq ]] && [ "$threads" != "${THREADS_LIST%% *}" ]; then continue; fi
      say "$prog --threads=$threads"
      json=$OUT/raw/${prog}_t${threads}.json
      args=(--threads="$threads" --benchmark_out="$json.tmp" --benchmark_out_format=json)
      [ -z "$flags" ] || args+=("$flags")
      "$exe" "${args[@]}" >"$WORK/$prog.log" 2>&1 || { cat "$WORK/$prog.log"; exit 1; }
      mv "$json.tmp" "$json"
      "$BIN" bench-import --db "$DB" --label perf_report "$json" >/dev/null
    done
  done
fi

if [[ $SKIP != *,matrix,* ]]; then
  if [ ! -f "$MODEL/config.json" ]; then
    say "default model (ptq train --preset default)"
    "$BIN" train --preset default
  fi
  model_abs=$(cd "$MODEL" && pwd)
  # The matrix as shipped, moved to the default model and its own text (calibration split, held-out split);
  # 16 calibration windows of 256 tokens as the demo, so the 36 runs take minutes, not an hour.
  say "methods_overview: one process vs separate processes"
  PTQ_BUILD_DIR=$BUILD scripts/bench_matrix_sharing.sh experiments/methods_overview.yaml "$OUT/raw/matrix_cost.json" \
    --set "model.path=$model_abs" --set calib.name=text --set "calib.path=$model_abs/data/calib.txt" \
    --set calib.preproc=random_windows --set calib.n_samples=16 --set calib.first_doc=0 --set calib.last_doc=-1 \
    --set eval.name=text --set "eval.path=$model_abs/data/valid.txt" --set eval.first_doc=0 --set eval.last_doc=-1
fi

if [[ $SKIP != *,memory,* ]]; then
  H=${PTQ_PERF_MEM_HIDDEN:-1024}
  I=${PTQ_PERF_MEM_INTER:-2816}
  : >"$WORK/memory.tsv"
  for layers in 4 32; do
    say "peak memory: random Llama, hidden $H, $layers layers, GPTQ w4g128"
    "$BIN" random-model --out "$WORK/rand$layers" --hidden "$H" --intermediate "$I" --layers "$layers" \
      --heads $((H / 64)) --vocab 32000 --dtype float32 --tokenizer "$DATA/models/llama2-tokenizer/tokenizer.model" \
      >/dev/null
    bytes=$(stat -c %s "$WORK/rand$layers/model.safetensors")
    # Page cache of the checkpoint dropped first is not needed: peak RSS counts this process's pages only.
    "$BIN" run --config configs/quantization/methods/GPTQ/gptq_w_only.yml --set "model.path=$WORK/rand$layers" \
      --set quant.weight.group_size=128 --set calib.preproc=random_windows --set calib.n_samples=8 \
      --set calib.seq_len=512 --set calib.bs=-1 \
      --set eval.seq_len=512 --set eval.max_windows=2 --set "eval.eval_pos=[fake_quant]" --threads 1 --json \
      >"$WORK/mem$layers.log" 2>&1 || { tail -20 "$WORK/mem$layers.log"; exit 1; }
    tail -1 "$WORK/mem$layers.log" | python3 -c "
import json, sys
j = json.load(sys.stdin)
t = {x['stage']: x['seconds'] for x in j.get('timings', [])} if isinstance(j.get('timings'), list) else j.get('timings', {})
print('\t'.join(map(str, [$layers, $bytes, j['memory']['peak_rss_bytes'], json.dumps(t)])))" >>"$WORK/memory.tsv"
    rm -rf "$WORK/rand$layers"
  done
  python3 - "$WORK/memory.tsv" "$OUT/raw/memory.json" "$H" "$I" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
r = {int(a): {"checkpoint_bytes": int(b), "peak_rss_bytes": int(c), "timings": json.loads(d)} for a, b, c, d in rows}
bound = 1.3 * r[4]["peak_rss_bytes"] + (r[32]["checkpoint_bytes"] - r[4]["checkpoint_bytes"])
json.dump({"hidden": int(sys.argv[3]), "intermediate": int(sys.argv[4]), "method": "gptq w4g128", "runs": r,
           "bound_bytes": bound, "ratio_to_bound": r[32]["peak_rss_bytes"] / bound}, open(sys.argv[2], "w"), indent=1)
print(f"memory: 4 layers {r[4]['peak_rss_bytes'] / 2**20:.0f} MiB, 32 layers {r[32]['peak_rss_bytes'] / 2**20:.0f} MiB, "
      f"bound {bound / 2**20:.0f} MiB")
PY
fi

python3 - "$OUT/raw/machine.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
say "report"
PTQ="$BIN" python3 scripts/reports/format_perf_report.py "$OUT" "$DB" >"$OUT/report.md.tmp"
mv "$OUT/report.md.tmp" "$OUT/report.md"
cat "$OUT/report.md"
say "done: $OUT/report.md"
