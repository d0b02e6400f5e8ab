#!/usr/bin/env bash
# Set up, build, and run the whole test suite:
#   1. the freestanding build (sl.bin / hv.bin linked with -nostdlib),
#   2. every ctest test (unit, integration, attack scenarios, CLI end to end),
#   3. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#      (skip with REDOUBT_SKIP_SANITIZE=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cmake --build build --target freestanding
ctest --test-dir build --output-on-failure -j"$(nproc)"
if [ "${REDOUBT_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan + UBSan =="
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DREDOUBT_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
fi
