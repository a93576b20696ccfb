#!/usr/bin/env bash
# Replays fuzz/artifacts/<Harness>/* (or the files given) through a built harness and sorts each by where
# it fails: in featx's Swift code (ours to fix) or inside a C library (libhdf5, libjpeg-turbo, libpng).
#
#   fuzz/triage.sh HARNESS [FILE...]
#
# Prints one line per input: its verdict (SUMMARY line of the sanitizer/libFuzzer) and the first stack
# frame in featx's code or in a C library, then counts per place.
set -uo pipefail
FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
h="${1:?usage: triage.sh HARNESS [FILE...]}"
shift
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$FUZZ"/artifacts/"$h"/*)
BIN="${FUZZ_BIN:-$FUZZ/.build/debug}/$h"
extra=()
envs=(SWIFT_BACKTRACE=enable=no)
if [ "$h" = FuzzStore ]; then
  extra=(-malloc_limit_mb=65536)
  envs+=(ASAN_OPTIONS=allocator_may_return_null=1 LSAN_OPTIONS=suppressions=$FUZZ/lsan-hdf5.supp)
fi
declare -A places=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  out=$(env "${envs[@]}" timeout 120 "$BIN" -rss_limit_mb=2048 -timeout=10 "${extra[@]}" "$f" 2>&1)
  verdict=$(grep -m1 -oE 'SUMMARY: .*|ERROR: libFuzzer: [a-z-]+|Swift runtime failure: [a-z ]+' <<<"$out" | cut -c1-110)
  [ -n "$verdict" ] || verdict="no failure (fixed, or not reproducible)"
  frame=$(grep -E '^ +#[0-9]+ ' <<<"$out" | grep -vE 'compiler-rt|libclang_rt|asan_|sanitizer|libFuzzer|fuzzer::|libc\.so|libswiftCore|FuzzStore\.swift|FuzzImage\.swift|FuzzCheckpoint\.swift|<compiler-generated>' |
    grep -m1 -oE 'in [^ ]+ [^ ]*(Sources/[^ :]+:[0-9]+)|\((/[^ )]*lib(hdf5|jpeg|turbojpeg|png|z)[^ )]*)\+0x[0-9a-f]+\)|in (H5|png_|jpeg_|tj|inflate)[A-Za-z0-9_]+' | head -1)
  place=$(grep -oE 'Sources/[A-Za-z0-9]+/[A-Za-z0-9]+\.swift' <<<"$frame" | head -1)
  [ -n "$place" ] || place=$(grep -oE 'lib(hdf5|turbojpeg|jpeg|png|z)|in (H5|png_|jpeg_|tj)' <<<"$frame" | head -1 | sed 's/^in //')
  case "$place" in H5*) place=libhdf5 ;; png_) place=libpng ;; jpeg_ | tj) place=libjpeg-turbo ;; esac
  [ -n "$place" ] || place="-"
  places[$place]=$(( ${places[$place]:-0} + 1 ))
  printf '%s\t%s\t%s\t%s\n' "$(basename "$f")" "$place" "$verdict" "$frame"
done
echo "== per place"
for p in "${!places[@]}"; do printf '%s\t%s\n' "$p" "${places[$p]}"; done | sort
