#!/usr/bin/env python3
"""Formats results/perf/report.md from what scripts/perf_report.sh measured: the benchmark results in the store
(bench_runs / bench_results, label perf_report, the newest run of each program and thread count) and the JSON files
in OUT/raw (machine, matrix_cost, memory). Usage: format_perf_report.py OUT_DIR PERF_DB (the store is read through
ptq: $PTQ, default build/ptq)"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptq_store import raw_loader, stored_bench_runs  # noqa: E402

out, db = sys.argv[1], sys.argv[2]
raw = os.path.join(out, "raw")
load = raw_loader(out)


machine = load("machine.json")
benches = {}  # (program, threads) -> {name: (real_time, unit, counters)}
if os.path.exists(db):
    for run in stored_bench_runs(db):  # import order: the newest run of a program and thread count wins
        if run["label"] == "perf_report":
            benches[(run["program"], run["threads"])] = {
                r["name"]: (r["real_time"], r["time_unit"], r["counters"] or {}) for r in run["results"]}

SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def secs(entry):
    return entry[0] * SECONDS[entry[1]]


def find(prog, threads, prefix):
    for name, e in benches.get((prog, threads), {}).items():
        if name.startswith(prefix):
            return e
    return None


def verdict(ok):
    return "met" if ok else "**missed**"


lines = ["# ptq performance report", ""]
if machine:
    v = machine["ptq"]
    lines += [
        f"Machine: {machine['cpu_model']}, {machine['cpus']} hardware threads, {machine['mem_bytes'] / 2**30:.1f} GiB, "
        f"Linux {machine['kernel']}; LibTorch {v.get('torch_version')} (BLAS {v.get('blas')}), ptq {v.get('git_commit')}; "
        f"load average {' '.join(machine['loadavg_start'])} at the start, {' '.join(machine.get('loadavg_end', ['?']))} "
        f"at the end. Every figure is a wall time on this machine, fp32, CPU.", ""]
threads_seen = sorted({t for _, t in benches})

lines += ["## Forward (prefill) throughput against the GEMM rate", "",
          "Llama-shaped random models, 8 layers, head_dim 64, vocab 32000, batch 1 × 512 tokens (`bench_forward`). "
          "GEMM rate: fp32 square matmul measured in the same program. Target: ≥ 70% of the GEMM rate at hidden ≥ 1024.",
          "", "| threads | hidden | tokens/s | GFLOP/s | GEMM n=hidden GFLOP/s | fraction | GEMM n=2048 GFLOP/s | fraction | target |",
          "|---|---|---|---|---|---|---|---|---|"]
for t in threads_seen:
    for h in (512, 1024, 2048):
        e = find("bench_forward", t, f"BM_Forward/hidden:{h}/seq:512/batch:1")
        if not e:
            continue
        c = e[2]
        target = "" if h < 1024 else verdict(c["gemm_frac"] >= 0.70)
        lines.append(f"| {t} | {h} | {c['tokens_per_s']:.0f} | {c['GFLOP/s']:.1f} | {c['gemm_GFLOP/s']:.1f} | "
                     f"{c['gemm_frac']:.2f} | {c['gemm_2048_GFLOP/s']:.1f} | {c['gemm_frac_2048']:.2f} | {target} |")
lines.append("")

t1 = threads_seen[0] if threads_seen else None
awq_b, awq_l = find("bench_awq", t1, "BM_AwqBlock/batched:1"), find("bench_awq", t1, "BM_AwqBlock/batched:0")
if awq_b and awq_l:
    r = secs(awq_l) / secs(awq_b)
    lines += ["## AWQ block search: 20 ratios batched vs one at a time", "",
              "One Llama-7B-shaped block (4096/11008), 256 calibration tokens, w4g128, scale and clip search "
              f"(`bench_awq`, {t1} thread). Target: batched ≥ 3× faster.", "",
              "| batched | one ratio at a time | speed-up | target |", "|---|---|---|---|",
              f"| {secs(awq_b):.1f} s | {secs(awq_l):.1f} s | {r:.2f}× | {verdict(r >= 3)} |", ""]

g = find("bench_gptq", t1, "BM_GptqLayer/act_order:0")
if g:
    lines += ["## GPTQ per layer", "",
              f"One 4096 × 4096 linear, w4g128 asymmetric, Hessian from 128 × 2048 tokens, then the solve "
              f"(`bench_gptq`, {t1} thread): **{secs(g):.1f} s per layer** (a Llama-2-7B block has 4 such layers and "
              f"3 of 4096 × 11008).", ""]

rows = []
for t in threads_seen:
    cp = find("bench_fake_quant", t, "BM_TensorCopy")
    for label, prefix in (("fake quant w4g128 (new output)", "BM_FakeQuant/"),
                          ("fake quant w4g128 (in place)", "BM_FakeQuantInPlace/")):
        e = find("bench_fake_quant", t, prefix)
        if cp and e:
            rows.append((t, label, e[2]["bytes_per_second"], cp[2]["bytes_per_second"], "4096² fp32"))
    cc = find("bench_pack", t, "BM_CodesCopy")
    for label, prefix in (("AutoAWQ GEMM pack", "BM_AwqGemmPack"), ("AutoAWQ GEMV pack", "BM_AwqGemvPack"),
                          ("GPTQ pack (v2)", "BM_GptqPack")):
        e = find("bench_pack", t, prefix)
        if cc and e:
            rows.append((t, label, e[2]["bytes_per_second"], cc[2]["bytes_per_second"], "4096² uint8 codes"))
if rows:
    lines += ["## Fake quantizer and packers against a tensor copy", "",
              "Bytes per second (fake quant: fp32 read + written; packers: codes read) next to a plain copy of the same "
              "tensor (`bench_fake_quant`, `bench_pack`).", "",
              "| threads | operation | tensor | GB/s | copy GB/s | fraction of copy |", "|---|---|---|---|---|---|"]
    for t, label, rate, copy, what in rows:
        lines.append(f"| {t} | {label} | {what} | {rate / 1e9:.2f} | {copy / 1e9:.2f} | {rate / copy:.3f} |")
    lines.append("")

mc = load("matrix_cost.json")
if mc:
    lines += ["## Whole-matrix cost", "",
              f"`experiments/methods_overview.yaml` ({mc['cells']} cells: 6 methods × w2/w3/w4 g32) on `{os.path.basename(mc['model'])}` "
              "(its calibration and held-out splits; 16 × 256 calibration tokens), 1 thread: one `ptq run` of the "
              "matrix (calibration captured once per model, the fp baseline evaluated once, the step-1 cache shared) "
              "against each cell as its own process with its own store and cache. Target: ≤ 0.6×.", "",
              "| one process | separate processes (sum) | ratio | largest relative ppl difference | target |",
              "|---|---|---|---|---|",
              f"| {mc['shared_seconds']:.1f} s | {mc['separate_seconds']:.1f} s | {mc['ratio']:.3f} | "
              f"{mc['max_rel_ppl_diff']:.1e} | {verdict(mc['ratio'] <= 0.6)} |", "",
              "| cell | method | scheme | separate process s | ppl |", "|---|---|---|---|---|"]
    for c in mc["per_cell"]:
        lines.append(f"| {c['index']} | {c['method']} | {c['scheme']} | {c['seconds']:.1f} | {c['ppl_separate']:.4f} |")
    lines.append("")

mem = load("memory.json")
if mem:
    r4, r32 = mem["runs"]["4"], mem["runs"]["32"]
    mib = lambda b: f"{b / 2**20:.0f} MiB"
    lines += ["## Peak memory: 4 vs 32 layers", "",
              f"GPTQ w4g128 on random Llama models of hidden {mem['hidden']}, intermediate {mem['intermediate']}, vocab "
              "32000, fp32 (8 × 512 calibration tokens, 2 evaluation windows), peak RSS of the `ptq run` process "
              "(VmHWM). Target: 32-layer peak ≤ 1.3 × 4-layer peak + the extra layers' checkpoint bytes.", "",
              "| layers | checkpoint | peak RSS |", "|---|---|---|",
              f"| 4 | {mib(r4['checkpoint_bytes'])} | {mib(r4['peak_rss_bytes'])} |",
              f"| 32 | {mib(r32['checkpoint_bytes'])} | {mib(r32['peak_rss_bytes'])} |", "",
              f"Bound: {mib(mem['bound_bytes'])}; the 32-layer peak is {mem['ratio_to_bound']:.2f} of it: "
              f"{verdict(mem['ratio_to_bound'] <= 1)}.", ""]

print("\n".join(lines).rstrip() + "\n")
