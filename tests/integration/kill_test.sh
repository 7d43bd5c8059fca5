#!/usr/bin/env bash
# Crash and resume: runs a small matrix on stories260K (RTN, GPTQ, AWQ and an AWQ -> OmniQuant cell whose step 1 is
# cached as an artifact), kills it with SIGKILL after a random number of finished cells plus a random delay (every
# third trial: while the step-1 cache folder is being written), reruns it to completion, and checks:
#   - every cell finished exactly once (one row per run_key, all 'finished'); cells finished before the kill were not
#     recomputed (same finished_at); every result equals the uninterrupted reference run's (same perplexities)
#   - the store passes PRAGMA integrity_check and the store's own invariants (no orphan rows)
#   - nothing is half-written: no temporary (.<name>.tmp-<pid>) is left beside the store or in the step-1 cache, every
#     artifact row names a folder that exists with the recorded manifest sha256 and byte count, and every
#     .safetensors file there is complete (header, offsets and data ending exactly at the end of the file)
# Usage: tests/integration/kill_test.sh [TRIALS (default 3)]   (CI: ctest kill_test runs 3; the issue note reports 20)
# Environment: PTQ_BIN (default build/ptq), PTQ_DATA_DIR (default ../shared/data), PTQ_KILL_SEED (random seed),
#              PTQ_KEEP_TMP (keep the scratch folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TRIALS=${1:-3}
BIN=${PTQ_BIN:-$ROOT/build/ptq}
DATA=${PTQ_DATA_DIR:-$ROOT/../shared/data}
[ -x "$BIN" ] || { echo "kill_test.sh: no ptq binary at $BIN (set PTQ_BIN)"; exit 2; }
WORK=$(mktemp -d /tmp/ptq_kill_XXXXXX)
[ -n "${PTQ_KEEP_TMP:-}" ] || trap 'rm -rf "$WORK"' EXIT
RANDOM=${PTQ_KILL_SEED:-$$}

# The matrix: 6 cells, ~1-10 s each on one thread (the AWQ -> OmniQuant cell, the longest, in the middle so that kills
# land before, inside and after it). $1: folder for the store's neighbours (step-1 cache).
write_matrix() {
  cat >"$1/m.yaml" <<EOF
name: kill_test
base: $ROOT/configs/quantization/methods/GPTQ/gptq_w_only.yml
set: {model.path: "$DATA/models/stories260K-hf", calib.n_samples: 8, calib.seq_len: 64, eval.max_windows: 4,
      eval.seq_len: 128, ptq.threads: 1}
axes:
  method:
    - {name: rtn3, set: {quant.method: RTN, quant.special: {}, quant.weight.bit: 3}}
    - {name: gptq3, set: {quant.method: GPTQ, quant.weight.bit: 3}}
    - name: awq_omni4
      set:
        quant.method: OmniQuant
        quant.special: {lwc: true, epochs: 2}
        ptq.step_1: {config: $ROOT/configs/quantization/methods/Awq/awq_w_only.yml, handover: transformed_model,
                     cache_dir: "$1/cache",
                     set: {model.path: "$DATA/models/stories260K-hf", calib.n_samples: 8, calib.seq_len: 64}}
    - {name: rtn4, set: {quant.method: RTN, quant.special: {}}}
    - {name: gptq4, set: {quant.method: GPTQ}}
    - {name: awq4, set: {quant.method: Awq, quant.special: {trans: true, weight_clip: true}, calib.bs: -1}}
EOF
}

# Python checks on a store; prints a one-line verdict, exits non-zero on a violation.
check_store() {  # check_store DB DIR REFERENCE_DB BEFORE_JSON
  python3 - "$@" <<'PY'
import hashlib, json, os, sqlite3, struct, sys
db, folder, ref, before_path = sys.argv[1:5]
problems = []
con = sqlite3.connect(db)
ic = [r[0] for r in con.execute("PRAGMA integrity_check")]
if ic != ["ok"]:
    problems.append(f"integrity_check: {ic}")
fk = list(con.execute("PRAGMA foreign_key_check"))
if fk:
    problems.append(f"orphan rows: {fk[:3]}")
runs = list(con.execute("SELECT run_key, status, finished_at FROM runs WHERE matrix = 'kill_test'"))
keys = [r[0] for r in runs]
if len(runs) != 6 or len(set(keys)) != 6:
    problems.append(f"{len(runs)} runs, {len(set(keys))} distinct run keys (expected 6 and 6)")
if any(r[1] != "finished" for r in runs):
    problems.append("unfinished runs: " + ", ".join(r[0][:12] + ":" + r[1] for r in runs if r[1] != "finished"))
before = json.load(open(before_path)) if before_path != "-" else {}
now = {r[0]: r[2] for r in runs}
for k, t in before.items():
    if now.get(k) != t:
        problems.append(f"run {k[:12]} finished before the kill was recomputed ({t} -> {now.get(k)})")
def ppl(path):
    c = sqlite3.connect(path)
    q = ("SELECT r.run_key, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
         "WHERE m.name = 'ppl' AND m.pos = 'fake_quant'")
    return dict(c.execute(q))
if ref != "-":
    a, b = ppl(db), ppl(ref)
    for k, v in b.items():
        if k not in a or a[k] is None or abs(a[k] - v) > 1e-9 * abs(v):
            problems.append(f"run {k[:12]}: ppl {a.get(k)} differs from the uninterrupted run's {v}")
# Nothing half-written: no temporaries, artifacts complete.
for base, dirs, files in os.walk(folder):
    for n in dirs + files:
        if ".tmp-" in n or n.endswith(".tmp"):
            problems.append(f"temporary left behind: {os.path.join(base, n)}")
arts = list(con.execute("SELECT key, kind, path, sha256, bytes FROM artifacts"))
if not arts:
    problems.append("no artifact recorded (the AWQ -> OmniQuant cell's step-1 cache)")
for key, kind, path, sha, nbytes in arts:
    if not os.path.isdir(path):
        problems.append(f"artifact {key[:20]}: {path} missing")
        continue
    m = open(os.path.join(path, "manifest.json"), "rb").read()
    if hashlib.sha256(m).hexdigest() != sha:
        problems.append(f"artifact {key[:20]}: manifest sha256 differs from the store's")
    total = sum(os.path.getsize(os.path.join(b, f)) for b, _, fs in os.walk(path) for f in fs)
    if total != nbytes:
        problems.append(f"artifact {key[:20]}: {total} bytes on disk, {nbytes} recorded")
    for b, _, fs in os.walk(path):
        for f in fs:
            if not f.endswith(".safetensors"):
                continue
            raw = open(os.path.join(b, f), "rb").read()
            n = struct.unpack("<Q", raw[:8])[0]
            hdr = json.loads(raw[8:8 + n])
            end = max(v["data_offsets"][1] for k, v in hdr.items() if k != "__metadata__")
            if 8 + n + end != len(raw):
                problems.append(f"{f}: data ends at {8 + n + end}, file has {len(raw)} bytes")
if problems:
    print("FAIL: " + "; ".join(problems))
    sys.exit(1)
print(f"ok: 6 runs finished once, integrity ok, {len(arts)} artifact(s) complete, "
      f"{len(before)} finished before the kill kept")
PY
}

finished_before() {  # finished_before DB > JSON
  python3 - "$1" <<'PY'
import json, os, sqlite3, sys
if not os.path.exists(sys.argv[1]):
    print("{}"); sys.exit(0)
try:
    con = sqlite3.connect(sys.argv[1])
    rows = con.execute("SELECT run_key, finished_at FROM runs WHERE status = 'finished'").fetchall()
except sqlite3.Error:
    rows = []  # killed while the schema was being created: nothing finished
print(json.dumps(dict(rows)))
PY
}

# Reference: one uninterrupted run (also measures how long a whole run takes).
mkdir -p "$WORK/ref"
write_matrix "$WORK/ref"
t0=$(date +%s.%N)
"$BIN" run "$WORK/ref/m.yaml" --db "$WORK/ref/ptq.db" >"$WORK/ref/log" 2>&1 || { cat "$WORK/ref/log"; exit 1; }
full=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$t0" "$(date +%s.%N)")
check_store "$WORK/ref/ptq.db" "$WORK/ref" - - >/dev/null
# Kill moments follow progress, not the clock (a loaded machine runs slower than the reference, so wall-time moments
# clustered in the first cells): each random trial picks N in 0..5 cells to let finish, waits until the store shows
# N finished runs, then waits a random part (up to 90%) of cell N+1's time in the reference run, so the kill lands
# inside any of the 6 cells.
cells=$(python3 - "$WORK/ref/ptq.db" <<'PY'
import sqlite3, sys
q = "SELECT t.seconds FROM runs r JOIN timings t ON t.run_id = r.id WHERE t.stage = 'total' ORDER BY r.id"
print(" ".join(f"{s:.2f}" for (s,) in sqlite3.connect(sys.argv[1]).execute(q)))
PY
)
echo "kill_test: uninterrupted run ${full} s (cells: ${cells} s); ${TRIALS} trial(s): SIGKILL after N (random in" \
  "0..5) finished cells plus a random part of the next cell; every third trial inside the step-1 cache write"

# kill_after_cells PID DB N DELAY: waits (polling the store every 20 ms) until DB has N finished runs, then DELAY
# seconds, then SIGKILLs PID; returns early if PID ends. Prints the seconds from its start to the kill.
kill_after_cells() {
  python3 - "$@" <<'PY'
import os, signal, sqlite3, sys, time
pid, db, n, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()
def alive():  # the shell reaps ptq only after this returns: an ended ptq is a zombie ('Z') until then
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
def finished():
    if not os.path.exists(db):
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        return con.execute("SELECT COUNT(*) FROM runs WHERE status = 'finished'").fetchone()[0]
    except sqlite3.Error:
        return 0  # schema not there yet, or busy
while alive() and finished() < n and time.monotonic() - t0 < 300:
    time.sleep(0.02)
time.sleep(delay)
try:
    os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
print(round(time.monotonic() - t0, 2))
PY
}

failures=0
for ((t = 1; t <= TRIALS; t++)); do
  d="$WORK/t$t"
  mkdir -p "$d"
  write_matrix "$d"
  read -r target frac < <(python3 -c "import random, sys; random.seed(int(sys.argv[1])); n = random.randint(0, 5)
print(n, round(random.uniform(0, 0.9) * float(sys.argv[2:][n]), 2))" "$RANDOM" $cells)
  "$BIN" run "$d/m.yaml" --db "$d/ptq.db" >"$d/first.log" 2>&1 &
  pid=$!
  if ((t % 3 == 0)); then
    # Every third trial aims at the write window instead: killed as soon as the step-1 cache folder's temporary
    # (.<key>.tmp-<pid>, written for a few tens of milliseconds) appears. Shell builtins only (kill -0, compgen,
    # EPOCHREALTIME), so the poll takes microseconds, not the milliseconds a find would.
    how="inside the step-1 write"
    start=${EPOCHREALTIME/./}
    while kill -0 "$pid" 2>/dev/null && ! compgen -G "$d/cache/.*.tmp-*" >/dev/null &&
      ((${EPOCHREALTIME/./} - start < 120000000)); do :; done
    kill -KILL "$pid" 2>/dev/null || true
    delay=$(python3 -c "import sys; print(round((int(sys.argv[2]) - int(sys.argv[1])) / 1e6, 2))" "$start" \
      "${EPOCHREALTIME/./}")
  else
    how="after ${target} cell(s) + ${frac} s"
    delay=$(kill_after_cells "$pid" "$d/ptq.db" "$target" "$frac")
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  finished_before "$d/ptq.db" >"$d/before.json"
  n_before=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$d/before.json")
  # What the kill interrupted: a cell marked running, temporaries (a step-1 folder or a file being written).
  temps=$(find "$d" -name '.*.tmp-*' | wc -l)
  running=$(python3 -c "import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1]).execute(\"SELECT COUNT(*) FROM runs WHERE status='running'\").fetchone()[0])
except Exception: print(0)" "$d/ptq.db" 2>/dev/null || echo 0)
  sleep 1.1  # a recomputed run would get a later finished_at
  if ! "$BIN" run "$d/m.yaml" --db "$d/ptq.db" >"$d/rerun.log" 2>&1; then
    echo "trial $t: killed at ${delay} s; the rerun failed:"; tail -5 "$d/rerun.log"
    failures=$((failures + 1))
    continue
  fi
  computed=$(grep -c "(done)" "$d/rerun.log" || true)
  if verdict=$(check_store "$d/ptq.db" "$d" "$WORK/ref/ptq.db" "$d/before.json"); then
    echo "trial $t: killed ${how} at ${delay} s after ${n_before} finished cell(s) (${running} running, ${temps}" \
      "temporaries left); rerun computed ${computed}; ${verdict}"
  else
    echo "trial $t: killed at ${delay} s after ${n_before} finished cell(s); ${verdict}"
    failures=$((failures + 1))
  fi
done
echo "kill_test: ${TRIALS} trial(s), ${failures} failure(s)"
[ "$failures" = 0 ]
