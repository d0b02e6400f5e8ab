#!/usr/bin/env bash
# Side by side in one run (issue 13, throughput): bench_attest of a baseline build and of this tree,
# alternated per store, so both see the same machine and load.
#   bench/attest_compare.sh BASELINE_BENCH NEW_BENCH [N_SINGLE] [PER_CLIENT]
# BASELINE_BENCH: e.g. a build of main with this tree's bench/attest_bench.cpp (it measures server CPU
# the same way for both). REDOUBT_BENCH_HTTP_ONLY=1 is set: the in-process phase is skipped.
# LOGS (default "repeated first-seen"): which event-log modes of bench_attest to run (its 4th argument).
# STORES (default "sqlite postgresql"). EVIDENCE (default: bench_attest's own, "guests"): its 5th argument,
# "launch-only" for a launch without policy or guests (both builds must take it: a bench_attest built
# from this tree's bench/attest_bench.cpp). REPS (default 1): rounds of base/new alternation; with more
# than one, a table of the median and least server CPU per appraisal (and median p99) of each build
# closes the output — this machine's noise between runs (spells of +40 %) exceeds most single changes.
# PG_HUGEPAGES=N (as root): reserve N huge pages (vm.nr_hugepages) for the run, so both builds' PostgreSQL
# servers map their shared memory in huge pages as PostgreSQL's manual recommends (docs/operations.md,
# "Storage: SQLite or PostgreSQL"); the old setting is put back at the end. bench_attest prints which
# pages it got.
set -euo pipefail
base=$1 new=$2 n=${3:-300} per=${4:-50}
export REDOUBT_BENCH_HTTP_ONLY=1
results=$(mktemp)
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  rm -f "$results"
  [[ -n ${PG_HUGEPAGES:-} ]] && echo "$old_hugepages" > /proc/sys/vm/nr_hugepages
  return 0
}
trap cleanup EXIT
if [[ -n ${PG_HUGEPAGES:-} ]]; then
  echo "$PG_HUGEPAGES" > /proc/sys/vm/nr_hugepages || { echo "attest_compare.sh: cannot set vm.nr_hugepages (not root?)" >&2; exit 2; }
fi
echo "date: $(date -u '+%F %T UTC'); $(nproc) cores; evidence: ${EVIDENCE:-guests}; load average: $(cut -d' ' -f1-3 /proc/loadavg); vm.nr_hugepages=$(cat /proc/sys/vm/nr_hugepages)"
for store in ${STORES:-sqlite postgresql}; do
  for logs in ${LOGS:-repeated first-seen}; do
    for ((rep = 0; rep < ${REPS:-1}; rep++)); do
      for which in base new; do
        bin=$base; [[ $which == new ]] && bin=$new
        echo "=== $which ($bin) $store, $logs logs"
        out=$(nice -n 0 "$bin" "$n" "$per" "$store" "$logs" ${EVIDENCE:+"$EVIDENCE"} | grep -v '^machine:\|^evidence:')
        echo "$out"
        # "1 server thread" / "32 concurrent" lines give p99; the line after each gives server CPU, the
        # next one the crypto measured right then and server CPU as a multiple of it.
        echo "$out" | awk -v k="$store $logs $which" '
          /1 server thread/ {c="1"; match($0, /p99 [0-9.]+/); p[c]=substr($0, RSTART+4, RLENGTH-4)}
          /32 concurrent/ {c="32"; match($0, /p99 [0-9.]+/); p[c]=substr($0, RSTART+4, RLENGTH-4)}
          /^ *server CPU [0-9]/ {split($0, f, " "); cpu[c]=f[3]}
          /crypto now/ {match($0, /= [0-9.]+x/); print k, c, cpu[c], p[c], substr($0, RSTART+2, RLENGTH-3)}' >> "$results"
      done
    done
  done
done
if (( ${REPS:-1} > 1 )); then
  echo "=== ${REPS} rounds: store, logs, clients: server CPU per appraisal base -> new, the median and the least of the rounds;"
  echo "    the crypto multiple: server CPU / (ECDSA verify + sign measured right after the phase; the issue's goal is 4.0x)"
  echo "    (noise here only adds CPU time and comes in spells: the least is the steadier estimate)"
  sort "$results" | awk '
    function median(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { key = $1 " " $2 " " $4; cpu[key, $3] = cpu[key, $3] " " $5; p99[key, $3] = p99[key, $3] " " $6; x[key, $3] = x[key, $3] " " $7; keys[key] = 1 }
    function least(s,   a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
    END { for (k in keys) printf "%-26s median %4.0f -> %4.0f us, least %4.0f -> %4.0f us (p99 median %.1f -> %.1f ms; crypto multiple median %.1f -> %.1fx)\n", k, median(cpu[k, "base"]), median(cpu[k, "new"]), least(cpu[k, "base"]), least(cpu[k, "new"]), median(p99[k, "base"]), median(p99[k, "new"]), median(x[k, "base"]), median(x[k, "new"]) }' | sort
fi
