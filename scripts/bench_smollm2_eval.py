#!/usr/bin/env python3
"""ptq eval on SmolLM2-135M at seq_len 2048: tokens/s, the fraction of this machine's fp32 GEMM rate it reaches, and
peak RSS, at 1 and 2 threads. Writes results/perf/smollm2_eval.md and raw/smollm2_eval.json.

FLOPs counted per token (multiply-add = 2): every linear of the 30 blocks (3.54 M weights each), the 49,152 x 576
head, and attention's two products over the causal half of the window (2 * 2 * 576 * (L+1)/2 per block); norms,
RoPE, softmax and the float64 scoring are not counted. The GEMM rate is `ptq version --json` (a 1024^3 fp32 product)
at the same thread count. Run it on an otherwise idle machine.

  python3 scripts/bench_smollm2_eval.py [--windows 4] [--model models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr}")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--out", default="results/perf")
    args = ap.parse_args()
    ptq = os.path.join(ROOT, "build", "ptq")
    L = args.seq_len
    hidden, inter, layers, kv_dim, vocab = 576, 1536, 30, 192, 49152
    per_block = hidden * hidden * 2 + hidden * kv_dim * 2 + 3 * hidden * inter
    linear_flops = 2 * (layers * per_block + vocab * hidden)
    attn_flops = layers * 2 * 2 * hidden * (L + 1) / 2
    flops_per_token = linear_flops + attn_flops
    rows = []
    for threads in (1, 2):
        v = json.loads(run([ptq, "version", "--json", "--threads", str(threads)]).stdout.strip().splitlines()[-1])
        p = run(["/usr/bin/time", "-f", "RSS %M", ptq, "eval", "--model", args.model, "--dataset", "wikitext2",
                 "--seq-len", str(L), "--max-windows", str(args.windows), "--threads", str(threads), "--json"])
        e = json.loads(p.stdout.strip().splitlines()[-1])
        rss_kb = int(re.search(r"RSS (\d+)", p.stderr).group(1))
        tps = e["tokens_per_second"]
        rate = tps * flops_per_token / 1e9
        rows.append({"threads": threads, "tokens_per_second": tps, "gflops": rate,
                     "gemm_gflops": v["gemm_fp32_gflops"], "fraction": rate / v["gemm_fp32_gflops"],
                     "peak_rss_mib": rss_kb / 1024, "ppl": e["ppl"], "seconds": e["seconds"],
                     "windows": e["windows"]})
        print(json.dumps(rows[-1]))
    os.makedirs(os.path.join(args.out, "raw"), exist_ok=True)
    with open(os.path.join(args.out, "raw", "smollm2_eval.json"), "w") as f:
        json.dump({"model": args.model, "seq_len": L, "flops_per_token": flops_per_token,
                   "loadavg_end": open("/proc/loadavg").read().split()[:3], "runs": rows}, f, indent=1)
    lines = ["# ptq eval on SmolLM2-135M (seq_len 2048)", "",
             f"`scripts/bench_smollm2_eval.py`: WikiText-2, first {args.windows} windows of {L} tokens, "
             f"{flops_per_token / 1e6:.1f} MFLOP per token counted (linears {linear_flops / 1e6:.1f}, of which the "
             f"49k-vocab head {2 * vocab * hidden / 1e6:.1f}; causal attention {attn_flops / 1e6:.1f}). GEMM rate: "
             "`ptq version --json` at the same thread count.", "",
             "| threads | tokens/s | GFLOP/s | GEMM GFLOP/s | fraction of GEMM | peak RSS |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['threads']} | {r['tokens_per_second']:.0f} | {r['gflops']:.1f} | {r['gemm_gflops']:.1f} | "
                     f"{r['fraction']:.2f} | {r['peak_rss_mib']:.0f} MiB |")
    with open(os.path.join(args.out, "smollm2_eval.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
