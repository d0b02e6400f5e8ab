#!/usr/bin/env bash
# Set up, build, and run the whole test suite:
#   1. the freestanding build (sl.bin / hv.bin linked with -nostdlib),
#   2. every ctest test (unit, integration, attack scenarios, CLI end to end),
#   3. the libFuzzer targets built (not run) with clang-14 in build-fuzz/, so a
#      fuzzer that stops compiling or linking fails CI (issue 16 item 9;
#      scripts/fuzz.sh runs them; REDOUBT_SKIP_FUZZ_BUILD=1 skips this step).
# With --sanitize (or REDOUBT_SANITIZE_PASS=1) the same suite then runs again
# under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (a Debug
# build; see docs/running.md "Sanitizer pass": a report exits 86, never 1).
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=${REDOUBT_SANITIZE_PASS:-0}
[ "${1:-}" = "--sanitize" ] && SANITIZE=1
. scripts/ccache.sh  # `launcher`: the ccache arguments for CMake
scripts/setup.sh
scripts/build.sh "${launcher[@]}"
cmake --build build --target freestanding
ctest --test-dir build --output-on-failure -j"$(nproc)"
if [ "${REDOUBT_SKIP_FUZZ_BUILD:-0}" != 1 ]; then
  echo "== fuzzers (build only, clang-14, build-fuzz/) =="
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DREDOUBT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target fuzzers
fi
if [ "$SANITIZE" = 1 ]; then
  echo "== ASan + UBSan =="
  # The sanitizer options (exitcode=86, halt_on_error) are in each test's ctest
  # environment (CMake REDOUBT_SANITIZER_ENV), so a plain ctest in build-asan/ has them too.
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DREDOUBT_SANITIZE=ON "${launcher[@]}"
  cmake --build build-asan --target freestanding
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
fi
