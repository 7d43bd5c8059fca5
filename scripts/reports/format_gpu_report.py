#!/usr/bin/env python3
"""Formats results/gpu/report.md from what scripts/gpu/bench.sh measured: the bench_eval_mfu results in the store
(label gpu_bench, newest run) and the `ptq run --json` records and eval JSON in OUT/raw.
Usage: format_gpu_report.py OUT_DIR GPU_DB (the store is read through ptq: $PTQ, default build/ptq)"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptq_store import raw_loader, stored_bench_runs  # noqa: E402

out, db = sys.argv[1], sys.argv[2]
raw = os.path.join(out, "raw")
load = raw_loader(out)


def records(name):
    p = os.path.join(raw, name)
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []


machine = load("machine.json") or {}
lines = ["# ptq on a GPU", "",
         f"Device: {machine.get('cuda_device') or 'no CUDA device (a CPU run)'}; LibTorch {machine.get('torch_version')}, "
         f"ptq {machine.get('git_commit')}. Wall times; every number below was measured by scripts/gpu/bench.sh.", ""]

mfu_runs = [r for r in stored_bench_runs(db) if r["program"] == "bench_eval_mfu"] if os.path.exists(db) else []
if mfu_runs:
    run = mfu_runs[-1]  # the newest
    ctx = run["context"]
    lines += ["## Perplexity-evaluation throughput and MFU", "",
              f"Random Llama-2-7B-shaped model on {run['device']}, dtype {ctx.get('dtype')}, one forward per window "
              "(`bench_eval_mfu`). MFU: model FLOP/s over the GEMM rate measured on the same device and dtype "
              "(and over the nominal peak when given).", "",
              "| benchmark | parameters | tokens/s | TFLOP/s | GEMM TFLOP/s | MFU vs GEMM | MFU vs peak |",
              "|---|---|---|---|---|---|---|"]
    for res in run["results"]:
        c = res["counters"]
        peak = f"{c['mfu_vs_peak']:.3f}" if "mfu_vs_peak" in c else "-"
        lines.append(f"| {res['name']} | {c['parameters'] / 1e9:.2f} B | {c['tokens_per_s']:.0f} | {c['TFLOP/s']:.3g} | "
                     f"{c['gemm_TFLOP/s']:.3g} | {c['mfu_vs_gemm']:.3f} | {peak} |")
    lines.append("")


def method_table(recs, title, blocks_full):
    if not recs:
        return []
    lay = recs[0]["config"]
    t = [f"## {title}", "",
         "| method | scheme | quantize s | s per block | total s | peak GPU memory | peak host RSS | ppl (fake quant, "
         "8 windows) |"
         + (" minutes for 32 blocks |" if blocks_full else ""),
         "|---|---|---|---|---|---|---|---|" + ("---|" if blocks_full else "")]
    for r in recs:
        n_blocks = len(r["block_errors"]) or 1
        q = r["timings"].get("quantize", 0.0)
        per = q / n_blocks
        epochs = r["quant"]["params"].get("epochs") if isinstance(r["quant"]["params"], dict) else None
        note = ""
        if blocks_full:
            full = per * blocks_full / 60
            if r["method"] == "omniquant" and epochs:
                note = f" {full:.1f} ({epochs} epochs; {full * 20 / epochs:.1f} at 20) |"
            else:
                note = f" {full:.1f} |"
        mem = r.get("memory", {})
        gpu_mem = (f"{mem['peak_device_bytes'] / 2**30:.2f} GiB" if mem.get("device", "cpu") != "cpu"
                   and "peak_device_bytes" in mem else "-")
        ppl = next((e["ppl"] for e in r["evals"] if e.get("pos") == "fake_quant"), float("nan"))
        t.append(f"| {r['method']} | {r['quant']['scheme']} | {q:.1f} | {per:.2f} | {r['timings']['total']:.1f} | "
                 f"{gpu_mem} | {mem.get('peak_rss_bytes', 0) / 2**30:.2f} GiB | "
                 f"{ppl:.4g} |{note}")
    return t + [""]


rm = load("random_model.json")
shape = "the Llama-2-7B shape"
if rm:
    c = rm["config"]
    shape = (f"a random Llama (hidden {c['hidden_size']}, intermediate {c['intermediate_size']}, "
             f"{c['num_hidden_layers']} layers, {c['num_attention_heads']}/{c['num_key_value_heads']} heads, vocab "
             f"{c['vocab_size']}, {rm['parameters'] / 1e6:.1f} M parameters, {c['torch_dtype']})")
lines += method_table(records("llama2_7b_shape.jsonl"),
                      f"Methods on {shape} (random weights: times and memory only; ppl is near the vocabulary size by "
                      "construction)", 32)
de = load("default_eval.json")
if de:
    lines += ["## The default model", "", f"`ptq eval` on its held-out split: {de['tokens_per_second']:.0f} tokens/s "
              f"(seq_len {de['protocol']['seq_len']}, batch {de['protocol']['batch_size']}, ppl {de['ppl']:.3f}).", ""]
lines += method_table(records("default_model.jsonl"), "Methods on the default model", 0)
print("\n".join(lines).rstrip() + "\n")
