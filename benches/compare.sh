#!/usr/bin/env bash
# Times neutrostruct against Python baselines (OpenCV, pycocotools, plain Python) on a dataset
# of the published shape, side by side in one run, and prints wall time, peak memory (max RSS
# from /usr/bin/time -v) and the ratio against each target.
#
#   benches/compare.sh            # full run: 93 × 4096×4224 images, ~24k ellipses; 1M-annotation COCO
#   benches/compare.sh --quick    # smoke run on a small dataset (a minute or two)
#
# Options:
#   --quick          small datasets (8 images; a 10k-annotation COCO for validate)
#   --only LIST      comma-separated subset of: masks,rle,reclassify,validate,scaling
#                    (scaling: issue 15's cases — 1M-annotation polygon COCO, 2,000 piled
#                    ellipses, 1M CVAT-export RLE — against pycocotools, faster-coco-eval and
#                    a bare serde_json parse)
#   --runs N         run each side N times and keep the fastest (default 1)
#   --venv DIR       use (or create) the baseline venv in DIR instead of a throwaway one
#   --work DIR       put generated data in DIR (kept) instead of a temporary folder (removed)
#   --rle-mode M     baseline RLE mode: box (default) or full (see baselines/rle_opencv.py)
#
# Environment: NEUTROSTRUCT=PATH times that binary instead of building this checkout.
#
# Needs: a Rust toolchain, python3 with venv and pip (PyPI reachable unless --venv points at a
# ready venv), GNU time at /usr/bin/time (installed with apt-get when missing and run as root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASELINES="$ROOT/benches/baselines"

QUICK=0
ONLY="masks,rle,reclassify,validate,scaling"
RUNS=1
VENV=""
WORK=""
RLE_MODE=box
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --venv) VENV="$2"; shift ;;
    --work) WORK="$2"; shift ;;
    --rle-mode) RLE_MODE="$2"; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [[ ",$ONLY," == *",$1,"* ]]; }
# The 1-minute load average: wall times are only comparable between runs at the same load,
# so the report prints it from the start and the end of the run.
load1() { awk '{ print $1 }' /proc/loadavg 2>/dev/null || echo '?'; }
LOAD_START=$(load1)

KEEP_WORK=1
if [[ -z "$WORK" ]]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/neutrostruct-bench.XXXXXX")
  KEEP_WORK=0
fi
mkdir -p "$WORK"
cleanup() { if [[ $KEEP_WORK == 0 ]]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

log() { printf '\n== %s\n' "$*" >&2; }

# --- tools ---------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing GNU time (apt-get install -y time)"
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
  else
    echo "compare.sh: /usr/bin/time (GNU time) is missing; install the 'time' package" >&2
    exit 2
  fi
fi

if [[ -n "${NEUTROSTRUCT:-}" ]]; then
  NS=$NEUTROSTRUCT   # a binary built elsewhere (e.g. another branch); no build
else
  log "building neutrostruct (cargo build --release)"
  cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  NS="$TARGET_DIR/release/neutrostruct"
fi
# The bare-parse floor (examples/bare_parse.rs): next to the binary, else built here.
BARE="$(dirname "$NS")/examples/bare_parse"
if [[ ! -x "$BARE" ]]; then
  log "building the bare-parse floor (cargo build --release --example bare_parse)"
  cargo build --release --quiet --example bare_parse --manifest-path "$ROOT/Cargo.toml"
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  BARE="$TARGET_DIR/release/examples/bare_parse"
fi

if [[ -z "$VENV" ]]; then VENV="$WORK/venv"; fi
if ! "$VENV/bin/python" -c 'import cv2, numpy, pycocotools, faster_coco_eval' 2>/dev/null; then
  log "baseline venv in $VENV (pip install opencv-python-headless pycocotools numpy faster-coco-eval)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    opencv-python-headless pycocotools numpy faster-coco-eval
fi
PY="$VENV/bin/python"
export PYTHONPATH="$BASELINES${PYTHONPATH:+:$PYTHONPATH}"
BASELINE_VERSIONS=$("$PY" -c 'import sys, cv2, numpy, pycocotools
from importlib.metadata import version
v = version("pycocotools")
f = version("faster-coco-eval")
print(f"Python {sys.version.split()[0]}, opencv-python-headless {cv2.__version__}, numpy {numpy.__version__}, pycocotools {v}, faster-coco-eval {f}")')

# --- measuring -----------------------------------------------------------------------------
rss_kb_of() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

# measure KEY OK_CODES CMD...: runs CMD under /usr/bin/time -v RUNS times (the fastest run is
# kept), and sets T[KEY] (s), M[KEY] (MB). OK_CODES: exit codes counted as a run, e.g. "0 1".
# Before each run, the function named by PREP (if set) is called (clearing outputs).
declare -A T M
PREP=""
measure() {
  local key=$1 ok=$2; shift 2
  local best="" best_rss=0 r code tf="$WORK/time.$key"
  for ((r = 0; r < RUNS; r++)); do
    if [[ -n "$PREP" ]]; then "$PREP"; fi
    code=0
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -v -o "$tf" "$@" >"$WORK/$key.out" 2>"$WORK/$key.err" || code=$?
    end=$(date +%s.%N)
    if [[ " $ok " != *" $code "* ]]; then
      echo "compare.sh: $key failed (exit $code): $*" >&2
      tail -n 20 "$WORK/$key.err" >&2
      exit 1
    fi
    local w rss
    # Wall time from date (ns) rather than GNU time's 10 ms resolution.
    w=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'); rss=$(rss_kb_of "$tf")
    if [[ -z "$best" ]] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$w; fi
    if ((rss > best_rss)); then best_rss=$rss; fi
  done
  T[$key]=$best
  M[$key]=$(awk -v k="$best_rss" 'BEGIN { printf "%.0f", k / 1024 }')
}

# measure_split KEY N CMD...: N processes of CMD --shard K --shards N at once; wall time of
# the whole, peak memory = the sum of each process's peak (they run concurrently).
measure_split() {
  local key=$1 n=$2; shift 2
  local best="" best_rss=0 r k
  for ((r = 0; r < RUNS; r++)); do
    if [[ -n "$PREP" ]]; then "$PREP"; fi
    local start end pids=() rss=0
    start=$(date +%s.%N)
    for ((k = 0; k < n; k++)); do
      /usr/bin/time -v -o "$WORK/time.$key.$k" "$@" --shard "$k" --shards "$n" \
        >"$WORK/$key.$k.out" 2>"$WORK/$key.$k.err" &
      pids+=($!)
    done
    for k in "${!pids[@]}"; do
      if ! wait "${pids[$k]}"; then
        echo "compare.sh: $key shard $k failed: $*" >&2
        tail -n 20 "$WORK/$key.$k.err" >&2
        exit 1
      fi
    done
    end=$(date +%s.%N)
    local w
    w=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    for ((k = 0; k < n; k++)); do rss=$((rss + $(rss_kb_of "$WORK/time.$key.$k"))); done
    if [[ -z "$best" ]] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$w; fi
    if ((rss > best_rss)); then best_rss=$rss; fi
  done
  T[$key]=$best
  M[$key]=$(awk -v k="$best_rss" 'BEGIN { printf "%.0f", k / 1024 }')
}

ROWS=()
# row TASK OURS_KEY BASE_KEY SPEED_TARGET [MEM]: appends a table row; MEM=half also requires
# ours' peak memory < half the baseline's.
row() {
  local task=$1 o=$2 b=$3 target=$4 mem=${5:-}
  local ratio met
  ratio=$(awk -v o="${T[$o]}" -v b="${T[$b]}" 'BEGIN { printf "%.1f", (o > 0 ? b / o : 0) }')
  met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r >= t ? "yes" : "no") }')
  local tgt="≥ ${target}× faster"
  if [[ "$mem" == half ]]; then
    tgt="$tgt, < ½ memory"
    if ((M[$o] * 2 >= M[$b])); then met=no; fi
  fi
  ROWS+=("$(printf '%s\t%s s, %s MB\t%s s, %s MB\t%s×\t%s\t%s' "$task" "${T[$o]}" "${M[$o]}" \
    "${T[$b]}" "${M[$b]}" "$ratio" "$tgt" "$met")")
}
SKIPPED=()
skip() { SKIPPED+=("$1: skipped: $2"); echo "$1: skipped: $2" >&2; }
has_cmd() { "$NS" "$1" --help >/dev/null 2>&1; }
count_json_annotations() {
  "$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["annotations"]))' "$1"
}

# --- data ----------------------------------------------------------------------------------
DATA="$WORK/data"
if [[ $QUICK == 1 ]]; then
  SYNTH_ARGS=(--images 8)
  BIG_ARGS=(--images 40 --per-image 250 --width 1024 --height 1056)
else
  SYNTH_ARGS=()
  BIG_ARGS=(--images 3800 --per-image 263 --width 1024 --height 1056)
fi
log "synth ${SYNTH_ARGS[*]:-(defaults: the published shape)} --no-images"
"$NS" synth --out "$DATA" "${SYNTH_ARGS[@]}" --no-images >/dev/null 2>"$WORK/synth.err"
tail -n 1 "$WORK/synth.err" >&2
XML="$DATA/annotations_4classes.xml"
JSON="$DATA/annotations_4classes.json"
SCALE="$DATA/scale.csv"
N_IMAGES=$(grep -c '<image ' "$XML")
N_ANNS=$(grep -c '<ellipse ' "$XML")

# --- (a) masks -----------------------------------------------------------------------------
if wants masks; then
  log "masks: neutrostruct masks --kind color vs cv2.ellipse + cv2.imwrite in 2 processes"
  clear_masks() { rm -rf "$WORK/masks_ours" "$WORK/masks_base"; }
  PREP=clear_masks_ours
  clear_masks_ours() { rm -rf "$WORK/masks_ours"; }
  clear_masks_base() { rm -rf "$WORK/masks_base"; }
  measure masks_ours "0" "$NS" masks "$XML" --out "$WORK/masks_ours" --kind color
  PREP=clear_masks_base
  measure_split masks_base 2 "$PY" "$BASELINES/masks_opencv.py" "$XML" "$WORK/masks_base"
  PREP=""
  n_ours=$(find "$WORK/masks_ours" -name '*.png' | wc -l)
  n_base=$(find "$WORK/masks_base" -name '*.png' | wc -l)
  echo "masks: ours wrote $n_ours PNGs, baseline $n_base (images: $N_IMAGES)" >&2
  row "masks (color PNG, $N_IMAGES images)" masks_ours masks_base 2
  clear_masks
fi

# --- (b) CVAT → COCO RLE -------------------------------------------------------------------
if wants rle; then
  log "RLE: neutrostruct convert --from cvat --to coco --segmentation rle vs OpenCV + pycocotools ($RLE_MODE)"
  clear_rle() { rm -f "$WORK/rle_ours.json" "$WORK/rle_base.json"; }
  measure rle_ours "0 1" "$NS" convert --from cvat --to coco "$XML" -o "$WORK/rle_ours.json" \
    --segmentation rle
  measure rle_base "0" "$PY" "$BASELINES/rle_opencv.py" "$XML" "$WORK/rle_base.json" \
    --mode "$RLE_MODE"
  PREP=""
  echo "RLE: ours $(count_json_annotations "$WORK/rle_ours.json") annotations," \
    "baseline $(count_json_annotations "$WORK/rle_base.json") (ellipses: $N_ANNS)" >&2
  row "CVAT → COCO RLE ($N_ANNS ellipses)" rle_ours rle_base 20
  clear_rle
fi

# --- (c) reclassify ------------------------------------------------------------------------
if wants reclassify; then
  if has_cmd reclassify; then
    log "reclassify: neutrostruct reclassify vs plain Python (DESIGN §2)"
    measure recl_ours "0 1" "$NS" reclassify --coco "$JSON" --scale "$SCALE" \
      --out-coco "$WORK/recl_ours.json"
    measure recl_base "0" "$PY" "$BASELINES/reclassify_plain.py" "$JSON" "$SCALE" \
      "$WORK/recl_base.json"
    "$PY" - "$WORK/recl_ours.json" "$WORK/recl_base.json" >&2 <<'EOF' || true
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
name = lambda d: {c["id"]: c["name"] for c in d["categories"]}
na, nb = name(a), name(b)
la = {x["id"]: na[x["category_id"]] for x in a["annotations"]}
lb = {x["id"]: nb[x["category_id"]] for x in b["annotations"]}
same = sum(1 for k in lb if la.get(k) == lb[k])
print(f"reclassify: ours and the baseline agree on {same} of {len(lb)} labels")
EOF
    row "reclassify 4→7 ($N_ANNS annotations)" recl_ours recl_base 5
    rm -f "$WORK/recl_ours.json" "$WORK/recl_base.json"
  else
    skip reclassify "command not available"
  fi
fi

# --- (d) validate a 1M-annotation COCO file ------------------------------------------------
if wants validate; then
  if has_cmd validate; then
    BIG="$WORK/big"
    log "synth ${BIG_ARGS[*]} --no-images (COCO as CVAT exports it) for validate"
    "$NS" synth --out "$BIG" "${BIG_ARGS[@]}" --no-images >/dev/null 2>"$WORK/synth_big.err"
    tail -n 1 "$WORK/synth_big.err" >&2
    BIG_JSON="$BIG/annotations_4classes.json"
    rm -f "$BIG/annotations_4classes.xml"
    BIG_MB=$(du -m "$BIG_JSON" | cut -f1)
    BIG_N=$(grep -o '"iscrowd"' "$BIG_JSON" | wc -l)
    log "validate: neutrostruct validate --coco ($BIG_N annotations, $BIG_MB MB) vs pycocotools COCO()"
    measure val_ours "0 1" "$NS" validate --coco "$BIG_JSON" --format json
    measure val_base "0" "$PY" "$BASELINES/coco_load.py" "$BIG_JSON"
    row "validate COCO ($BIG_N annotations, $BIG_MB MB)" val_ours val_base 5 half
    echo "validate: our peak memory per annotation: $(awk -v m="${M[val_ours]}" -v n="$BIG_N" \
      'BEGIN { printf "%.0f bytes", m * 1048576 / n }') (file: $BIG_MB MB)" >&2
    rm -rf "$BIG"
  else
    skip validate "command not available"
  fi
fi

# --- (e) scaling: polygon COCO, a crowded image, CVAT-export RLE (issue 15) ----------------
# row_text TASK OURS BASE RATIO TARGET MET: a table row from ready-made cells.
row_text() { ROWS+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$@")"); }
cell() { printf '%s s, %s MB' "${T[$1]}" "${M[$1]}"; }
# vs_loaders KEY LABEL FILE FILE_MB: validate FILE against pycocotools, faster-coco-eval and
# the bare parse; rows for speed (≥ 5× pycocotools), the floor (≤ 4× the bare parse) and
# memory (peak ≤ the file's size).
vs_loaders() {
  local k=$1 label=$2 file=$3 mb=$4
  measure "${k}_ours" "0 1" "$NS" validate --coco "$file" --labelset 4 --format json
  measure "${k}_pycoco" "0" "$PY" "$BASELINES/coco_load.py" "$file"
  measure "${k}_fce" "0" "$PY" "$BASELINES/coco_load_faster.py" "$file"
  measure "${k}_bare" "0" "$BARE" "$file"
  row "$label: validate vs pycocotools COCO()" "${k}_ours" "${k}_pycoco" 5
  row "$label: validate vs faster-coco-eval COCO()" "${k}_ours" "${k}_fce" 1
  local floor
  floor=$(awk -v o="${T[${k}_ours]}" -v b="${T[${k}_bare]}" 'BEGIN { printf "%.1f", (b > 0 ? o / b : 0) }')
  row_text "$label: validate vs bare serde_json parse (floor)" "$(cell "${k}_ours")" \
    "$(cell "${k}_bare")" "${floor}× the floor" "≤ 4× the floor" \
    "$(awk -v r="$floor" 'BEGIN { print (r <= 4 ? "yes" : "no") }')"
  local mem_met=no
  if (( M[${k}_ours] <= mb )); then mem_met=yes; fi
  row_text "$label: validate peak memory vs file size" "${M[${k}_ours]} MB" "file ${mb} MB" \
    "$(awk -v m="${M[${k}_ours]}" -v f="$mb" 'BEGIN { printf "%.2f", m / f }')× the file" \
    "≤ 1× the file" "$mem_met"
}
if wants scaling; then
  SC="$WORK/scaling"
  mkdir -p "$SC"
  if [[ $QUICK == 1 ]]; then N_POLY=20000; PILE=300; RLE_IMAGES=77; else N_POLY=1000000; PILE=2000; RLE_IMAGES=3846; fi

  log "scaling: polygon COCO, $N_POLY annotations (16-point polygons, 260 per 4096×4224 image)"
  "$PY" "$BASELINES/make_inputs.py" polygon "$SC/poly.json" "$N_POLY" 260
  vs_loaders poly "polygon COCO ($N_POLY annotations, $(du -m "$SC/poly.json" | cut -f1) MB)" \
    "$SC/poly.json" "$(du -m "$SC/poly.json" | cut -f1)"
  rm -f "$SC/poly.json"

  log "scaling: $PILE ellipses piled on one spot (CVAT XML)"
  "$PY" "$BASELINES/make_inputs.py" pile "$SC/pile.xml" "$PILE"
  measure pile_ours "0 1" "$NS" validate --cvat "$SC/pile.xml" --format json
  per_shape=$("$PY" -c 'import json, sys
f = json.load(open(sys.argv[1]))["findings"]
print(f"{len(f) / int(sys.argv[2]):.2f}")' "$WORK/pile_ours.out" "$PILE")
  row_text "crowded image ($PILE piled ellipses): validate" "$(cell pile_ours)" "—" \
    "$per_shape findings per shape" "< 5 s, a few findings per shape" \
    "$(awk -v t="${T[pile_ours]}" -v f="$per_shape" 'BEGIN { print (t < 5 && f <= 4 ? "yes" : "no") }')"
  rm -f "$SC/pile.xml"

  log "scaling: CVAT-export RLE COCO, $RLE_IMAGES images × 260 at 4096×4224"
  "$NS" synth --out "$SC/rle" --images "$RLE_IMAGES" --per-image 260 --width 4096 --height 4224 \
    --no-images >/dev/null 2>"$WORK/synth_rle.err"
  rm -f "$SC/rle/annotations_4classes.xml"
  RLE_JSON="$SC/rle/annotations_4classes.json"
  vs_loaders rle "CVAT-export RLE COCO ($(grep -o '"iscrowd"' "$RLE_JSON" | wc -l) annotations, $(du -m "$RLE_JSON" | cut -f1) MB)" \
    "$RLE_JSON" "$(du -m "$RLE_JSON" | cut -f1)"
  rm -rf "$SC"
fi

# --- report --------------------------------------------------------------------------------
CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(free -h | awk '/^Mem:/ { print $2 }')
echo
echo "neutrostruct $("$NS" --version 2>/dev/null | awk '{ print $2 }') ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')) vs Python baselines$([[ $QUICK == 1 ]] && echo ' — QUICK run (small data)')"
echo "machine: $CPU, $(nproc) cores, $MEM RAM, $(uname -sr); load average $LOAD_START at the start, $(load1) at the end"
echo "baselines: $BASELINE_VERSIONS"
echo "data: synth ${SYNTH_ARGS[*]:-(defaults)} --no-images: $N_IMAGES images, $N_ANNS ellipses; runs per side: $RUNS (fastest kept)"
echo
{
  printf 'task\tours\tbaseline\tratio\ttarget\tmet\n'
  printf '%s\n' "${ROWS[@]}"
} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; l = length($i); if (l > w[i]) w[i] = l }
    if (NF > nf) nf = NF }
  END { for (r = 1; r <= NR; r++) { for (i = 1; i <= nf; i++) printf ("%-" w[i] "s%s"), c[r, i], (i < nf ? "  " : "\n") } }'
for s in "${SKIPPED[@]}"; do echo "$s"; done
