#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (-DREDOUBT_FUZZ=ON) in build-fuzz/
# and runs each for N seconds (default 60) from a seed corpus of valid inputs.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Env: BUILD_DIR (default <repo>/build-fuzz), SRC_DIR (default <repo>), JOBS,
# FUZZ_FLAGS (extra libFuzzer flags, e.g. -runs=10000000), FUZZ_NICE (niceness of the fuzzer,
# default 10). Results: docs/fuzzing.md.
set -euo pipefail
export TSS2_LOG=${TSS2_LOG:-all+NONE}  # tss2-mu logs every rejected input otherwise (slow, huge logs)
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
src=${SRC_DIR:-$repo}
build=${BUILD_DIR:-$repo/build-fuzz}
targets=("$@")
all=(fuzz_cbor fuzz_cose_manifest fuzz_eventlog fuzz_guest_manifest fuzz_launch_policy fuzz_quote
     fuzz_eventlog_appraiser fuzz_guest_appraiser fuzz_replay fuzz_appraise_eventlog fuzz_replay_diagnosis
     fuzz_reference_values fuzz_ek_certificate fuzz_enrol
     fuzz_sl_boot_params fuzz_guest_admission fuzz_hypercall fuzz_x86_decode fuzz_dma_devices fuzz_vtd fuzz_evidence_dump fuzz_json_fast)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
# The keys shared by the attestation fuzzers and their seeds (tests/fuzz/fuzz_state.hpp).
export REDOUBT_FUZZ_STATE=${REDOUBT_FUZZ_STATE:-$build/fuzz-state}

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$src}  # the checkout being built (SRC_DIR)
. "$repo/scripts/ccache.sh"  # `launcher`: the ccache arguments for CMake
CC=clang-14 CXX=clang++-14 cmake -S "$src" -B "$build" -G Ninja -DREDOUBT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
# Seed writers: fuzz_seeds (cbor, cose_manifest, eventlog), fuzz_pki_seeds (guest_manifest,
# launch_policy: signed by the PKI whose root fuzz_guest_manifest trusts, docs/pki.md §8),
# fuzz_quote_seeds (quote), fuzz_attest_seeds (the issue-16 targets).
need_pki=0
for t in "${targets[@]}"; do
  case $t in fuzz_guest_manifest | fuzz_launch_policy) need_pki=1 ;; esac
done
# The PKI state (root, leaf and owner keys) is written by the build of fuzz_guest_manifest
# (fuzz_pki_seeds --root-inc, next to pki_seed_root.inc), so build it whenever PKI seeds are needed.
pki=()
[ $need_pki = 1 ] && pki=(fuzz_pki_seeds fuzz_guest_manifest)
cmake --build "$build" ${JOBS:+-j"$JOBS"} --target fuzz_seeds fuzz_quote_seeds fuzz_attest_seeds "${pki[@]}" "${targets[@]}"

seeds=$build/fuzz-seeds
rm -rf "$seeds"
"$build"/tests/fuzz/fuzz_seeds "$seeds" >/dev/null
[ $need_pki = 1 ] && "$build"/tests/fuzz/fuzz_pki_seeds "$build"/tests/fuzz/gen/tests/fuzz "$seeds" >/dev/null
"$build"/tests/fuzz/fuzz_quote_seeds "$seeds" >/dev/null
"$build"/tests/fuzz/fuzz_attest_seeds "$seeds" >/dev/null

status=0
for t in "${targets[@]}"; do
  case $t in
    fuzz_cbor) sub=cbor ;;
    fuzz_cose_manifest) sub=cose_manifest ;;
    fuzz_eventlog) sub=eventlog ;;
    fuzz_guest_manifest) sub=guest_manifest ;;
    fuzz_launch_policy) sub=launch_policy ;;
    fuzz_quote) sub=quote ;;
    fuzz_appraise_eventlog) sub=eventlog_appraiser ;;  # the same input format as fuzz_eventlog_appraiser
    fuzz_replay_diagnosis) sub=replay ;;
    fuzz_vtd) sub=vtd; mkdir -p "$seeds/vtd" ;;  # no seed writer: it starts from the empty input
    fuzz_json_fast) sub=json_fast; mkdir -p "$seeds/json_fast"  # a verifier request body's shape
      printf '{"evidence": {"quote": "AAAA", "signature": "BBBB"}, "nonce": "0102"}' >"$seeds/json_fast/body" ;;
    fuzz_*) sub=${t#fuzz_}; [ -d "$seeds/$sub" ] || { echo "unknown target $t" >&2; exit 2; } ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  corpus=$build/fuzz-corpus/$t
  mkdir -p "$corpus" "$build/fuzz-artifacts/$t"
  log=$build/fuzz-artifacts/$t/run.log
  echo "== $t for ${secs}s (corpus $corpus, seeds $seeds/$sub)"
  # shellcheck disable=SC2086
  if nice -n "${FUZZ_NICE:-10}" "$build/tests/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 -max_len=8192 ${FUZZ_FLAGS:-} \
       -artifact_prefix="$build/fuzz-artifacts/$t/" "$corpus" "$seeds/$sub" >"$log" 2>&1; then
    echo "   ok: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions," \
         "$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}') exec/s," \
         "$(grep -E '^stat::new_units_added' "$log" | awk '{print $2}') new units, no crashes"
  else
    status=1
    echo "   FAILED: see $log; artifacts in $build/fuzz-artifacts/$t/"
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
  fi
done
exit $status
