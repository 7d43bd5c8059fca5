#!/usr/bin/env bash
# A matrix through a real SLURM cluster: `ptq run X.yaml --backend slurm` on a single-node cluster started here on
# localhost (munged, slurmctld, slurmd from Debian's munge, slurmctld, slurmd and slurm-client packages, each started
# directly in the background with its configuration in a temporary folder: no systemd, no cgroups).
#
#   1. A 4-cell matrix on stories260K (RTN and GPTQ at w3g32 and w4g32) is run locally into local.db.
#   2. The same matrix is submitted as a 2-task job array plus the dependent merge job; when both have ended the main
#      store must hold exactly the 4 run keys of the local run, finished, with every ppl equal to the local one
#      within 1e-6 relative, and pass its integrity check; `ptq status` shows 4 finished and merged.
#   3. Kill and resubmit: submitted again into a fresh store, the array task holding the GPTQ cells is cancelled
#      (scancel) after its first cell finished and while its second runs. The merge job merges what there is; a new
#      submission without --resubmit is refused (a cell is recorded as running). The killed task is resubmitted with
#      `sbatch --array=<task> array.sbatch` and the merge script after it: the task skips its finished cell (same
#      finished_at), reruns the killed one, and the merged store again equals the local run with no duplicates; a
#      further `ptq run --backend slurm --resubmit` finds nothing to submit.
#
# Environment: PTQ_BIN (the ptq binary), PTQ_SOURCE_DIR (the checkout), PTQ_DATA_DIR (shared data; else
# PTQ_DEFAULT_DATA_DIR, which ctest sets to the configured default, else ../shared/data); PTQ_KEEP_TMP=1
# keeps the temporary folder (configuration, daemon logs, job logs, stores).
# Exit: 0 pass, 1 fail, 77 skip: only when the SLURM or munge programs are not installed.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
t_start=$(date +%s.%N)

for prog in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
  if ! command -v "$prog" >/dev/null; then
    echo "SKIP: $prog is not installed (scripts/setup.sh installs munge, slurmctld, slurmd and slurm-client)"
    exit 77
  fi
done
: "${PTQ_BIN:?set PTQ_BIN to the ptq binary}" "${PTQ_SOURCE_DIR:?set PTQ_SOURCE_DIR to the checkout}"
DATA=${PTQ_DATA_DIR:-${PTQ_DEFAULT_DATA_DIR:-$PTQ_SOURCE_DIR/../shared/data}}
MODEL=$DATA/models/stories260K-hf
[ -f "$MODEL/config.json" ] || { echo "FAIL: no stories260K at $MODEL"; exit 1; }
PY=python3
command -v "$PY" >/dev/null || PY="$PTQ_SOURCE_DIR/.venv/bin/python"

T=$(mktemp -d /tmp/ptq_slurm.XXXXXX)
chmod 755 "$T"
PIDS=()
fail() {
  echo "FAIL: $*"
  for f in "$T"/log/*.log "$T"/res*/shards/*/logs/*.log; do
    [ -f "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; }
  done
  exit 1
}
cleanup() {
  local rc=$?
  trap - ERR
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    scancel --user="$(id -un)" >/dev/null 2>&1
    sleep 1
  fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  if [ "${PTQ_KEEP_TMP:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT
set -E
trap 'fail "line $LINENO: $BASH_COMMAND exited with status $?"' ERR

# A free TCP port on localhost (nothing answers a connection to it).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# --- munge: a fresh key and socket in $T/munge.
mkdir -p "$T/munge" "$T/log" "$T/state" "$T/spool" "$T/etc"
chmod 700 "$T/munge"
head -c 1024 /dev/urandom > "$T/munge/munge.key"
chmod 400 "$T/munge/munge.key"
SOCK=$T/munge/munge.sock
munged --foreground --force --key-file="$T/munge/munge.key" --socket="$SOCK" --pid-file="$T/munge/munged.pid" \
  --seed-file="$T/munge/munged.seed" --log-file="$T/log/munged.log" >"$T/log/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || fail "munged did not create its socket"

# --- slurm.conf: one node (this machine, as localhost) with all its CPUs, no accounting, no cgroups.
CTLD_PORT=$(free_port) || fail "no free port"
SLURMD_PORT=$(free_port) || fail "no free port"
[ "$CTLD_PORT" != "$SLURMD_PORT" ] || SLURMD_PORT=$((CTLD_PORT + 1))
CPUS=$(nproc --all)  # not nproc: it follows OMP_NUM_THREADS
USER_NAME=$(id -un)
cat > "$T/etc/slurm.conf" <<EOF
ClusterName=ptqtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
SlurmUser=$USER_NAME
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=ptq Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/etc/slurm.conf
slurmctld -D -i >"$T/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost >"$T/log/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for _ in $(seq 300); do
  state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.1
done
[ "$state" = idle ] || fail "the node did not become idle (state '$state'); see $T/log"
t_cluster=$(date +%s.%N)
echo "cluster up: slurmctld :$CTLD_PORT, slurmd :$SLURMD_PORT, $CPUS CPUs ($(sinfo --version))"

# --- the matrix: 4 cells sharing one model and calibration setting.
cd "$T"
cat > m.yaml <<EOF
name: slurm_ci
base: $PTQ_SOURCE_DIR/configs/quantization/methods/GPTQ/gptq_w_only.yml
set: {model.path: "$MODEL", calib.n_samples: 8, calib.seq_len: 64, eval.max_windows: 4, eval.seq_len: 128}
axes:
  method:
    - {name: rtn,  set: {quant.method: RTN, quant.special: {}}}
    - {name: gptq, set: {quant.method: GPTQ}}
  bits:
    - {name: w3g32, set: {quant.weight.bit: 3}}
    - {name: w4g32, set: {quant.weight.bit: 4}}
EOF
"$PTQ_BIN" run m.yaml --db local.db --threads 1 > local.out || fail "the local run failed: $(cat local.out)"
t_local=$(date +%s.%N)

json_field() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

# Waits until none of the given jobs is queued or running (at most $2 seconds).
wait_jobs() {
  local jobs=$1 limit=$2 left
  for _ in $(seq $((limit * 5))); do
    left=$(squeue -h -j "$jobs" 2>/dev/null | wc -l)
    [ "$left" = 0 ] && return 0
    sleep 0.2
  done
  squeue -j "$jobs"
  fail "jobs $jobs still queued or running after $limit s"
}

# The state of each job of an id, one line each, array tasks as <array id>_<task>: "12_0 COMPLETED".
job_states() {
  scontrol show job "$1" -o | awk '{
    delete f
    for (i = 1; i <= NF; i++) { eq = index($i, "="); if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
    id = f["JobId"]
    if (f["ArrayJobId"] != "") id = f["ArrayJobId"] "_" f["ArrayTaskId"]
    print id, f["JobState"]
  }' | sort
}

# Compares a store with local.db: same run keys, all finished, no duplicates, every ppl metric within 1e-6 relative,
# integrity_check ok. Prints the fake_quant ppl of each cell.
compare_with_local() {
  "$PY" - "$1" <<'PYEOF'
import sqlite3, sys
def load(path):
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", path + ": integrity_check failed"
    runs = db.execute("SELECT run_key, status, config_json FROM runs WHERE matrix = 'slurm_ci'").fetchall()
    keys = [r[0] for r in runs]
    assert len(keys) == len(set(keys)), path + ": duplicate run keys"
    ppl = {}
    for key, status, _ in runs:
        assert status == "finished", f"{path}: run {key[:12]} is {status}"
        rows = db.execute("SELECT m.dataset, m.pos, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                          "WHERE r.run_key = ? AND m.name = 'ppl'", (key,)).fetchall()
        ppl[key] = {(d, p): v for d, p, v in rows}
    labels = {r[0]: __import__("json").loads(r[2])["matrix_cell"]["label"] for r in runs}
    return ppl, labels
local, labels = load("local.db")
merged, _ = load(sys.argv[1])
assert len(local) == 4, f"local.db has {len(local)} runs"
assert set(merged) == set(local), f"{sys.argv[1]}: run keys differ from the local run"
worst = 0.0
for key in sorted(local, key=lambda k: labels[k]):
    assert set(merged[key]) == set(local[key]) and merged[key], f"{labels[key]}: metrics differ"
    for pos, v in local[key].items():
        rel = abs(merged[key][pos] - v) / abs(v)
        worst = max(worst, rel)
        assert rel <= 1e-6, f"{labels[key]} {pos}: ppl {merged[key][pos]} vs local {v} (rel {rel:.2e})"
    fq = [v for (d, p), v in local[key].items() if p == "fake_quant"][0]
    mq = [v for (d, p), v in merged[key].items() if p == "fake_quant"][0]
    print(f"  {labels[key]:<28} fake_quant ppl local {fq:.10f}  merged {mq:.10f}")
print(f"  4 runs, no duplicates, largest relative ppl difference {worst:.2e}")
PYEOF
}

# --- 2. the matrix through SLURM.
"$PTQ_BIN" run m.yaml --backend slurm --db res/main.db --tasks 2 --cpus-per-task 1 --time 10 --json > submit1.out \
  || fail "submission failed: $(cat submit1.out)"
ARRAY=$(json_field array_job < submit1.out)
MERGE=$(json_field merge_job < submit1.out)
[ "$(json_field tasks < submit1.out)" = 2 ] || fail "expected 2 tasks"
wait_jobs "$ARRAY,$MERGE" 300
t_slurm=$(date +%s.%N)
states=$(job_states "$ARRAY"; job_states "$MERGE")
echo "$states"
[ "$(grep -c COMPLETED <<<"$states")" = 3 ] || fail "expected 2 array tasks and the merge job COMPLETED, got: $states"
ls res/shards/slurm_ci/task_0.db res/shards/slurm_ci/task_1.db >/dev/null || fail "missing shards"
grep -q "4 finished (4 merged)" <("$PTQ_BIN" status m.yaml --db res/main.db) || fail "ptq status: $("$PTQ_BIN" status m.yaml --db res/main.db)"
compare_with_local res/main.db || fail "merged store differs from the local run"
# Merging again adds nothing.
"$PTQ_BIN" merge --db res/main.db res/shards/slurm_ci --json > merge2.out || fail "merge: $(cat merge2.out)"
[ "$(json_field added < merge2.out)$(json_field replaced < merge2.out)$(json_field runs < merge2.out)" = 004 ] \
  || fail "a second merge changed the store: $(tail -n1 merge2.out)"
echo "PASS: merged SLURM results equal the local run"

# --- 3. kill one array task mid-run, resubmit.
"$PTQ_BIN" run m.yaml --backend slurm --db res2/main.db --tasks 2 --cpus-per-task 1 --json > submit2.out \
  || fail "submission failed: $(cat submit2.out)"
ARRAY2=$(json_field array_job < submit2.out)
MERGE2=$(json_field merge_job < submit2.out)
# The task whose slice holds the GPTQ cells (the slower ones).
TASK=$("$PY" -c 'import json,sys; j=json.loads(open("submit2.out").read().strip().splitlines()[-1]); print([s["task"] for s in j["slices"] if all("gptq" in l for l in s["labels"])][0])')
SHARD=res2/shards/slurm_ci/task_$TASK.db
# Poll the task's shard (read-only) until one cell is finished and the next one is running, then cancel the task.
poll_shard() {
  "$PY" - "$SHARD" <<'PYEOF'
import sqlite3, sys, time, os
deadline = time.time() + 240
while time.time() < deadline:
    if os.path.exists(sys.argv[1]):
        try:
            db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=1)
            rows = dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
            db.close()
            if rows.get("finished", 0) >= 1 and rows.get("running", 0) >= 1:
                print(rows); sys.exit(0)
            if rows.get("finished", 0) >= 2:
                print("both cells finished before the kill", rows); sys.exit(1)
        except sqlite3.Error:
            pass
    time.sleep(0.02)
print("timed out"); sys.exit(1)
PYEOF
}
poll_shard || fail "could not catch task $TASK between its cells"
scancel "${ARRAY2}_${TASK}"
echo "cancelled task ${ARRAY2}_${TASK} while its second cell ran"
wait_jobs "$ARRAY2,$MERGE2" 300
states=$(job_states "$ARRAY2"; job_states "$MERGE2")
echo "$states"
grep -q "^${ARRAY2}_${TASK} CANCELLED" <<<"$states" || fail "task $TASK was not cancelled: $states"
grep -q "^${MERGE2} COMPLETED" <<<"$states" || fail "the merge job did not complete: $states"
status=$("$PTQ_BIN" status m.yaml --db res2/main.db)
echo "$status"
grep -q "4 cells: 3 finished (3 merged), 1 running, 0 failed, 0 pending" <<<"$status" || fail "unexpected status"
finished_at() { "$PY" -c 'import sqlite3,sys; print(sorted(sqlite3.connect(sys.argv[1]).execute("SELECT run_key, finished_at FROM runs WHERE status = ?", ("finished",)).fetchall()))' "$1"; }
shard_before=$(finished_at "$SHARD")
main_before=$(finished_at res2/main.db)
# The running cell stops a new submission (exit 2): ptq cannot tell a live task from a killed one.
rc=0
"$PTQ_BIN" run m.yaml --backend slurm --db res2/main.db --cpus-per-task 1 > refused.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "rerun with --resubmit" refused.out || fail "a running cell did not stop the submission (exit $rc): $(cat refused.out)"
# Resubmit the killed task itself: the script holds every task's slice, the task skips the cell finished in its
# shard and reruns the other; then the merge script, after it.
sleep 1  # a recomputed cell would get a later finished_at (seconds)
ARRAY3=$(sbatch --parsable --array="$TASK" res2/shards/slurm_ci/array.sbatch)
MERGE3=$(sbatch --parsable --dependency=afterany:"$ARRAY3" res2/shards/slurm_ci/merge.sbatch)
echo "resubmitted: sbatch --array=$TASK res2/shards/slurm_ci/array.sbatch (job $ARRAY3), merge job $MERGE3"
wait_jobs "$ARRAY3,$MERGE3" 300
states=$(job_states "$ARRAY3"; job_states "$MERGE3")
echo "$states"
[ "$(grep -c COMPLETED <<<"$states")" = 2 ] || fail "the resubmitted task and merge did not complete: $states"
grep -q "(skipped)" res2/shards/slurm_ci/logs/task_${TASK}_${ARRAY3}.log || fail "the resubmitted task did not skip its finished cell"
status=$("$PTQ_BIN" status m.yaml --db res2/main.db)
grep -q "4 cells: 4 finished (4 merged), 0 running, 0 failed, 0 pending" <<<"$status" || fail "status after resubmission: $status"
shard_after=$(finished_at "$SHARD")
"$PY" - "$shard_before" "$shard_after" "$main_before" "$(finished_at res2/main.db)" <<'PYEOF' || fail "a finished cell was recomputed"
import ast, sys
sb, sa, mb, ma = (dict(ast.literal_eval(x)) for x in sys.argv[1:])
assert len(sb) == 1 and len(sa) == 2, (sb, sa)
assert all(sa[k] == v for k, v in sb.items()), "shard"
assert len(mb) == 3 and len(ma) == 4 and all(ma[k] == v for k, v in mb.items()), "main store"
PYEOF
# Everything is finished now: submitting again (even with --resubmit) submits nothing.
"$PTQ_BIN" run m.yaml --backend slurm --db res2/main.db --resubmit --json > submit4.out || fail "$(cat submit4.out)"
[ "$(json_field tasks < submit4.out)" = 0 ] || fail "a finished matrix was submitted again"
compare_with_local res2/main.db || fail "the store after the resubmission differs from the local run"
t_end=$(date +%s.%N)
echo "PASS: a cancelled array task was resubmitted (sbatch --array=$TASK array.sbatch) and finished without duplicates"
"$PY" -c "import sys; a=[float(x) for x in sys.argv[1:]]; print(f'times: cluster start {a[1]-a[0]:.1f} s, local matrix {a[2]-a[1]:.1f} s, SLURM matrix (array + merge) {a[3]-a[2]:.1f} s, kill/resubmit phase {a[4]-a[3]:.1f} s, total {a[4]-a[0]:.1f} s')" \
  "$t_start" "$t_cluster" "$t_local" "$t_slurm" "$t_end"
