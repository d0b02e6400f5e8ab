#!/usr/bin/env bash
# Side by side in one run (issue 13, throughput): bench_attest of a baseline build and of this tree,
# alternated per store, so both see the same machine and load.
#   bench/attest_compare.sh BASELINE_BENCH NEW_BENCH [N_SINGLE] [PER_CLIENT]
# BASELINE_BENCH: e.g. a build of main with this tree's bench/attest_bench.cpp (it measures server CPU
# the same way for both). REDOUBT_BENCH_HTTP_ONLY=1 is set: the in-process phase is skipped.
# LOGS (default "repeated first-seen"): which event-log modes of bench_attest to run (its 4th argument).
set -euo pipefail
base=$1 new=$2 n=${3:-300} per=${4:-50}
export REDOUBT_BENCH_HTTP_ONLY=1
echo "date: $(date -u '+%F %T UTC'); $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for store in sqlite postgresql; do
  for logs in ${LOGS:-repeated first-seen}; do
    for which in base new; do
      bin=$base; [[ $which == new ]] && bin=$new
      echo "=== $which ($bin) $store, $logs logs"
      nice -n 0 "$bin" "$n" "$per" "$store" "$logs" | grep -v '^machine:\|^evidence:'
    done
  done
done
