#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs each for SECONDS (default 60): a smoke run, not part of the
# default tests. See fuzz/README.md.
#
#   fuzz/run.sh [SECONDS] [HARNESS...]     # HARNESS: FuzzCheckpoint FuzzImage FuzzStore FuzzTimmConfig (default: all)
#
# Environment:
#   FUZZ_RUNS=N          stop each harness after N executions instead of (or as well as) SECONDS
#   FUZZ_KEEP_GOING=1    libFuzzer fork mode: keep fuzzing after a crash/OOM/timeout (for long campaigns)
#   FUZZ_NO_BUILD=1      use the harnesses already built in fuzz/.build/debug
#   PYTHON               interpreter for make_seeds.py (default .cache/bench-venv/bin/python, made by bench/setup)
#
# Corpora grow in fuzz/corpus-<harness>/ (seeded from fuzz/seeds/, made by make_seeds.py), crashes land in
# fuzz/artifacts/<harness>/, logs in fuzz/logs/. All are git-ignored. Exit status: 0 when no harness
# found anything, 1 otherwise.
set -euo pipefail

FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$FUZZ")"
SECONDS_EACH="${1:-60}"
shift || true
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(FuzzCheckpoint FuzzImage FuzzStore FuzzTimmConfig)
PYTHON="${PYTHON:-$REPO/.cache/bench-venv/bin/python}"
[ -x "$PYTHON" ] || "$REPO/bench/setup" --python-only
[ -x "$PYTHON" ] || PYTHON=python3
NICE=(nice -n 10)

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  echo "== building the harnesses (debug, -sanitize=fuzzer,address)"
  # One product at a time: a plain `swift build` would also link the main package's featx executable
  # with the fuzzer runtime, which gold fails to link (and nothing needs).
  for h in "${HARNESSES[@]}"; do
    "${NICE[@]}" swift build -c debug --package-path "$FUZZ" --product "$h" \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 |
      grep -v "Cannot export local symbol" | tail -2
  done
fi
BIN="$FUZZ/.build/debug"

if [ ! -d "$FUZZ/seeds/checkpoint" ] || [ ! -d "$FUZZ/seeds/image" ] || [ ! -d "$FUZZ/seeds/store" ] || [ ! -d "$FUZZ/seeds/timm" ]; then
  echo "== making the seed corpora"
  "${NICE[@]}" "$PYTHON" "$FUZZ/make_seeds.py" "$FUZZ/seeds"
fi

# Per harness: seed folder, -max_len, dictionary, and the committed inputs replayed once before fuzzing.
declare -A SEEDS=([FuzzCheckpoint]=checkpoint [FuzzImage]=image [FuzzStore]=store [FuzzTimmConfig]=timm)
declare -A MAXLEN=([FuzzCheckpoint]=65536 [FuzzImage]=32768 [FuzzStore]=65536 [FuzzTimmConfig]=8192)
# FuzzStore: libhdf5 (not ours, not instrumented) makes huge or hostile-size allocations on damaged
# files; let malloc return NULL to it as glibc would, and report only what is also resident (RSS limit).
declare -A EXTRA=([FuzzCheckpoint]="" [FuzzImage]="" [FuzzStore]="-malloc_limit_mb=65536" [FuzzTimmConfig]="")
# Swift's own crash backtracer is slow and redundant here: libFuzzer/ASan print the stack.
declare -A ENVS=([FuzzCheckpoint]="SWIFT_BACKTRACE=enable=no" [FuzzImage]="SWIFT_BACKTRACE=enable=no" [FuzzTimmConfig]="SWIFT_BACKTRACE=enable=no"
  [FuzzStore]="SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=allocator_may_return_null=1 LSAN_OPTIONS=suppressions=$FUZZ/lsan-hdf5.supp")
declare -A DICT=([FuzzCheckpoint]="$FUZZ/dicts/checkpoint.dict" [FuzzImage]="$FUZZ/dicts/image.dict" [FuzzStore]="$FUZZ/dicts/store.dict"
  [FuzzTimmConfig]="$FUZZ/dicts/timm.dict")
replay_inputs() {
  case "$1" in
    FuzzCheckpoint) ls "$REPO"/Tests/Fixtures/backbones/tiny/*.pth "$REPO"/Tests/Fixtures/backbones/tiny/*.safetensors \
      "$REPO"/Tests/Fixtures/backbones/bad/*.pth ;;
    FuzzImage) ls "$REPO"/Tests/Fixtures/images/src/* ;;
    FuzzStore) ;;
    FuzzTimmConfig) ls "$REPO"/Tests/Fixtures/timm/configs/*.json "$REPO"/Tests/Fixtures/hub/*/config.json ;;
  esac
  ls "$REPO"/Tests/Fixtures/fuzz/"$1"-*.bin 2>/dev/null || true
}

mkdir -p "$FUZZ/logs"
status=0
summary=()
for h in "${HARNESSES[@]}"; do
  [ -n "${SEEDS[$h]:-}" ] || { echo "unknown harness $h" >&2; exit 2; }
  corpus="$FUZZ/corpus-${SEEDS[$h]}"
  artifacts="$FUZZ/artifacts/$h"
  mkdir -p "$corpus" "$artifacts"
  log="$FUZZ/logs/$h.log"

  mapfile -t inputs < <(replay_inputs "$h")
  if [ ${#inputs[@]} -gt 0 ]; then
    echo "== $h: replaying ${#inputs[@]} committed inputs"
    env ${ENVS[$h]} "${NICE[@]}" "$BIN/$h" -rss_limit_mb=2048 -timeout=30 ${EXTRA[$h]} "${inputs[@]}" >"$FUZZ/logs/$h.replay.log" 2>&1 || {
      echo "   FAILED: see $FUZZ/logs/$h.replay.log"; status=1; }
  fi

  args=(-max_len="${MAXLEN[$h]}" -rss_limit_mb=2048 -timeout=10 -max_total_time="$SECONDS_EACH"
    -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  [ -n "${EXTRA[$h]}" ] && args+=(${EXTRA[$h]})
  [ -n "${DICT[$h]}" ] && args+=(-dict="${DICT[$h]}")
  [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  echo "== $h: fuzzing for ${SECONDS_EACH}s (log $log)"
  start=$(date +%s)
  rc=0
  env ${ENVS[$h]} "${NICE[@]}" "$BIN/$h" "${args[@]}" "$corpus" "$FUZZ/seeds/${SEEDS[$h]}" >"$log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  # Plain mode ends with "#N DONE cov: C ft: F corp: K/..."; fork mode logs "#N: cov: C ft: F corp: K ...".
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1 || true)
  [ -n "$execs" ] || execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{print $2}' || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{print $2}' || true)
  files=$(find "$corpus" -type f | wc -l)
  found=$(find "$artifacts" -type f -newermt "@$start" | wc -l)
  line="$h: ${execs:-?} execs in ${took}s, cov ${cov:-?}, ft ${ft:-?}, corpus $files files, new artifacts $found, exit $rc"
  echo "   $line"
  summary+=("$line")
  if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
    status=1
    grep -E 'ERROR: |SUMMARY: |Test unit written' "$log" | head -5 | sed 's/^/   /' || true
  fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
