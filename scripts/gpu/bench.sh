#!/usr/bin/env bash
# ptq on a GPU, measured (the CUDA issue's figures), into results/gpu/ and its store results/gpu/gpu.db:
#   1. the machine: `ptq version --json` (GPU name, LibTorch, CUDA)
#   2. perplexity-evaluation throughput and MFU at seq 2048 of a Llama-2-7B-shaped random model (all 32 layers, fp16;
#      bench_eval_mfu, imported with ptq bench-import: the device name is stored with the numbers)
#   3. per-method wall time and peak GPU memory on the 7B shape with PTQ_GPU_LAYERS layers (default 4; a 7B block is a
#      7B block, so minutes per method for the whole model = seconds per block x 32, reported as such), 128 x 2048
#      calibration tokens (LLMC's setting; OmniQuant 2 epochs, scaled to its 20 likewise), offload on (weights in
#      pinned host memory, one block on the GPU), each run a `ptq run --json` record imported into the store
#   4. ppl-eval throughput and the same methods on ptq's default model (results/models/default, carried along), w4g64
#   5. results/gpu/report.md (scripts/reports/format_gpu_report.py)
# Usage (on the GPU machine, after scripts/gpu/build_cuda.sh): scripts/gpu/bench.sh [OUT_DIR (default results/gpu)]
# Environment: PTQ_BUILD_DIR (build-cuda), PTQ_DATA_DIR (../shared/data when present, else deps/bundle/data),
#   PTQ_GPU_DEVICE (cuda), PTQ_GPU_LAYERS (4), PTQ_GPU_MODEL_ARGS (ptq random-model size options; default
#   "--shape llama2-7b --layers $PTQ_GPU_LAYERS"), PTQ_GPU_SAMPLES (128), PTQ_GPU_SEQ (2048), PTQ_GPU_METHODS
#   ("rtn gptq awq omniquant"), PTQ_PEAK_TFLOPS (the GPU's dense fp16 peak for MFU; 989.4 is set for H100/H200),
#   PTQ_GPU_SKIP (sections to skip: mfu,methods,default), PTQ_GPU_MFU_ARGS (more bench_eval_mfu flags),
#   PTQ_GPU_DEFAULT_MODEL (results/models/default), PTQ_GPU_DEFAULT_CALIB / PTQ_GPU_DEFAULT_EVAL (its data/calib.txt
#   and data/valid.txt), PTQ_GPU_DEFAULT_SAMPLES (16), PTQ_GPU_DEFAULT_SEQ (256).
# A CPU smoke run of every section with small sizes is tests/integration/gpu_bench_smoke_test.sh (ctest).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=$(realpath -m "${PTQ_BUILD_DIR:-build-cuda}")
BIN=$BUILD/ptq
if [ -z "${PTQ_DATA_DIR:-}" ]; then
  if [ -d ../shared/data ]; then PTQ_DATA_DIR=$ROOT/../shared/data; else PTQ_DATA_DIR=$ROOT/deps/bundle/data; fi
fi
export PTQ_DATA_DIR
OUT=${1:-results/gpu}
DEV=${PTQ_GPU_DEVICE:-cuda}
LAYERS=${PTQ_GPU_LAYERS:-4}
MODEL_ARGS=${PTQ_GPU_MODEL_ARGS:---shape llama2-7b --layers $LAYERS}
SAMPLES=${PTQ_GPU_SAMPLES:-128}
SEQ=${PTQ_GPU_SEQ:-2048}
METHODS=${PTQ_GPU_METHODS:-rtn gptq awq omniquant}
SKIP=",${PTQ_GPU_SKIP:-},"
[ -x "$BIN" ] || { echo "bench.sh: no ptq binary at $BIN (scripts/gpu/build_cuda.sh)"; exit 2; }
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)
DB=$OUT/gpu.db
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptq_gpu_XXXXXX")
[ -n "${PTQ_KEEP_TMP:-}" ] || trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
say() { echo "== gpu_bench: $1 ($(( $(date +%s) - t0 )) s)"; }
TOKENIZER=$PTQ_DATA_DIR/models/llama2-tokenizer/tokenizer.model
CALIB=$PTQ_DATA_DIR/eval/tinystories/tinystories_valid_first1000.txt

say "machine"
"$BIN" version --json | tail -1 >"$OUT/raw/machine.json"
name=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1])).get('cuda_device', ''))" "$OUT/raw/machine.json")
peak=${PTQ_PEAK_TFLOPS:-}
case "$name" in *H100* | *H200*) peak=${peak:-989.4} ;; esac

if [[ $SKIP != *,mfu,* ]]; then
  say "eval throughput and MFU: llama2-7b shape, seq $SEQ ($DEV)"
  args=(--device="$DEV" --seq="$SEQ" --benchmark_out="$OUT/raw/eval_mfu.json" --benchmark_out_format=json)
  [ -z "$peak" ] || args+=(--peak-tflops="$peak")
  if [ -n "${PTQ_GPU_MFU_ARGS:-}" ]; then read -r -a extra <<<"$PTQ_GPU_MFU_ARGS"; args+=("${extra[@]}"); fi
  "$BUILD/tests/bench/bench_eval_mfu" "${args[@]}" | tail -4
  "$BIN" bench-import --db "$DB" --label gpu_bench "$OUT/raw/eval_mfu.json" >/dev/null
fi

# One `ptq run --json` per method (shipped LLMC-layout configs, sizes overridden); records into raw/NAME.jsonl.
run_methods() {  # run_methods NAME MODEL_DIR GROUP SAMPLES SEQ CALIB_TEXT EVAL_TEXT
  local tag=$1 model=$2 group=$3 n=$4 seq=$5 calib=$6 eval=$7
  : >"$OUT/raw/$tag.jsonl"
  for m in $METHODS; do
    case $m in
      rtn) cfg=configs/quantization/methods/RTN/rtn_w_only.yml; extra=() ;;
      gptq) cfg=configs/quantization/methods/GPTQ/gptq_w_only.yml; extra=(--set calib.bs=-1) ;;
      awq) cfg=configs/quantization/methods/Awq/awq_w_only.yml; extra=(--set calib.bs=-1) ;;
      omniquant) cfg=configs/quantization/methods/OmniQuant/omniq_w_only.yml; extra=(--set quant.special.epochs=2) ;;
      *) echo "bench.sh: unknown method '$m' in PTQ_GPU_METHODS"; exit 2 ;;
    esac
    say "$tag: $m w4g$group, $n x $seq calibration tokens ($DEV)"
    "$BIN" run --config "$cfg" --set "model.path=$model" --set "ptq.device=$DEV" --set quant.weight.bit=4 \
      --set quant.weight.group_size="$group" --set calib.name=text --set "calib.path=$calib" \
      --set calib.preproc=random_windows --set calib.n_samples="$n" --set calib.seq_len="$seq" \
      --set calib.first_doc=0 --set calib.last_doc=-1 --set "eval.eval_pos=[fake_quant]" --set eval.name=text \
      --set "eval.path=$eval" --set eval.first_doc=0 --set eval.last_doc=-1 --set eval.seq_len="$seq" \
      --set eval.max_windows=8 --set eval.bs=1 "${extra[@]}" --json >"$WORK/$tag.$m.log" 2>&1 ||
      { tail -20 "$WORK/$tag.$m.log"; exit 1; }
    tail -1 "$WORK/$tag.$m.log" >>"$OUT/raw/$tag.jsonl"
  done
  "$BIN" import "$OUT/raw/$tag.jsonl" --db "$DB" --matrix "gpu_bench_$tag" >/dev/null
}

if [[ $SKIP != *,methods,* ]]; then
  say "random model: $MODEL_ARGS, float16"
  # shellcheck disable=SC2086
  "$BIN" random-model --out "$WORK/l7b" $MODEL_ARGS --dtype float16 --tokenizer "$TOKENIZER" --json \
    | tail -1 >"$OUT/raw/random_model.json"
  run_methods llama2_7b_shape "$WORK/l7b" 128 "$SAMPLES" "$SEQ" "$CALIB" "$CALIB"
  rm -rf "$WORK/l7b"
fi

if [[ $SKIP != *,default,* ]]; then
  dm=$(realpath -m "${PTQ_GPU_DEFAULT_MODEL:-results/models/default}")
  if [ -f "$dm/config.json" ]; then
    dcal=${PTQ_GPU_DEFAULT_CALIB:-$dm/data/calib.txt}
    dval=${PTQ_GPU_DEFAULT_EVAL:-$dm/data/valid.txt}
    dseq=${PTQ_GPU_DEFAULT_SEQ:-256}
    say "default model: eval throughput ($DEV)"
    "$BIN" eval --model "$dm" --dataset text --data-path "$dval" --seq-len "$dseq" --batch-size 8 \
      --device "$DEV" --json | tail -1 >"$OUT/raw/default_eval.json"
    run_methods default_model "$dm" 64 "${PTQ_GPU_DEFAULT_SAMPLES:-16}" "$dseq" "$dcal" "$dval"
  else
    say "default model: $dm missing (train it with ptq train, or carry it); skipped"
  fi
fi

say "report"
PTQ="$BIN" python3 scripts/reports/format_gpu_report.py "$OUT" "$DB" >"$OUT/report.md.tmp"
mv "$OUT/report.md.tmp" "$OUT/report.md"
cat "$OUT/report.md"
say "done: $OUT/report.md"
