#!/usr/bin/env bash
# Peer benchmark: ptq against vLLM's llm-compressor on the same random Llama and the same calibration token ids
# (issue 24 item 1). Quantization stage only, GPTQ / AWQ / RTN w4g128 (asymmetric), at each thread count; checks that
# the two tools give the same perplexity where the algorithms coincide (RTN; GPTQ with ptq's true_sequential False and
# static_groups True), prints ptq/llm-compressor time ratios, writes results/perf/peers.md and the raw
# Google-Benchmark-shaped JSON (results/perf/raw/peers_<size>_t<N>.json), and imports the JSON with
# `ptq bench-import` into --db (default results/perf/peers.db). The report of the reference size is
# results/perf/peers.md; --quick and --size small write results/perf/peers_<size>.md. What each number includes:
# scripts/peers/bench.py.
#
#   scripts/bench_peers.sh --quick          tiny model (hidden 256, 2 layers, 8x128 tokens), 1 and 2 threads, seconds
#   scripts/bench_peers.sh                  the reference setting (--size ref: hidden 1024 / intermediate 2816 /
#                                           4 layers, 64x512 tokens), GPTQ and AWQ (and RTN for the check), 1 and 2
#                                           threads: about an hour on 2 idle cores
#   scripts/bench_peers.sh --size small --methods gptq --threads 1
#   scripts/bench_peers.sh --model results/models/default --methods "rtn gptq"
#                                           a trained model (ptq train) instead of the random one: the GPTQ check
#                                           without a random model's near-ties; writes results/perf/peers_default_ref.md
#
# Options (all passed to scripts/peers/bench.py; `--help` lists them): --quick, --size tiny|small|ref,
# --methods "rtn gptq awq", --threads "1 2", --db FILE, --md FILE, --raw-dir DIR, --work DIR, --keep, --tol-gptq X,
# --tol-rtn X, --tol-rtn-weights X, --eval-windows N, --model DIR, --ptq-set [METHOD:]KEY=VALUE (an extra `ptq run --set`, e.g.
# gptq:quant.special.static_groups=False to see the check fail).
#
# Environment:
#   PTQ_BIN         the ptq binary (default build/ptq)
#   PTQ_TORCH_SITE  site-packages holding the project's torch (default .venv/lib/python3.11/site-packages of this
#                   checkout); the peer venv reuses it through a .pth file, so no second torch is downloaded
#   PEERS_VENV      the peer venv (default .venv-peers, git-ignored); created on first use from
#                   scripts/peers/requirements.lock (PyPI), reused while the lock file and the torch path are unchanged
#   PTQ_DATA_DIR    datasets and the Llama 2 tokenizer (default: ../shared/data beside the checkout)
# Exit: 0 all checks passed; 3 a perplexity check failed (peers.md and the store are still written); else an error.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

export PTQ_BIN="${PTQ_BIN:-build/ptq}"
torch_site="${PTQ_TORCH_SITE:-$repo/.venv/lib/python3.11/site-packages}"
venv="${PEERS_VENV:-$repo/.venv-peers}"
lock="$repo/scripts/peers/requirements.lock"

for a in "$@"; do
  if [[ "$a" == "-h" || "$a" == "--help" ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exec python3 "$repo/scripts/peers/bench.py" --help
  fi
done

die() { echo "bench_peers: $*" >&2; exit 2; }
[[ -x "$PTQ_BIN" ]] || die "PTQ_BIN '$PTQ_BIN' is not an executable (build ptq or set PTQ_BIN)"
[[ -d "$torch_site/torch" ]] ||
  die "no torch under '$torch_site' (run scripts/setup.sh, or set PTQ_TORCH_SITE to the project venv's site-packages)"

# The peer venv: python3.11 (the torch wheel's ABI), the project's torch through a .pth, the lock file with --no-deps.
stamp_want="$(sha256sum "$lock" | cut -c1-64) $torch_site"
if [[ ! -f "$venv/.bench_peers_stamp" || "$(cat "$venv/.bench_peers_stamp")" != "$stamp_want" ]]; then
  echo "bench_peers: preparing the peer venv $venv (llm-compressor from PyPI, torch from $torch_site)" >&2
  py="$(command -v python3.11 || true)"
  [[ -n "$py" ]] || die "python3.11 not found (the project's torch wheel is for CPython 3.11)"
  [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$torch_site" > "$site/ptq-torch.pth"
  "$venv/bin/python" -m pip install --quiet --no-deps -r "$lock"
  "$venv/bin/python" - "$torch_site" <<'EOF'
import os, sys
import torch, llmcompressor
want = os.path.realpath(sys.argv[1])
got = os.path.realpath(torch.__file__)
if not got.startswith(want + os.sep):
    sys.exit(f"bench_peers: the peer venv imports torch from {got}, not from {want}")
print(f"bench_peers: peer venv ready: llmcompressor {llmcompressor.__version__}, torch {torch.__version__} from {want}",
      file=sys.stderr)
EOF
  echo "$stamp_want" > "$venv/.bench_peers_stamp"
fi

exec "$venv/bin/python" "$repo/scripts/peers/bench.py" --venv-python "$venv/bin/python" "$@"
