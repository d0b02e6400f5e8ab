#!/usr/bin/env bash
# Every bench_* program shares one command line (bench/bench_cli.hpp): --help exits 0 with a
# usage line naming --json and --reps; an unknown option exits 2 naming it; a bad --reps exits 2.
set -uo pipefail
fail=0
for b in "$@"; do
  name=$(basename "$b")
  out=$("$b" --help 2>&1); rc=$?
  [[ $rc == 0 && $out == "usage: $name [--json] [--reps N]"* ]] || { echo "FAIL $name --help: rc=$rc: ${out:0:120}"; fail=1; }
  err=$("$b" --no-such-option 2>&1 >/dev/null); rc=$?
  [[ $rc == 2 && $err == *"unknown option --no-such-option"* ]] || { echo "FAIL $name unknown option: rc=$rc: $err"; fail=1; }
  err=$("$b" --reps 0 2>&1 >/dev/null); rc=$?
  [[ $rc == 2 && $err == *"--reps 0: expected"* ]] || { echo "FAIL $name --reps 0: rc=$rc: $err"; fail=1; }
  [[ $fail == 0 ]] && echo "ok $name"
done
exit $fail
