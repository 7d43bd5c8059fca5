#!/usr/bin/env python3
"""ptq against llm-compressor: the driver behind scripts/bench_peers.sh (run it through that script, which prepares
the peer venv; this file itself needs only the standard library).

Steps: `ptq random-model` (float32, seed 0, the Llama 2 tokenizer so that text can be evaluated), or with --model an
existing HF Llama folder with its own tokenizer (a trained model, e.g. ptq's default model); one `ptq run`
draws the calibration windows from WikiText-2 (random_windows, seed 0) and dumps their token ids (calib.dump_path),
and evaluates the float model; then for every thread count and method:
  ptq             `ptq run --json --threads N` calibrating on that tokens file (calib.name: tokens), fake_quant
                  evaluation, save_fake; time = timings.quantize (the block-by-block pipeline: the calibration forwards,
                  the algorithm, the quantized outputs passed on; not loading, reading the tokens, evaluating, saving)
  llm-compressor  scripts/peers/llmc_quant.py: the same ids as a DataLoader; time = the `oneshot` call (recipe set-up,
                  the sequential pipeline's tracing, calibration forwards, the algorithm, propagation; not loading, not
                  the fake-quant export); its fake-quantized weights are evaluated by `ptq eval` with the protocol of
                  ptq's own fake_quant evaluation (same dataset, seq_len, windows, threads)
Both with OMP_WAIT_POLICY=PASSIVE and OMP_NUM_THREADS = MKL_NUM_THREADS = N; ptq with --threads N, llm-compressor with
torch.set_num_threads(N). ptq runs with ptq.measure_errors False (llm-compressor measures no errors either).

Matching settings (w4g128: 4-bit integers, asymmetric, groups of 128 columns, lm_head kept in float):
  rtn   ptq RTN (data-free)                         | QuantizationModifier (min-max)
  gptq  ptq GPTQ: true_sequential False, static_groups True, actorder False, percdamp 0.01, blocksize 128
                                                    | GPTQModifier: actorder None, dampening 0.01, block 128; its
                                                      group ranges come from the observer on the original weight
  awq   ptq Awq: trans_version v1 (duo scaling), weight_clip False, quant_out True, one calibration batch
                                                    | AWQModifier(duo_scaling True, n_grid 20) + QuantizationModifier
RTN and GPTQ coincide, so their perplexities must agree within --tol-rtn / --tol-gptq (relative); AWQ's are reported.
"""
import argparse
import datetime
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SIZES = {
    "tiny": dict(hidden=256, intermediate=768, layers=2, heads=4, n_samples=8, seq_len=128, eval_seq_len=128,
                 eval_windows=8),
    "small": dict(hidden=512, intermediate=1408, layers=2, heads=8, n_samples=32, seq_len=256, eval_seq_len=256,
                  eval_windows=8),
    "ref": dict(hidden=1024, intermediate=2816, layers=4, heads=8, n_samples=64, seq_len=512, eval_seq_len=512,
                eval_windows=8),
}
VOCAB = 32000
CHECKED = {"rtn", "gptq"}  # the methods whose algorithms coincide in both tools
METHOD_LABEL = {"rtn": "RTN w4g128", "gptq": "GPTQ w4g128", "awq": "AWQ w4g128 (scale search)"}


def log(msg):
    print(f"[bench_peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class LoadSampler:
    """Samples /proc/loadavg every `period` s while a timed run goes on: the 1-minute load average and the number of
    runnable tasks (which includes the measured run's own threads and the sampling thread itself)."""

    def __init__(self, period=2.0):
        self.period, self.samples, self._stop = period, [], threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read():
        with open("/proc/loadavg") as f:
            p = f.read().split()
        return float(p[0]), int(p[3].split("/")[0])

    def _run(self):
        while True:
            self.samples.append(self.read())
            if self._stop.wait(self.period):
                return

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def summary(self):
        s = self.samples or [self.read()]
        return {"load1_first": s[0][0], "load1_last": s[-1][0], "load1_max": max(x[0] for x in s),
                "runnable_mean": sum(x[1] for x in s) / len(s), "samples": len(s)}


def run(cmd, env=None, log_path=None):
    """Runs cmd; returns its stdout. On failure prints the tail of its output and raises."""
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if log_path:
        with open(log_path, "w") as f:
            f.write(p.stdout)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:])
        raise SystemExit(f"bench_peers: command failed ({p.returncode}): {shlex.join(cmd)}")
    return p.stdout


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit("bench_peers: no JSON line in the output")


def thread_env(n):
    env = dict(os.environ)
    env.update(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n))
    return env


def ptq_config(method, model, calib, ev, tokens_path, save_path):
    """A `ptq run` configuration (JSON, which is YAML)."""
    weight = {"bit": 4, "symmetric": False, "granularity": "per_group", "group_size": 128}
    special = {}
    if method == "gptq":
        special = {"actorder": False, "static_groups": True, "percdamp": 0.01, "blocksize": 128,
                   "true_sequential": False}
    elif method == "awq":
        special = {"trans": True, "trans_version": "v1", "weight_clip": False}
    cfg = {
        "base": {"seed": 0},
        "model": {"type": "Llama", "path": model, "torch_dtype": "float32"},
        "eval": {"eval_pos": ["fake_quant"], "name": "wikitext2", "download": False, "seq_len": ev["seq_len"],
                 "bs": 1, "max_windows": ev["windows"]},
        "quant": {"method": {"rtn": "RTN", "gptq": "GPTQ", "awq": "Awq"}[method], "weight": weight,
                  "quant_out": True},
        "save": {"save_fake": True, "save_path": save_path},
        "ptq": {"measure_errors": False},
    }
    if special:
        cfg["quant"]["special"] = special
    if method != "rtn":  # RTN is data-free in both tools
        cfg["calib"] = {"name": "tokens", "path": tokens_path, "download": False, "n_samples": calib["n_samples"],
                        "seq_len": calib["seq_len"], "bs": -1 if method == "awq" else 1}
    return cfg


def git_head(repo):
    try:
        sha = subprocess.run(["git", "-C", repo, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except OSError:
        return ""


def other_processes():
    """The busiest other processes when the benchmark starts (command name and %CPU over their lifetime)."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu=,comm=", "--sort=-pcpu"], capture_output=True, text=True).stdout
    except OSError:
        return []
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and float(parts[0]) >= 5.0 and parts[1] not in ("ps", "python3", "python3.11"):
            rows.append(f"{parts[1]} {parts[0]}%")
    return rows[:6]


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench_peers.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="= --size tiny (seconds per run)")
    ap.add_argument("--size", choices=sorted(SIZES), help="model and calibration size (default: ref; --quick: tiny)")
    ap.add_argument("--methods", default="rtn gptq awq", help='methods, space separated (default "rtn gptq awq")')
    ap.add_argument("--threads", default="1 2", help='thread counts, space separated (default "1 2")')
    ap.add_argument("--db", default="results/perf/peers.db", help="results store for ptq bench-import")
    ap.add_argument("--md", help="the Markdown report (default: results/perf/peers.md for the reference size, "
                                 "results/perf/peers_<size>.md for the others)")
    ap.add_argument("--raw-dir", default="results/perf/raw", help="where the raw JSON files go")
    ap.add_argument("--work", help="working folder (default: a new folder under /tmp, removed unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the working folder (models, logs, configs)")
    ap.add_argument("--tol-gptq", type=float, default=2e-3, help="relative ppl tolerance for GPTQ (default 2e-3)")
    ap.add_argument("--tol-rtn", type=float, default=5e-5, help="relative ppl tolerance for RTN (default 5e-5)")
    ap.add_argument("--tol-rtn-weights", type=float, default=1e-6,
                    help="RTN: largest share of weight elements allowed to differ (default 1e-6: float near-ties)")
    ap.add_argument("--eval-windows", type=int, help="evaluation windows (default: the size's)")
    ap.add_argument("--model", help="an HF Llama folder to quantize instead of the size's random model (its own "
                                    "tokenizer; --size then sets only the calibration and evaluation sizes)")
    ap.add_argument("--ptq-set", action="append", default=[],
                    help="[METHOD:]KEY=VALUE passed to `ptq run --set` (e.g. gptq:quant.special.static_groups=False "
                         "to see the check fail)")
    ap.add_argument("--venv-python", default=sys.executable, help=argparse.SUPPRESS)
    a = ap.parse_args()

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ptq = os.path.abspath(os.environ.get("PTQ_BIN", "build/ptq"))
    size = a.size or ("tiny" if a.quick else "ref")
    sz = dict(SIZES[size])
    if a.eval_windows:
        sz["eval_windows"] = a.eval_windows
    methods = a.methods.split()
    threads = [int(t) for t in a.threads.split()]
    for m in methods:
        if m not in METHOD_LABEL:
            raise SystemExit(f"bench_peers: unknown method '{m}' (rtn, gptq, awq)")
    data_dir = os.environ.get("PTQ_DATA_DIR", os.path.join(os.path.dirname(repo), "shared", "data"))
    tokenizer = os.path.join(data_dir, "models", "llama2-tokenizer", "tokenizer.model")
    if not a.model and not os.path.isfile(tokenizer):
        raise SystemExit(f"bench_peers: no Llama 2 tokenizer at {tokenizer} (set PTQ_DATA_DIR)")
    tols = {"rtn": a.tol_rtn, "gptq": a.tol_gptq, "rtn_weights": a.tol_rtn_weights}
    extra_sets = {}
    for s in a.ptq_set:
        m, sep, kv = s.partition(":")
        if sep and m in METHOD_LABEL and "=" in kv:
            extra_sets.setdefault(m, []).append(kv)
        else:
            for mm in METHOD_LABEL:
                extra_sets.setdefault(mm, []).append(s)

    work = os.path.abspath(a.work) if a.work else tempfile.mkdtemp(prefix="ptq-peers.")
    os.makedirs(work, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = LoadSampler.read()
    busy = other_processes()
    system = last_json(run([ptq, "version", "--json", "--threads", "1"]))
    peer_py = a.venv_python
    log(f"size {size}, methods {methods}, threads {threads}, work folder {work}")
    log(f"load at start: 1-min {load_at_start[0]:.2f}, runnable {load_at_start[1]}; busy: {', '.join(busy) or '-'}")

    # The model and the calibration ids.
    model = os.path.abspath(a.model) if a.model else os.path.join(work, "model")
    # Names of the report, the raw files and the bench-import label: the size, and the model folder's name when given.
    report_tag = f"{os.path.basename(os.path.normpath(model))}_{size}" if a.model else size
    if a.model:
        if not os.path.isfile(os.path.join(model, "config.json")):
            raise SystemExit(f"bench_peers: --model {a.model}: no config.json (an HF Llama folder is needed)")
    elif not os.path.isfile(os.path.join(model, "model.safetensors")):
        run([ptq, "random-model", "--out", model, "--force", "--hidden", str(sz["hidden"]), "--intermediate",
             str(sz["intermediate"]), "--layers", str(sz["layers"]), "--heads", str(sz["heads"]), "--vocab",
             str(VOCAB), "--dtype", "float32", "--seed", "0", "--tokenizer", tokenizer, "--threads", "0"])
    tokens = os.path.join(work, "calib_tokens.json")
    ev = {"seq_len": sz["eval_seq_len"], "windows": sz["eval_windows"]}
    prep = {
        "base": {"seed": 0},
        "model": {"type": "Llama", "path": model, "torch_dtype": "float32"},
        "calib": {"name": "wikitext2", "download": False, "n_samples": sz["n_samples"], "seq_len": sz["seq_len"],
                  "bs": 1, "preproc": "random_windows", "seed": 0, "dump_path": tokens},
        "eval": {"eval_pos": ["pretrain"], "name": "wikitext2", "download": False, "seq_len": ev["seq_len"], "bs": 1,
                 "max_windows": ev["windows"]},
        "quant": {"method": "RTN", "weight": {"bit": 4, "symmetric": False, "granularity": "per_group",
                                              "group_size": 128}},
        "ptq": {"measure_errors": False},
    }
    prep_cfg = os.path.join(work, "prep.yml")
    with open(prep_cfg, "w") as f:
        json.dump(prep, f, indent=1)
    if os.path.exists(tokens):
        os.remove(tokens)
    log("drawing the calibration ids and evaluating the float model")
    prep_out = last_json(run([ptq, "run", "--config", prep_cfg, "--json", "--threads", str(max(threads))],
                             env=thread_env(max(threads)), log_path=os.path.join(work, "prep.log")))
    fp_ppl = next(e["ppl"] for e in prep_out["evals"] if e["pos"] == "pretrain")
    eval_protocol = next(e["protocol"] for e in prep_out["evals"] if e["pos"] == "pretrain")

    rows, versions = [], {}
    for t in threads:
        env = thread_env(t)
        for m in methods:
            tag = f"{m}_t{t}"
            # ptq
            cfg_path = os.path.join(work, f"ptq_{tag}.yml")
            save = os.path.join(work, f"ptq_{tag}")
            shutil.rmtree(save, ignore_errors=True)
            with open(cfg_path, "w") as f:
                json.dump(ptq_config(m, model, sz, ev, tokens, save), f, indent=1)
            cmd = [ptq, "run", "--config", cfg_path, "--json", "--threads", str(t)]
            for kv in extra_sets.get(m, []):
                cmd += ["--set", kv]
            log(f"ptq {m}, {t} thread(s)")
            with LoadSampler() as ls_ptq:
                out = last_json(run(cmd, env=env, log_path=os.path.join(work, f"ptq_{tag}.log")))
            ptq_s = out["timings"]["quantize"]
            ptq_ppl = next(e["ppl"] for e in out["evals"] if e["pos"] == "fake_quant")
            # llm-compressor
            fake = os.path.join(work, f"llmc_{tag}")
            shutil.rmtree(fake, ignore_errors=True)
            log(f"llm-compressor {m}, {t} thread(s)")
            with LoadSampler() as ls_peer:
                peer = last_json(run([peer_py, os.path.join(repo, "scripts", "peers", "llmc_quant.py"), "--model",
                                      model, "--tokens", tokens, "--method", m, "--threads", str(t), "--fake-out",
                                      fake], env=env, log_path=os.path.join(work, f"llmc_{tag}.log")))
            versions = peer["versions"]
            peer_eval = last_json(run([ptq, "eval", "--model", fake, "--dataset", "wikitext2", "--seq-len",
                                       str(ev["seq_len"]), "--max-windows", str(ev["windows"]), "--batch-size", "1",
                                       "--threads", str(t), "--json"], env=env))
            peer_ppl = peer_eval["ppl"]
            cmp_w = last_json(run([peer_py, os.path.join(repo, "scripts", "peers", "compare_weights.py"),
                                   os.path.join(save, "fake_quant_model"), fake]))
            rel = abs(ptq_ppl - peer_ppl) / peer_ppl
            checked = m in CHECKED
            ok = None
            if checked:
                ok = rel <= tols[m] and (m != "rtn" or cmp_w["linear_differing"] <= a.tol_rtn_weights)
            row = {"method": m, "threads": t, "ptq_s": ptq_s, "peer_s": peer["oneshot_s"], "ratio": ptq_s /
                   peer["oneshot_s"], "ptq_ppl": ptq_ppl, "peer_ppl": peer_ppl, "ppl_rel_diff": rel,
                   "tolerance": tols.get(m), "check": ok, "weights_differing": cmp_w["linear_differing"],
                   "weights_rel_fro": cmp_w["linear_rel_fro"], "ptq_load": ls_ptq.summary(),
                   "peer_load": ls_peer.summary(), "ptq_timings": out["timings"], "peer_load_s": peer["load_s"],
                   "ptq_sets": extra_sets.get(m, [])}
            rows.append(row)
            verdict = "" if ok is None else ("  check: ok" if ok else "  check: FAILED")
            print(f"{METHOD_LABEL[m]:<26} threads {t}: ptq {ptq_s:9.2f} s  llm-compressor {peer['oneshot_s']:9.2f} s"
                  f"  ptq/peer {row['ratio']:.3f}   ppl {ptq_ppl:.4f} vs {peer_ppl:.4f} (rel {rel:.2e}){verdict}",
                  flush=True)
            if not a.keep:
                shutil.rmtree(save, ignore_errors=True)
                shutil.rmtree(fake, ignore_errors=True)

    finished = datetime.datetime.now(datetime.timezone.utc)
    if a.model:
        with open(os.path.join(model, "config.json")) as f:
            hf = json.load(f)
        described = {"path": os.path.relpath(model, repo) if model.startswith(repo + os.sep) else model,
                     "hidden": hf["hidden_size"], "intermediate": hf["intermediate_size"],
                     "layers": hf["num_hidden_layers"], "heads": hf["num_attention_heads"],
                     "kv_heads": hf.get("num_key_value_heads", hf["num_attention_heads"]), "vocab": hf["vocab_size"],
                     "dtype": hf.get("torch_dtype", "float32")}
    else:
        described = {k: sz[k] for k in ("hidden", "intermediate", "layers", "heads")} | {"vocab": VOCAB,
                                                                                         "dtype": "float32",
                                                                                         "seed": 0}
    setting = {"size": size, "model": described,
               "calibration": {"dataset": "wikitext2", "preproc": "random_windows", "seed": 0,
                               "n_samples": sz["n_samples"], "seq_len": sz["seq_len"]},
               "eval": {"dataset": "wikitext2", "seq_len": ev["seq_len"], "windows": ev["windows"], "bos": False}}
    script_commit = git_head(repo)
    command = "scripts/bench_peers.sh " + shlex.join(sys.argv[1:][2:] if sys.argv[1:2] == ["--venv-python"]
                                                      else sys.argv[1:])

    # Raw JSON (Google Benchmark's shape, for ptq bench-import), one file per thread count.
    raw_dir = os.path.join(repo, a.raw_dir) if not os.path.isabs(a.raw_dir) else a.raw_dir
    os.makedirs(raw_dir, exist_ok=True)
    raw_files = []
    for t in threads:
        benches = []
        for r in (r for r in rows if r["threads"] == t):
            name = f"{r['method']}_w4g128"
            common = {"iterations": 1, "time_unit": "s", "threads": t}
            benches.append({"name": f"{name}/ptq", "run_name": f"{name}/ptq", "real_time": r["ptq_s"],
                            "cpu_time": r["ptq_s"], **common, "ppl": r["ptq_ppl"],
                            "ratio_vs_llmcompressor": r["ratio"], "ppl_rel_diff": r["ppl_rel_diff"],
                            "weights_differing": r["weights_differing"],
                            "load1_max": r["ptq_load"]["load1_max"], "runnable_mean": r["ptq_load"]["runnable_mean"],
                            **({"check_passed": int(r["check"])} if r["check"] is not None else {})})
            benches.append({"name": f"{name}/llmcompressor", "run_name": f"{name}/llmcompressor",
                            "real_time": r["peer_s"], "cpu_time": r["peer_s"], **common, "ppl": r["peer_ppl"],
                            "load1_max": r["peer_load"]["load1_max"],
                            "runnable_mean": r["peer_load"]["runnable_mean"]})
        ctx = {"executable": "bench_peers", "host_name": socket.gethostname(), "date": started.isoformat(),
               "ptq_commit": system.get("git_commit", ""), "script_commit": script_commit, "device": "cpu",
               "cpu_model": system.get("cpu_model", ""), "num_cpus": system.get("hardware_threads", os.cpu_count()),
               "torch_threads": str(t), "omp_wait_policy": "PASSIVE", "command": command,
               "setting": json.dumps(setting), "versions": json.dumps(versions),
               "time_ptq": "ptq run --json timings.quantize (block pipeline; no load, eval, save)",
               "time_llmcompressor": "wall time of oneshot() (no load, no export, no eval)",
               "cpu_time": "not measured; equals real_time",
               "load_at_start": f"{load_at_start[0]:.2f} load1, {load_at_start[1]} runnable",
               "busy_at_start": "; ".join(busy), "library_build_type": "release"}
        path = os.path.join(raw_dir, f"peers_{report_tag}_t{t}.json")
        with open(path, "w") as f:
            json.dump({"context": ctx, "benchmarks": benches}, f, indent=1)
            f.write("\n")
        raw_files.append(path)
    db = a.db if os.path.isabs(a.db) else os.path.join(repo, a.db)
    os.makedirs(os.path.dirname(db), exist_ok=True)
    imp = last_json(run([ptq, "bench-import", *raw_files, "--db", db, "--label", f"peers {report_tag}", "--json"]))

    md = a.md or ("results/perf/peers.md" if report_tag == "ref" else f"results/perf/peers_{report_tag}.md")
    md = md if os.path.isabs(md) else os.path.join(repo, md)
    write_report(md, rows, setting, versions, system, fp_ppl, eval_protocol, started, finished, load_at_start, busy,
                 command, script_commit, raw_files, db, repo, tols)

    print("\nptq / llm-compressor (quantization stage, wall time; < 1 = ptq faster):")
    for r in rows:
        print(f"  {r['method']:<5} threads {r['threads']}: {r['ratio']:.3f}")
    failed = [r for r in rows if r["check"] is False]
    log(f"wrote {os.path.relpath(md, repo)}, {', '.join(os.path.relpath(p, repo) for p in raw_files)}; "
        f"bench-import into {os.path.relpath(db, repo)}: {imp.get('imported', imp)} imported")
    if not a.keep and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    elif a.keep:
        log(f"kept {work}")
    if failed:
        for r in failed:
            print(f"bench_peers: CHECK FAILED: {METHOD_LABEL[r['method']]}, {r['threads']} thread(s): "
                  f"ptq {r['ptq_ppl']:.6f} vs llm-compressor {r['peer_ppl']:.6f}, relative difference "
                  f"{r['ppl_rel_diff']:.3e} (tolerance {r['tolerance']:.1e}), weight elements differing "
                  f"{r['weights_differing']:.3e}" + (f" (tolerance {a.tol_rtn_weights:.1e})" if r["method"] == "rtn"
                                                     else ""), file=sys.stderr)
        return 3
    return 0


def write_report(md, rows, setting, versions, system, fp_ppl, protocol, started, finished, load0, busy, command,
                 script_commit, raw_files, db, repo, tols):
    # Runnable tasks beside the measured run: the sample minus the run's own threads minus the sampler itself.
    runnable = [r[k]["runnable_mean"] - r["threads"] - 1 for r in rows for k in ("ptq_load", "peer_load")]
    load_max = max([r[k]["load1_max"] for r in rows for k in ("ptq_load", "peer_load")] + [load0[0]])
    others = max(0.0, sum(runnable) / len(runnable)) if runnable else 0.0
    ncpu = system.get("hardware_threads", os.cpu_count())
    # Judged by the runnable tasks sampled during the runs: the 1-minute load average lags by minutes (a build that
    # ended just before the benchmark still shows), and ps's %CPU is over a process's lifetime (a stopped one shows).
    busy_machine = others >= 0.5
    m = setting["model"]
    c = setting["calibration"]
    e = setting["eval"]
    L = []
    L.append("# ptq against llm-compressor (peer benchmark)")
    L.append("")
    L.append(f"Generated by `{command}` ({started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC), `PTQ_BIN` ptq "
             f"{system.get('git_commit', '?')}, script {script_commit}. Rerun: `scripts/bench_peers.sh --quick` "
             "(about 2 minutes, seconds per run) or `scripts/bench_peers.sh` (the reference setting, 1 and 2 "
             "threads; about an hour on 2 idle "
             "cores); the script prepares its venv (`.venv-peers`, llm-compressor from PyPI, the project's torch).")
    L.append("")
    if busy_machine:
        L.append(f"**Measured load: the machine was busy, so these timings are noise, not results.** 1-minute load "
                 f"average {load0[0]:.2f} at the start and up to {load_max:.2f} during the runs on {ncpu} hardware "
                 f"threads; on average {others:.2f} other runnable task(s) beside the measured run's own threads.")
    else:
        L.append(f"Measured load: 1-minute load average {load0[0]:.2f} at the start, at most {load_max:.2f} during "
                 f"the runs, on {ncpu} hardware threads; on average {others:.2f} other runnable task(s) beside the "
                 "measured run's own threads.")
    if busy:
        L.append(f"Busiest other processes at the start (ps, %CPU over their lifetime): {', '.join(busy)}.")
    L.append("")
    L.append(f"Machine: {system.get('cpu_model', '?')}, {ncpu} hardware threads, BLAS {system.get('blas', '?')}. "
             f"Versions: ptq {system.get('git_commit', '?')} (LibTorch {system.get('torch_version', '?')}); "
             f"llmcompressor {versions.get('llmcompressor', '?')}, compressed-tensors "
             f"{versions.get('compressed_tensors', '?')}, transformers {versions.get('transformers', '?')}, torch "
             f"{versions.get('torch', '?')} (the project's wheel; llmcompressor declares torch<=2.14.0), Python "
             f"{versions.get('python', '?')} (scripts/peers/requirements.lock).")
    L.append("")
    if "path" in m:
        model_text = (f"the trained model `{m['path']}` (Llama, hidden {m['hidden']}, intermediate "
                      f"{m['intermediate']}, {m['layers']} layers, {m['heads']} heads over {m['kv_heads']} key/value "
                      f"heads, vocabulary {m['vocab']}, its own tokenizer, {m['dtype']})")
        random_note = ""
    else:
        model_text = (f"`ptq random-model` Llama, hidden {m['hidden']}, intermediate {m['intermediate']}, "
                      f"{m['layers']} layers, {m['heads']} heads, vocabulary {m['vocab']} (Llama 2 tokenizer), "
                      "float32, seed 0")
        random_note = (" A random model's perplexity is near its vocabulary size and moves little under "
                       "quantization; the check is on the relative difference.")
    L.append(f"Setting ({setting['size']} sizes): {model_text}. Calibration: {c['n_samples']} x {c['seq_len']} "
             "WikiText-2 token windows "
             "(ptq random_windows, seed 0), dumped once and fed as the same ids to both tools. Weights w4g128: 4-bit "
             "integers, asymmetric, groups of 128, every block Linear; lm_head and embeddings in float. "
             f"Perplexity: `ptq eval` protocol, WikiText-2 test, {e['windows']} windows of {e['seq_len']} tokens, no "
             f"BOS ({protocol.get('scoring', '')}); float model {fp_ppl:.4f}.{random_note}")
    L.append("")
    L.append("What the seconds include. ptq: `timings.quantize` of `ptq run --json` (the block-by-block pipeline: "
             "calibration forwards, the algorithm, quantized outputs passed to the next block; ptq.measure_errors "
             "false); not loading, reading the ids, evaluating or saving. llm-compressor: the wall time of the "
             "`oneshot` call (recipe set-up, the sequential pipeline's tracing, calibration forwards, the algorithm, "
             "propagation); not loading or the fake-quant export. Both: OMP_WAIT_POLICY=PASSIVE, "
             "OMP_NUM_THREADS=MKL_NUM_THREADS=N, ptq `--threads N`, llm-compressor `torch.set_num_threads(N)`; "
             "every run a fresh process; one run per cell.")
    L.append("")
    L.append("Matching settings. RTN: ptq RTN (data-free) vs QuantizationModifier. GPTQ: ptq true_sequential "
             "False, static_groups True, actorder False, percdamp 0.01, blocksize 128 vs GPTQModifier actorder None, "
             "dampening 0.01, block 128 (llm-compressor takes each group's range from the original weight, which is "
             "ptq's static_groups). AWQ: ptq "
             "trans_version v1 (duo scaling), weight_clip False, quant_out True, one calibration batch vs "
             "AWQModifier(duo_scaling True, n_grid 20) + QuantizationModifier (no clip search in either); the two "
             "AWQ implementations differ in details, so AWQ perplexities are reported, not checked.")
    L.append("")
    L.append("| method | threads | ptq s | llm-compressor s | ptq / llm-compressor | ptq ppl | llm-compressor ppl "
             "| rel. diff | check | weights differing | load1 max | other runnable |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        check = "—" if r["check"] is None else ("ok" if r["check"] else "**FAILED**")
        oth = (r["ptq_load"]["runnable_mean"] + r["peer_load"]["runnable_mean"]) / 2 - r["threads"] - 1
        sets = f" (ptq --set {', '.join(r['ptq_sets'])})" if r["ptq_sets"] else ""
        L.append(f"| {METHOD_LABEL[r['method']]}{sets} | {r['threads']} | {r['ptq_s']:.2f} | {r['peer_s']:.2f} | "
                 f"{r['ratio']:.3f} | {r['ptq_ppl']:.4f} | {r['peer_ppl']:.4f} | {r['ppl_rel_diff']:.2e} | {check} | "
                 f"{100 * r['weights_differing']:.3g}% | "
                 f"{max(r['ptq_load']['load1_max'], r['peer_load']['load1_max']):.2f} | {max(oth, 0):.2f} |")
    L.append("")
    L.append("Columns: *rel. diff* = |ptq − llm-compressor| / llm-compressor perplexity; *check*: RTN passes when "
             f"rel. diff ≤ {tols['rtn']:.0e} and at most {tols['rtn_weights']:.0e} of the weight elements differ "
             "(`--tol-rtn`, `--tol-rtn-weights`; the two tools' w/scale can land on opposite sides of a .5 tie "
             "within float rounding: 7 of 51M elements, one step each, 4.9e-6 in ppl, in the reference setting), "
             f"GPTQ when rel. diff ≤ {tols['gptq']:.0e} (`--tol-gptq`; GPTQ's rounding is discontinuous: last-bit "
             "differences between the two tools' float computations flip a few near-tie roundings, whose errors "
             "GPTQ spreads along the row and, through the quantized outputs, into later blocks; ptq's default "
             "dynamic groups instead of static_groups give 5.1e-3 on the quick model and fail); "
             "*weights differing* = share of block-Linear weight elements whose fake-quantized values differ "
             "(0 % = bit-identical); *load1 max* = highest 1-minute load average sampled during the two runs; "
             "*other runnable* = mean runnable tasks from /proc/loadavg (sampled every 2 s) minus the run's own "
             "threads "
             "and the sampler.")
    L.append("")
    L.append(f"Raw numbers: {', '.join('`' + os.path.relpath(p, repo) + '`' for p in raw_files)} (Google "
             f"Benchmark's shape), imported with `ptq bench-import` into `{os.path.relpath(db, repo)}` "
             "(`ptq bench-import --db FILE --list`).")
    with open(md, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    sys.exit(main())
