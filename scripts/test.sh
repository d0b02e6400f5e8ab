#!/usr/bin/env bash
# Set up, build, and run the whole test suite:
#   1. the freestanding build (sl.bin / hv.bin linked with -nostdlib),
#   2. every ctest test (unit, integration, attack scenarios, CLI end to end).
# With --sanitize (or REDOUBT_SANITIZE_PASS=1) the same suite then runs again
# under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (about
# twice the build time, so it is not part of the default CI run).
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=${REDOUBT_SANITIZE_PASS:-0}
[ "${1:-}" = "--sanitize" ] && SANITIZE=1
scripts/setup.sh
scripts/build.sh
cmake --build build --target freestanding
ctest --test-dir build --output-on-failure -j"$(nproc)"
if [ "$SANITIZE" = 1 ]; then
  echo "== ASan + UBSan =="
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DREDOUBT_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
fi
