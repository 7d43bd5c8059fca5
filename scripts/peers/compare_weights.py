#!/usr/bin/env python3
"""Compare two fake-quantized HF folders tensor by tensor (scripts/bench_peers.sh; the peer venv's python).

Prints one JSON line: for every tensor present in both, the fraction of elements that differ and the relative
Frobenius difference ||a - b|| / ||a||, plus the totals over the quantized (block Linear) weights."""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--per-tensor", action="store_true", help="list every tensor")
    args = ap.parse_args()
    import torch
    from safetensors import safe_open

    def load(d):
        out = {}
        for f in sorted(os.listdir(d)):
            if f.endswith(".safetensors"):
                with safe_open(os.path.join(d, f), "pt") as s:
                    for k in s.keys():
                        out[k] = s.get_tensor(k).to(torch.float64)
        return out

    a, b = load(args.a), load(args.b)
    rows, diff_elems, elems, num, den = [], 0, 0, 0.0, 0.0
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x.shape != y.shape:
            raise SystemExit(f"{k}: shapes differ {tuple(x.shape)} vs {tuple(y.shape)}")
        d = (x - y)
        nd = int((d != 0).sum())
        rel = float(d.norm() / x.norm()) if float(x.norm()) > 0 else float(d.norm())
        rows.append({"tensor": k, "differing": nd / x.numel(), "rel_fro": rel})
        if k.startswith("model.layers.") and k.endswith("proj.weight"):
            diff_elems += nd
            elems += x.numel()
            num += float(d.pow(2).sum())
            den += float(x.pow(2).sum())
    out = {"tensors": len(rows), "only_in_a": sorted(set(a) - set(b)), "only_in_b": sorted(set(b) - set(a)),
           "linear_elements": elems, "linear_differing": diff_elems / max(elems, 1),
           "linear_rel_fro": (num / den) ** 0.5 if den > 0 else 0.0,
           "worst": max(rows, key=lambda r: r["rel_fro"]) if rows else None}
    if args.per_tensor:
        out["per_tensor"] = rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
