#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (-DREDOUBT_FUZZ=ON) in build-fuzz/
# and runs each for N seconds (default 60) from a seed corpus of valid inputs.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Env: BUILD_DIR (default <repo>/build-fuzz), SRC_DIR (default <repo>), JOBS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
src=${SRC_DIR:-$repo}
build=${BUILD_DIR:-$repo/build-fuzz}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_cbor fuzz_cose_manifest fuzz_eventlog)

CC=clang-14 CXX=clang++-14 cmake -S "$src" -B "$build" -G Ninja -DREDOUBT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_seeds "${targets[@]}"

seeds=$build/fuzz-seeds
rm -rf "$seeds" && "$build"/tests/fuzz/fuzz_seeds "$seeds" >/dev/null

status=0
for t in "${targets[@]}"; do
  case $t in
    fuzz_cbor) sub=cbor ;;
    fuzz_cose_manifest) sub=cose_manifest ;;
    fuzz_eventlog) sub=eventlog ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  corpus=$build/fuzz-corpus/$t
  mkdir -p "$corpus" "$build/fuzz-artifacts/$t"
  log=$build/fuzz-artifacts/$t/run.log
  echo "== $t for ${secs}s (corpus $corpus, seeds $seeds/$sub)"
  if "$build/tests/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 -max_len=8192 \
       -artifact_prefix="$build/fuzz-artifacts/$t/" "$corpus" "$seeds/$sub" >"$log" 2>&1; then
    echo "   ok: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions," \
         "$(grep -E '^stat::new_units_added' "$log" | awk '{print $2}') new units, no crashes"
  else
    status=1
    echo "   FAILED: see $log; artifacts in $build/fuzz-artifacts/$t/"
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
  fi
done
exit $status
