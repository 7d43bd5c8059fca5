#!/usr/bin/env bash
# What running a matrix in one process saves: the matrix in one `ptq run` (calibration captured once per model, the
# fp baseline evaluated once, the step-1 and search caches shared between cells) against each cell as its own process
# with its own store and caches. Every perplexity must agree; prints and writes the ratio.
#   scripts/bench_matrix_sharing.sh MATRIX.yaml OUT.json [--set key=value ...]
# Each process runs in a scratch folder whose configs/ and experiments/ point back at the checkout, so the relative
# cache folders of the matrix (results/cache/...) are private to it. One thread (--threads 1); run it on an
# otherwise idle machine: every number is a wall time. Environment: PTQ_BUILD_DIR (build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/${PTQ_BUILD_DIR:-build}/ptq
(($# >= 2)) || { echo "usage: bench_matrix_sharing.sh MATRIX.yaml OUT.json [--set k=v ...]" >&2; exit 2; }
MATRIX=$1
OUT_JSON=$(realpath -m "$2")
shift 2
sets=("$@")
WORK=$(mktemp -d /tmp/ptq_sharing_XXXXXX)
[ -n "${PTQ_KEEP_TMP:-}" ] || trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
say() { echo "== sharing: $1 ($(( $(date +%s) - t0 )) s)"; }
now() { date +%s.%N; }
scratch() {
  mkdir -p "$1"
  ln -sfn "$ROOT/configs" "$1/configs"
  ln -sfn "$ROOT/experiments" "$1/experiments"
}
n=$("$BIN" run "$MATRIX" --dry-run --json --db "$WORK/dry.db" "${sets[@]}" | tail -1 |
    python3 -c "import json, sys; print(json.load(sys.stdin)['total'])")
say "$MATRIX ($n cells) in one process"
scratch "$WORK/shared"
s=$(now)
(cd "$WORK/shared" && "$BIN" run "$ROOT/$MATRIX" --db ptq.db --threads 1 "${sets[@]}" >"$WORK/shared.log" 2>&1) ||
  { tail -20 "$WORK/shared.log"; exit 1; }
shared_s=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$s" "$(now)")
: >"$WORK/separate.tsv"
for ((i = 0; i < n; i++)); do
  say "cell $i of $n as its own process"
  scratch "$WORK/cell$i"
  s=$(now)
  (cd "$WORK/cell$i" && "$BIN" run "$ROOT/$MATRIX" --cells "$i" --db ptq.db --threads 1 "${sets[@]}" \
    >"$WORK/cell$i.log" 2>&1) || { tail -20 "$WORK/cell$i.log"; exit 1; }
  printf '%s\t%s\n' "$i" "$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$s" "$(now)")" \
    >>"$WORK/separate.tsv"
done
python3 - "$WORK" "$n" "$shared_s" "$OUT_JSON" "$MATRIX" "${sets[*]:-}" <<'PY'
import json, sqlite3, sys
work, n, shared_s, out, matrix, sets = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
def ppl(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT r.run_key, r.method, r.scheme, m.value FROM runs r JOIN metrics m ON m.run_id = r.id "
                       "WHERE r.status = 'finished' AND m.name = 'ppl' AND m.pos = 'fake_quant'").fetchall()
    return {k: (meth, sch, v) for k, meth, sch, v in rows}
shared = ppl(f"{work}/shared/ptq.db")
separate, cells = {}, []
for line in open(f"{work}/separate.tsv"):
    i, secs = line.split()
    p = ppl(f"{work}/cell{i}/ptq.db")
    assert len(p) == 1, f"cell {i}: {len(p)} finished runs"
    (key, val), = p.items()
    separate[key] = val
    cells.append({"index": int(i), "run_key": key, "method": val[0], "scheme": val[1], "seconds": float(secs),
                  "ppl_separate": val[2], "ppl_shared": shared.get(key, (None, None, None))[2]})
assert set(shared) == set(separate), "the shared and the separate runs have different run keys"
rel = max(abs(c["ppl_shared"] - c["ppl_separate"]) / c["ppl_separate"] for c in cells)
total = sum(c["seconds"] for c in cells)
model = next((o.split("=", 1)[1] for o in sets.split() if o.startswith("model.path=")), "as in the matrix")
json.dump({"matrix": matrix, "model": model, "cells": n, "overrides": sets, "shared_seconds": shared_s, "separate_seconds": total,
           "ratio": shared_s / total, "max_rel_ppl_diff": rel, "loadavg_end": open("/proc/loadavg").read().split()[:3],
           "per_cell": cells}, open(out, "w"), indent=1)
print(f"{matrix}: one process {shared_s:.1f} s, separate processes {total:.1f} s, ratio {shared_s / total:.3f}, "
      f"max relative ppl difference {rel:.2e}")
PY
