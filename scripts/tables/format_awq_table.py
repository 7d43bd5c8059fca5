# Formats results/stories260K_awq.jsonl (one `ptq run --json` object per line) as the Markdown table of
# scripts/tables/awq_stories260k.sh. Usage: python3 scripts/tables/format_awq_table.py FILE.jsonl
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fp = rows[0]["evals"][0]["ppl"]
print(f"stories260K, TinyStories stories 0..499, seq_len 256 ({rows[0]['evals'][0]['tokens']} scored tokens); "
      f"fp ppl {fp:.4f}. AWQ: mean ± sd over calibration seeds 0, 1, 2.\n")
def name(r):
    if r["method"] == "rtn":
        return "RTN"
    if r["method"] == "smoothquant":
        return "SmoothQuant"
    p = r["quant"]["params"]
    return f"AWQ-{'academic' if p['clip_sym'] is True else 'LLMC'} {p['trans_version']}"
by = {}
for r in rows:
    by.setdefault((name(r), r["quant"]["scheme"]), []).append(r["evals"][1]["ppl"])
schemes = ["w2g32", "w3g32", "w4g32", "w8a8"]
print("| method | " + " | ".join(schemes) + " |")
print("|---|" + "---|" * len(schemes))
for m in ["RTN", "AWQ-academic v1", "AWQ-academic v2", "AWQ-LLMC v1", "AWQ-LLMC v2", "SmoothQuant"]:
    cells = []
    for s in schemes:
        v = by.get((m, s), [])
        cells.append("" if not v else f"{v[0]:.4f}" if len(v) == 1 else
                     f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}")
    print(f"| {m} | " + " | ".join(cells) + " |")
