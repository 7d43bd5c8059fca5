#!/usr/bin/env bash
# scripts/gpu/bench.sh end to end on the CPU with small sizes (CI has no GPU, and the GPU machine's minutes are too
# few to debug a script there): every section runs (bench_eval_mfu on one 7B-shaped layer at seq 64, the four
# methods on a 2-layer random Llama and on stories260K standing in for the default model), and the test checks what
# the GPU run's note is built from:
#   - the store: one bench_eval_mfu run whose device names this machine's CPU, with tokens/s, TFLOP/s and an MFU in
#     (0, 1.5]; 8 finished runs, 4 per matrix (gpu_bench_llama2_7b_shape, gpu_bench_default_model), each with the
#     system's device fields and a finite fake-quant perplexity
#   - report.md: the MFU table and both method tables with one row per method; a CPU run shows "-" for GPU memory
#   - a method that fails makes the script fail (exit 1) and names it
# Environment: PTQ_BUILD_DIR (the build folder with ptq and tests/bench/bench_eval_mfu), PTQ_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DATA=${PTQ_DATA_DIR:-$ROOT/../shared/data}
BUILD=$(realpath -m "${PTQ_BUILD_DIR:-build}")
[ -x "$BUILD/tests/bench/bench_eval_mfu" ] || { echo "gpu_bench_smoke_test: no $BUILD/tests/bench/bench_eval_mfu"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptq_gpu_smoke_XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TS=$DATA/eval/tinystories/tinystories_valid_first1000.txt

smoke() {  # smoke OUT_DIR [extra env assignments...]
  local out=$1
  shift
  env PTQ_GPU_DEVICE=cpu PTQ_BUILD_DIR="$BUILD" PTQ_DATA_DIR="$DATA" \
    PTQ_GPU_MODEL_ARGS="--hidden 128 --intermediate 256 --layers 2 --heads 4 --kv-heads 2 --vocab 32000" \
    PTQ_GPU_SAMPLES=4 PTQ_GPU_SEQ=64 PTQ_GPU_MFU_ARGS="--layers=1 --seq=64 --benchmark_min_time=0.01" \
    PTQ_GPU_DEFAULT_MODEL="$DATA/models/stories260K-hf" PTQ_GPU_DEFAULT_CALIB="$TS" PTQ_GPU_DEFAULT_EVAL="$TS" \
    PTQ_GPU_DEFAULT_SAMPLES=4 PTQ_GPU_DEFAULT_SEQ=128 "$@" bash scripts/gpu/bench.sh "$out"
}

smoke "$WORK/out" >"$WORK/log" 2>&1 || { cat "$WORK/log"; echo "FAIL: gpu_bench.sh exited non-zero"; exit 1; }

python3 - "$WORK/out" <<'EOF'
import json, math, os, sqlite3, sys
out = sys.argv[1]
fails = []
def check(cond, what):
    if not cond:
        fails.append(what)
con = sqlite3.connect(os.path.join(out, "gpu.db"))
runs = con.execute("SELECT id, device, context_json FROM bench_runs WHERE program = 'bench_eval_mfu'").fetchall()
check(len(runs) == 1, f"one bench_eval_mfu run in the store, got {len(runs)}")
machine = json.load(open(os.path.join(out, "raw", "machine.json")))
if runs:
    check(runs[0][1].startswith("cpu") and machine["cpu_model"] in runs[0][1], f"bench device {runs[0][1]!r}")
    res = con.execute("SELECT name, counters_json FROM bench_results WHERE bench_run_id = ?", (runs[0][0],)).fetchall()
    check(len(res) == 1 and "llama2-7b/layers:1/seq:64" in res[0][0], f"bench results {res}")
    for name, cj in res:
        c = json.loads(cj)
        check(c["tokens_per_s"] > 0 and c["TFLOP/s"] > 0, f"{name}: rates {c}")
        check(0 < c["mfu_vs_gemm"] <= 1.5, f"{name}: mfu_vs_gemm {c['mfu_vs_gemm']}")
rows = con.execute("SELECT matrix, method, status, system_json FROM runs ORDER BY id").fetchall()
check(len(rows) == 8, f"8 runs, got {len(rows)}")
for matrix in ("gpu_bench_llama2_7b_shape", "gpu_bench_default_model"):
    ms = sorted(r[1] for r in rows if r[0] == matrix)
    check(ms == ["awq", "gptq", "omniquant", "rtn"], f"{matrix}: methods {ms}")
for m, meth, status, sj in rows:
    s = json.loads(sj)
    check(status == "finished", f"{m}/{meth}: {status}")
    check("cuda_device" in s and s["cpu_model"] == machine["cpu_model"], f"{m}/{meth}: system {s}")
for tag in ("llama2_7b_shape", "default_model"):
    for line in open(os.path.join(out, "raw", tag + ".jsonl")):
        r = json.loads(line)
        ppl = [e["ppl"] for e in r["evals"] if e["pos"] == "fake_quant"]
        check(len(ppl) == 1 and math.isfinite(ppl[0]) and ppl[0] > 1, f"{tag}/{r['method']}: ppl {ppl}")
rep = open(os.path.join(out, "report.md")).read()
check("## Perplexity-evaluation throughput and MFU" in rep, "report: MFU section")
check("hidden 128, intermediate 256, 2 layers" in rep, "report: the random model's shape")
tables = [l for l in rep.splitlines() if l.startswith("| rtn |") or l.startswith("| gptq |")
          or l.startswith("| awq |") or l.startswith("| omniquant |")]
check(len(tables) == 8, f"report: 8 method rows, got {len(tables)}")
check(all(l.split("|")[6].strip() == "-" for l in tables), "report: GPU memory '-' on a CPU run")
check("`ptq eval` on its held-out split" in rep, "report: default-model eval")
if fails:
    print("\n".join("FAIL: " + f for f in fails))
    sys.exit(1)
print(f"gpu_bench smoke: store and report checked ({len(rows)} runs)")
EOF

# A failing method fails the script, naming it (an unknown method id is the cheapest failure to provoke).
if smoke "$WORK/bad" PTQ_GPU_SKIP=mfu,default PTQ_GPU_METHODS="rtn nosuch" >"$WORK/bad.log" 2>&1; then
  cat "$WORK/bad.log"; echo "FAIL: gpu_bench.sh succeeded with an unknown method"; exit 1
fi
grep -q "unknown method 'nosuch'" "$WORK/bad.log" || { cat "$WORK/bad.log"; echo "FAIL: no message naming it"; exit 1; }
echo "gpu_bench smoke: ok"
