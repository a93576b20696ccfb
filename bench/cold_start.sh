#!/usr/bin/env bash
# Cold start of the Python baseline: wall time of `python bench/cold_start_predict.py IMAGE` (import torch +
# torchvision, build resnet50, load a .pth, preprocess one image, forward, print top-5), N runs; then, beside
# it, `featx predict HEAD IMAGE` on the same weights file, and the ratio.
#
#   bench/cold_start.sh [--runs N] [--wait-idle S] [--weights F.pth] [--python PY] [--threads T] [--no-hyperfine]
#                       [--featx BIN] [--no-featx] [IMAGE]
#
# BIN defaults to .build/release/featx. Its head is made once (untimed) in bench/.cache/cold-start/: resnet50
# features of flower_photos_small from the same weights file, then `featx probe`.
# IMAGE defaults to the first albatross of $FEATX_DATASETS/cub_birds50 (FEATX_DATASETS: ../shared/datasets
# beside the repository). PY defaults to $FEATX_BENCH_PYTHON, else .cache/bench-venv/bin/python, which
# `bench/setup --python-only` (run first, cheap when done) makes.
# Uses hyperfine (apt-get install hyperfine) with one untimed warm-up run, else a bash loop timed with
# `date +%s.%N` (also after one warm-up run), and reports mean and min wall time. Before timing it prints
# /proc/loadavg and a 1 s /proc/stat idle sample; --wait-idle S first waits up to S seconds for >= 90% idle.
# After timing it prints how many cores *other* processes used meanwhile, and one `/usr/bin/time -v` run's
# peak RSS. The weights file is made (untimed) with tools/make_weights.py if it does not exist.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
RUNS=5
WAIT=0
PY=${FEATX_BENCH_PYTHON:-}
WEIGHTS="$HERE/.cache/resnet50-random0.pth"
THREADS=()
USE_HYPERFINE=1
FEATX="$ROOT/.build/release/featx"
DATASETS=${FEATX_DATASETS:-$ROOT/../shared/datasets}
IMAGE=$DATASETS/cub_birds50/001.Black_footed_Albatross/0000.jpg
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --wait-idle) WAIT="$2"; shift 2 ;;
    --weights) WEIGHTS="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --threads) THREADS=(--threads "$2"); shift 2 ;;
    --no-hyperfine) USE_HYPERFINE=0; shift ;;
    --featx) FEATX="$2"; shift 2 ;;
    --no-featx) FEATX=""; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) IMAGE="$1"; shift ;;
  esac
done
# the venv (made if missing), or, with --python / FEATX_BENCH_PYTHON, that Python instead
[ -n "$PY" ] && export FEATX_BENCH_PYTHON="$PY"
"$HERE/setup" --python-only
PY=${PY:-$ROOT/.cache/bench-venv/bin/python}
[ -f "$IMAGE" ] || { echo "no image $IMAGE" >&2; exit 2; }

if [ ! -f "$WEIGHTS" ]; then
  echo "making $WEIGHTS (untimed)"
  mkdir -p "$(dirname "$WEIGHTS")"
  (cd "$ROOT" && "$PY" tools/make_weights.py --arch resnet50 --seed 0 --format zip -o "$WEIGHTS")
fi

# ---- machine load -----------------------------------------------------------------------------------
stat_line() { local _cpu rest; read -r _cpu rest < /proc/stat; echo "$rest"; }
# prints "idle_ticks total_ticks" (idle+iowait; user..steal)
ticks() { stat_line | awk '{print $4+$5, $1+$2+$3+$4+$5+$6+$7+$8}'; }
idle_pct() {  # 1 s sample
  local a b
  a=$(ticks); sleep 1; b=$(ticks)
  echo "$a $b" | awk '{d=$4-$2; if (d<1) d=1; printf "%.1f", 100*($3-$1)/d}'
}
load_line() {
  local idle; idle=$(idle_pct)
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)  idle ${idle}% (1 s sample)$1"
  LAST_IDLE=$idle
}
if [ "$WAIT" != 0 ]; then
  start=$(date +%s)
  while :; do
    load_line "" > /dev/null
    waited=$(( $(date +%s) - start - 1 ))   # not counting the final 1 s sample
    if awk -v i="$LAST_IDLE" 'BEGIN{exit !(i>=90)}' || [ "$waited" -ge "$WAIT" ]; then break; fi
  done
  if awk -v i="$LAST_IDLE" 'BEGIN{exit !(i<90)}'; then echo "waited ${waited} s for idle and gave up (idle ${LAST_IDLE}%)";
  elif [ "$waited" -gt 0 ]; then echo "waited ${waited} s for idle"; fi
fi
echo "cold_start.sh  $(date -Iseconds)  host $(hostname)"
echo "machine before: $(load_line '')"
echo "image $IMAGE; weights $WEIGHTS; $RUNS runs; python $PY"

# ---- timing ------------------------------------------------------------------------------------------
# time_runs NAME CMD...: N timed runs after one untimed warm-up; prints the summary and sets MEAN.
time_runs() {
  local name=$1; shift
  local CMD=("$@") CMDSTR J TOOL MIN MAX RSS OTHERS TIMES TIMES_FILE t_before c_before w_before t_after c_after w_after
  printf -v CMDSTR '%q ' "${CMD[@]}"
  # CPU seconds of every finished child of this shell: `times` must run in this shell, not in a $( ) subshell
  TIMES_FILE=$(mktemp)
  children_cpu() { tail -1 "$TIMES_FILE" | awk '{ s=0; for (i=1;i<=2;i++) { split($i,p,"m"); sub("s","",p[2]); s+=p[1]*60+p[2] } print s }'; }
  t_before=$(ticks); times > "$TIMES_FILE"; c_before=$(children_cpu); w_before=$(date +%s.%N)
  if [ "$USE_HYPERFINE" = 1 ] && command -v hyperfine > /dev/null; then
    J=$(mktemp)
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$J" --style basic "$CMDSTR"
    read -r MEAN MIN MAX < <("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["mean"], r["min"], r["max"])' "$J")
    rm -f "$J"
    TOOL=hyperfine
  else
    "${CMD[@]}" > /dev/null    # warm-up (page cache)
    TIMES=()
    for _ in $(seq "$RUNS"); do
      s=$(date +%s.%N); "${CMD[@]}" > /dev/null; e=$(date +%s.%N)
      TIMES+=("$(echo "$s $e" | awk '{printf "%.3f", $2-$1}')")
    done
    echo "runs: ${TIMES[*]} s"
    read -r MEAN MIN MAX < <(printf '%s\n' "${TIMES[@]}" | awk 'NR==1{mn=$1;mx=$1} {s+=$1; if($1<mn)mn=$1; if($1>mx)mx=$1} END{print s/NR, mn, mx}')
    TOOL="bash loop"
  fi
  t_after=$(ticks); times > "$TIMES_FILE"; c_after=$(children_cpu); w_after=$(date +%s.%N)
  rm -f "$TIMES_FILE"
  OTHERS=$(echo "$t_before $t_after $c_before $c_after $w_before $w_after $(getconf CLK_TCK)" | awk '{
    busy=(($4-$2)-($3-$1))/$9; own=$6-$5; wall=$8-$7; o=(busy-own)/wall; if (o<0) o=0; printf "%.2f", o }')
  RSS=""
  if [ -x /usr/bin/time ]; then
    RSS=$( { /usr/bin/time -v "${CMD[@]}" > /dev/null; } 2>&1 | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); printf "%.0f", $2/1024}')
  fi
  echo "top-5 of the image:"; "${CMD[@]}" | sed 's/^/  /'
  printf '\n%s cold start (%s, %s runs): mean %.3f s, min %.3f s, max %.3f s; peak RSS %s MiB\n' \
    "$name" "$TOOL" "$RUNS" "$MEAN" "$MIN" "$MAX" "${RSS:-?}"
  echo "during: other processes used $OTHERS cores on average"
}

time_runs python "$PY" "$HERE/cold_start_predict.py" "$IMAGE" --weights "$WEIGHTS" --quiet "${THREADS[@]}"
PYTHON_MEAN=$MEAN

if [ -n "$FEATX" ]; then
  [ -x "$FEATX" ] || { echo "no featx binary at $FEATX (swift build -c release, or --no-featx)" >&2; exit 2; }
  CACHE="$HERE/.cache/cold-start"
  WEIGHTS_SHA=$(sha256sum "$WEIGHTS" | cut -c1-12)
  HEAD="$CACHE/head-$WEIGHTS_SHA.h5"
  if [ ! -f "$HEAD" ]; then
    echo "making $HEAD (untimed): resnet50 features of flower_photos_small, then a probe"
    mkdir -p "$CACHE"
    "$FEATX" extract "$DATASETS/flower_photos_small" --arch resnet50 \
      --weights "$WEIGHTS" -o "$CACHE/store-$WEIGHTS_SHA.h5" > /dev/null
    "$FEATX" probe "$CACHE/store-$WEIGHTS_SHA.h5" -o "$HEAD" > /dev/null
  fi
  echo
  time_runs featx "$FEATX" predict "$HEAD" "$IMAGE" "${THREADS[@]}"
  echo "$PYTHON_MEAN $MEAN" | awk '{printf "\nfeatx predict is %.1fx faster than Python (mean against mean)\n", $1/$2}'
fi
echo "machine after: $(load_line '')"
