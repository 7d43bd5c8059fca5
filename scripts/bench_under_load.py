#!/usr/bin/env python3
"""ptq's speed when the cores are shared: eval and GPTQ wall times with and without one competing CPU-bound process.

Settings compared, each on an idle machine and beside one busy-looping process:
  default    no OpenMP variables, no --threads: what a user gets (ptq picks the waiting policy and thread count
             from how busy the CPUs are when it starts)
  before     GOMP_SPINCOUNT=300000 --threads <all CPUs>: libgomp's own spin-then-sleep default on every CPU, i.e.
             ptq before it chose either
  t1, t2...  --threads N with ptq's default waiting policy
Every run is a separate `ptq` process; each setting runs --reps times, interleaved, and the best time is kept.
Writes OUT/raw/under_load.jsonl (one record per run) and OUT/under_load.md, and prints the table.

Usage: scripts/bench_under_load.py [--out results/perf] [--reps 2] [--eval-windows 100] [--threads 1,2]
Environment: PTQ_BUILD_DIR (build), PTQ_DATA_DIR (../shared/data). Run it on an otherwise idle machine.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd, env=None):
    """Runs cmd; returns (wall seconds, CPU seconds of the child, last stdout line)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"bench_under_load: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "results/perf"))
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--eval-windows", type=int, default=300)
    ap.add_argument("--threads", default="1,2", help="explicit thread counts to compare with the default")
    ap.add_argument("--gptq-model", default="--hidden 512 --intermediate 1408 --layers 2 --heads 8 --vocab 32000",
                    help="ptq random-model size options of the GPTQ workload")
    ap.add_argument("--gptq-calib", default="32x256", help="calibration samples x tokens of the GPTQ workload")
    a = ap.parse_args()
    binary = os.path.join(ROOT, os.environ.get("PTQ_BUILD_DIR", "build"), "ptq")
    data = os.environ.get("PTQ_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))
    os.makedirs(os.path.join(a.out, "raw"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="ptq_under_load_")

    base_env = {k: v for k, v in os.environ.items()
                if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "PTQ_WAIT_POLICY_SET_BY")}
    version = json.loads(sh([binary, "version", "--json"], env=base_env)[2])
    loaded_version = version

    model = os.path.join(work, "random")
    sh([binary, "random-model", "--out", model, *a.gptq_model.split(), "--dtype", "float32",
        "--tokenizer", os.path.join(data, "models/llama2-tokenizer/tokenizer.model"), "--json"], env=base_env)
    n, seq = a.gptq_calib.split("x")
    wiki = os.path.join(data, "eval/wikitext-2-raw/wiki.test.raw")
    workloads = {
        "eval": [binary, "eval", "--model", os.path.join(data, "models/stories260K-hf"), "--dataset", "tinystories",
                 "--seq-len", "128", "--max-windows", str(a.eval_windows), "--json"],
        "gptq": [binary, "run", "--config", os.path.join(ROOT, "configs/quantization/methods/GPTQ/gptq_w_only.yml"),
                 "--set", f"model.path={model}", "--set", "quant.weight.group_size=128",
                 "--set", "quant.special.actorder=false", "--set", "calib.name=text", "--set", f"calib.path={wiki}",
                 "--set", "calib.preproc=random_windows", "--set", f"calib.n_samples={n}",
                 "--set", f"calib.seq_len={seq}", "--set", "calib.bs=-1", "--set", "calib.first_doc=0",
                 "--set", "calib.last_doc=-1", "--set", "eval.eval_pos=[]", "--set", f"save.save_path={work}/save",
                 "--json"],
    }
    settings = [("default", {}, None), ("before", {"GOMP_SPINCOUNT": "300000"}, len(os.sched_getaffinity(0)))]
    settings += [(f"t{t}", {}, int(t)) for t in a.threads.split(",")]

    records = []
    for load in ("idle", "loaded"):
        competitor = None
        if load == "loaded":
            competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1)
            loaded_version = json.loads(sh([binary, "version", "--json", "--gemm-size", "0"], env=base_env)[2])
        try:
            for rep in range(a.reps):
                for wl, cmd in workloads.items():
                    for name, extra_env, threads in settings:
                        argv = cmd + (["--threads", str(threads)] if threads else [])
                        wall, cpu, last = sh(argv, env={**base_env, **extra_env})
                        out = json.loads(last)
                        rec = {"workload": wl, "load": load, "setting": name, "rep": rep, "wall_s": wall,
                               "cpu_s": cpu, "env": extra_env, "threads_arg": threads}
                        if wl == "eval":
                            rec["ppl"] = out.get("ppl")
                            rec["eval_s"] = out.get("seconds")
                        else:
                            rec["quant_s"] = out.get("timings", {}).get("quantize")
                        records.append(rec)
                        print(f"{load:6} {wl:4} {name:8} rep {rep}: {wall:7.2f} s wall, {cpu:7.2f} s CPU", flush=True)
        finally:
            if competitor:
                competitor.kill()
                competitor.wait()

    with open(os.path.join(a.out, "raw/under_load.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    md = report(records, version, loaded_version, a, settings)
    with open(os.path.join(a.out, "under_load.md"), "w") as f:
        f.write(md)
    print(md)
    subprocess.run(["rm", "-rf", work])


def report(records, version, loaded_version, a, settings):
    best = {}
    for r in records:
        k = (r["workload"], r["load"], r["setting"])
        if k not in best or r["wall_s"] < best[k]["wall_s"]:
            best[k] = r
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [
        "# ptq under load: the default settings with and without a competing process",
        "",
        f"Machine: {cpu}, {os.cpu_count()} hardware threads, {platform.release()}; LibTorch {version['torch_version']}, "
        f"BLAS {version['blas']}; ptq {version['git_commit']}. Generated by `scripts/bench_under_load.py` "
        f"(best of {a.reps} interleaved runs per setting; every run a separate process).",
        "",
        f"Default settings of an idle run here: {version['threads']} thread(s) ({version['threads_source']}), "
        f"OMP_WAIT_POLICY={version['omp_wait_policy'] or '(unset)'} ({version['wait_policy_source']}); "
        f"with the competitor: {loaded_version['threads']} thread(s) ({loaded_version['threads_source']}), "
        f"OMP_WAIT_POLICY={loaded_version['omp_wait_policy'] or '(unset)'} ({loaded_version['wait_policy_source']}).",
        "",
        f"Workloads: **eval** = `ptq eval` of stories260K, TinyStories, {a.eval_windows} windows x 128 tokens "
        f"(whole process); **gptq** = `ptq run` GPTQ w4g128 on a random Llama ({a.gptq_model}), "
        f"{a.gptq_calib} WikiText-2 calibration tokens, no evaluation (whole process; quantize stage in brackets). "
        "Competitor: one `python3 -c 'while True: pass'` process.",
        "",
        "Settings: `default` = no OpenMP variables, no --threads (ptq reads how busy the CPUs are when it starts: "
        "idle, libgomp's default waiting and every CPU; busy, OMP_WAIT_POLICY=PASSIVE and only the free CPUs); "
        "`before` = GOMP_SPINCOUNT=300000 and --threads <all CPUs>, what ptq did before it chose either; "
        "`tN` = --threads N with ptq's default waiting policy. Best thread count: the fastest `tN`.",
        "",
        "| workload | load | " + " | ".join(s[0] for s in settings) + " | default / best | CPU s (default) |",
        "|---|---|" + "---|" * len(settings) + "---|---|",
    ]
    verdicts = []
    for wl in ("eval", "gptq"):
        for load in ("idle", "loaded"):
            cells = []
            for s in settings:
                r = best[(wl, load, s[0])]
                q = f" ({r['quant_s']:.1f})" if r.get("quant_s") is not None else ""
                cells.append(f"{r['wall_s']:.2f}{q}")
            b = min(best[(wl, load, s[0])]["wall_s"] for s in settings if s[0].startswith("t"))
            ratio = best[(wl, load, "default")]["wall_s"] / b
            lines.append(f"| {wl} | {load} | " + " | ".join(cells) + f" | {ratio:.2f} | "
                         f"{best[(wl, load, 'default')]['cpu_s']:.1f} |")
            if load == "loaded":
                verdicts.append(f"- {wl}, with a competitor: default {ratio:.2f}x the best thread count "
                                f"(goal <= 1.3: {'met' if ratio <= 1.3 else 'missed'}); before: "
                                f"{best[(wl, load, 'before')]['wall_s'] / b:.2f}x.")
            else:
                vs = best[(wl, load, "default")]["wall_s"] / best[(wl, load, "before")]["wall_s"]
                verdicts.append(f"- {wl}, idle: default / before = {vs:.3f} (goal: no slower than before).")
    ppls = {r["ppl"] for r in records if r.get("ppl") is not None}
    lines += ["", "Times in seconds (wall).", ""] + verdicts
    lines += [f"- eval perplexity identical in every run: {'yes' if len(ppls) == 1 else 'no: ' + str(sorted(ppls))}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
